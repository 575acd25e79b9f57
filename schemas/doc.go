// Package schemas holds stockledger's Avro schemas and the codecs between
// wire bytes (or JSON lines) and ledger types.
//
// The model. Every message on a topic is Avro single-object encoded: the
// marker 0xC3 0x01, the 8-byte little-endian CRC-64-AVRO (Rabin)
// fingerprint of the writer schema's Parsing Canonical Form, then the
// body. Any Avro library can decode a message by looking its fingerprint
// up. Each event type has its own record schema (events/<type>.avsc,
// namespace stockledger.events); the type is the record's name, not a
// field. The outputs are stockledger.ChannelStockUpdate, stockledger.Alert,
// stockledger.DeadLetter, stockledger.HoldResult and
// stockledger.ListingBinding (the listings topic). All .avsc files are
// embedded; they are the current ("reader") versions.
//
// Evolution. A field added to a schema is optional (["null", T], default
// null) so that what older writers wrote still decodes; an output's codes
// (an alert's kind, a dead letter's reason, a hold result's status) are
// strings, not enums, so a code added later reaches readers of older
// versions instead of failing their decode. Where an event may name a
// channel's listing_sku in place of its sku (order, order_cancelled,
// pos_sale, return, hold, hold_released), sku is ["null", "string"]: the
// writing tools resolve listings before the topic, and an event that
// reached it unresolved must still be expressible, to become a dead letter
// (unresolved_listing) rather than a write error.
//
// Schema registry mode frames the same body in the Confluent wire format
// instead: the byte 0x00, the writer schema's id in a Confluent-compatible
// schema registry (4 bytes, big-endian), then the body. Readers accept both
// framings, told apart by the first byte; a [Framing] (from
// [RegistryClient.Register]) writes the Confluent one, and a nil *Framing
// single-object encoding. A Registry given a [SchemaLookup]
// ([Registry.UseSchemaLookup]) asks the schema registry for an id it has
// not seen once, then keeps the answer; an id the registry does not have
// is ReasonUnknownSchema, a registry that cannot be asked is an operating
// error, returned by [Registry.DecodeEvent] and [Decoder.Decode] beside
// the reason. Subjects: see confluent.go.
//
// A [Registry] holds every schema version messages may be written with,
// by fingerprint: the current ones and any added with [Registry.Register].
// Decoding uses the writer's version and maps its fields by name onto the
// ledger type: writer fields the current schema lacks are skipped, fields
// the writer lacks take the current schema's default (null is absent).
// That resolution is compiled once per writer version into a small program
// of field decoders that write straight into a reused ledger.Event, so the
// hot path ([Decoder.Decode]) allocates nothing but the event's own
// strings, and not even those for the low-cardinality codes it interns.
//
// Outputs are encoded by hand-written appenders ([AppendUpdate],
// [AppendAlert], [AppendDeadLetter], [AppendHoldResult],
// [AppendListingBinding]) whose bytes the
// tests hold identical to goavro's. The JSON Lines form ([ParseEventJSON], [AppendEventJSON],
// ...) is for people and tools; its rules are in ledger/DECISIONS.md.
//
// Decoding reports bad input as a ledger.Reason (undecodable,
// unknown_schema, unknown_type, missing_field, invalid_field), never as a
// Go error: a bad event is a dead letter, not an operating failure. It does
// not run ledger.Validate; callers do.
package schemas
