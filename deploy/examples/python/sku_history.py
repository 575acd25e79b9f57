#!/usr/bin/env python3
"""Rebuild one SKU's history from stockledger's Kafka topics, in Python.

Reads, with confluent-kafka, the SKU's partition of the events topic, the
dead letters of that SKU, the channel stock updates of the SKU and the
results of its holds; decodes every message (Avro single-object encoding)
with fastavro and the schemas in the repository's schemas/ directory; and
prints one row per event of the SKU: what the ledger did with it (applied,
duplicate, refused and why), the SKU's version and quantities per location
after it, each channel's available as the updates topic published it, and
the hold results it caused. A clock event is a row of the SKU when it
expired some of the SKU's holds.

    python sku_history.py --brokers 127.0.0.1:9092 TEE-RED-M
    python sku_history.py --brokers 127.0.0.1:9092 --format jsonl TEE-RED-M

How it works, and what it assumes (README.md says more):

- Single-object encoding: C3 01, the 8-byte CRC-64-AVRO fingerprint of the
  writer schema's Parsing Canonical Form (little-endian), then the Avro body.
  fastavro computes the same fingerprints (schemas/testdata/
  fastavro_fingerprints.txt pins them), so a message is decoded with the
  schema whose fingerprint its header carries.
- Events are keyed by SKU with Kafka's default partitioner (murmur2), so the
  SKU's events are in one partition; murmur2 is reimplemented below, since
  librdkafka's default partitioner is a different hash.
- Which events were refused comes from the dead-letter topic (each dead
  letter names the topic, partition and offset of its event); an event whose
  event_id was already applied to the SKU is a duplicate (the ledger forgets
  ids after 7 days of event time; this script never does). The quantities
  then follow the spec's table of effects for the applied events.
- An event of the SKU whose record key is not the SKU is refused
  (wrong_partition) even when its dead letter, keyed by that key, is in a
  dead-letter partition not read here.
- Channel values are not recomputed: each row carries the values the
  updates topic holds for that version and carries them forward. The
  processor coalesces several changes of one channel inside a batch into the
  last, so a row inside a batch may show a value published a little later.
- Holds are not decided here. Whether a hold is granted, and how many units,
  depends on its channel's available-to-sell just before it (channel and
  per-SKU policies, every location, the unassigned units of overlapping
  channels): this script takes the ledger's decision from the hold's result
  on the hold-results topic (keyed sku/hold_id, matched to the hold event by
  cause_event_id and version). Granted units are reserved at the hold's
  location, or are unassigned units of its channel (the SKU's unassigned is
  the sum over channels); hold_released, an order naming the open hold
  (converted) and expiry release them. Which holds a clock event expired
  also comes from the hold results (those whose cause is the clock); the
  clock's row is at its offset in the SKU's partition. Hold results are
  published one per change (again after a crash: repeats carry the same
  cause and version, so they group with the first); a hold whose decision
  is missing anyway (a topic compacted since) is taken as granting nothing
  (with a warning), so rows up to the hold's close may be off.
"""

import argparse
import glob
import io
import json
import os
import sys
import uuid

import fastavro
from confluent_kafka import Consumer, KafkaError, TopicPartition

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_SCHEMAS = os.path.normpath(os.path.join(HERE, "..", "..", "..", "schemas"))


# ---- Avro single-object decoding ----------------------------------------


def load_schemas(schema_dir):
    """Returns {fingerprint hex (wire order): (name, parsed schema)}."""
    out = {}
    files = glob.glob(os.path.join(schema_dir, "events", "*.avsc"))
    files += [os.path.join(schema_dir, f) for f in ("channel_stock_update.avsc", "alert.avsc", "dead_letter.avsc", "hold_result.avsc")]
    for path in files:
        with open(path) as f:
            parsed = fastavro.parse_schema(json.load(f), named_schemas={})
        pcf = fastavro.schema.to_parsing_canonical_form(parsed)
        fp = fastavro.schema.fingerprint(pcf, "CRC-64-AVRO")
        name = os.path.splitext(os.path.basename(path))[0]
        out[fp] = (name, parsed)
    return out


def decode(schemas, value, errors="strict"):
    """Decodes a single-object encoded message: (schema name, record), or
    (None, None) when it is not one (a dead letter's undecodable bytes).
    errors is how strings that are not UTF-8 are handled (bytes.decode's
    errors): stockledger's outputs never hold one, events may."""
    if value is None or len(value) < 10 or value[:2] != b"\xc3\x01":
        return None, None
    entry = schemas.get(value[2:10].hex())
    if entry is None:
        return None, None
    name, schema = entry
    return name, fastavro.schemaless_reader(io.BytesIO(value[10:]), schema, None, handle_unicode_errors=errors)


def decode_event(schemas, value):
    """Decodes an event as decode does: (schema name, record, exact). An
    upstream producer may write strings that are not UTF-8 (the ledger
    refuses such a sku or event_id); such an event is decoded with U+FFFD
    for the bad bytes and exact False, since its sku no longer names the
    SKU exactly (PROD-\\xff would read as the SKU PROD-\\ufffd)."""
    try:
        return decode(schemas, value) + (True,)
    except UnicodeDecodeError:
        return decode(schemas, value, "replace") + (False,)


# ---- Kafka --------------------------------------------------------------


def murmur2(data):
    """Kafka's murmur2 (Java client's Utils.murmur2), as an unsigned 32-bit int."""
    m, r = 0x5BD1E995, 24
    length = len(data)
    h = (0x9747B28C ^ length) & 0xFFFFFFFF
    for i in range(0, length - length % 4, 4):
        k = data[i] | data[i + 1] << 8 | data[i + 2] << 16 | data[i + 3] << 24
        k = (k * m) & 0xFFFFFFFF
        k ^= k >> r
        k = (k * m) & 0xFFFFFFFF
        h = (h * m) & 0xFFFFFFFF
        h ^= k
    tail, rest = length & ~3, length % 4
    if rest == 3:
        h ^= data[tail + 2] << 16
    if rest >= 2:
        h ^= data[tail + 1] << 8
    if rest >= 1:
        h ^= data[tail]
        h = (h * m) & 0xFFFFFFFF
    h ^= h >> 13
    h = (h * m) & 0xFFFFFFFF
    h ^= h >> 15
    return h


def partition_of(key, partitions):
    """The partition Kafka's default partitioner gives key."""
    return (murmur2(key.encode()) & 0x7FFFFFFF) % partitions


class Reader:
    """Reads whole partitions to their current end, without a group."""

    def __init__(self, brokers):
        self.consumer = Consumer({
            "bootstrap.servers": brokers,
            "group.id": "stockledger-example-" + uuid.uuid4().hex,  # never joined: partitions are assigned
            "enable.auto.commit": False,
            "enable.partition.eof": True,
            "isolation.level": "read_committed",  # as the processor reads
        })

    def partitions(self, topic):
        md = self.consumer.list_topics(topic, timeout=10)
        t = md.topics.get(topic)
        if t is None or t.error is not None or not t.partitions:
            raise SystemExit(f"topic {topic} not found (is --topic-prefix right?)")
        return len(t.partitions)

    def read(self, topic, partitions):
        """Yields every message of the partitions, in offset order per partition."""
        pending = set()
        tps = []
        for p in partitions:
            low, high = self.consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)
            if high > low:
                pending.add(p)
                tps.append(TopicPartition(topic, p, low))
        if not tps:
            return
        self.consumer.assign(tps)
        idle = 0
        while pending:
            msg = self.consumer.poll(1.0)
            if msg is None:
                idle += 1
                if idle > 30:
                    raise SystemExit(f"no message from {topic} for 30s")
                continue
            idle = 0
            if msg.error():
                if msg.error().code() == KafkaError._PARTITION_EOF:
                    pending.discard(msg.partition())
                    continue
                raise SystemExit(f"reading {topic}: {msg.error()}")
            yield msg
        self.consumer.unassign()

    def close(self):
        self.consumer.close()


# ---- the SKU's ledger ---------------------------------------------------


class SKU:
    """One SKU's quantities, following the spec's table of effects for the
    events the ledger applied (refusals come from the dead letters). What a
    hold was granted comes from its result on the hold-results topic."""

    def __init__(self):
        self.version = 0
        self.unassigned = {}  # channel -> units reserved without a location
        self.loc = {}  # location -> {on_hand, reserved, unavailable, incoming}
        self.named = set()  # the locations the SKU has
        self.safety = {}
        self.pos, self.orders, self.transfers = {}, {}, {}
        self.holds = {}  # hold_id -> {channel, location, granted}; open while granted > 0

    def at(self, code, name=True):
        if name:
            self.named.add(code)
        return self.loc.setdefault(code, {"on_hand": 0, "reserved": 0, "unavailable": 0, "incoming": 0})

    def reserve(self, channel, location, qty):
        """reserved(location) += qty, or unassigned(channel) += qty without a
        location (a negative qty releases)."""
        if location is None:
            self.unassigned[channel] = self.unassigned.get(channel, 0) + qty
        else:
            self.at(location)["reserved"] += qty

    def release(self, order_id, qty):
        o = self.orders[order_id]
        r = o["open"] if qty is None else min(qty, o["open"])
        o["open"] -= r
        self.reserve(o["channel"], o["location"], -r)

    def close_hold(self, hold_id):
        """Releases what an open hold reserves and closes it (released,
        converted or expired); a closed or unknown hold releases nothing."""
        h = self.holds.get(hold_id)
        if h and h["granted"] > 0:
            self.reserve(h["channel"], h["location"], -h["granted"])
            h["granted"] = 0

    def expire(self, results):
        """A clock event that expired holds of the SKU (its hold results)."""
        self.version += 1
        for r in results:
            self.close_hold(r["hold_id"])

    def apply(self, t, e, decision=None):
        """Applies event e of type t; decision is a hold's result (None when
        the topic has none: nothing granted is assumed)."""
        self.version += 1
        if t == "purchase_order":
            self.at(e["location"])["incoming"] += e["qty"]
            self.pos[e["po_id"]] = {"location": e["location"], "expected": e["qty"], "closed": False}
        elif t == "receipt":
            self.at(e["location"])["on_hand"] += e["qty"]
            line = self.pos.get(e["po_id"]) if e.get("po_id") is not None else None
            if line and not line["closed"]:
                got = min(e["qty"], line["expected"])
                self.at(line["location"])["incoming"] -= got
                line["expected"] -= got
        elif t == "purchase_order_closed":
            line = self.pos[e["po_id"]]
            self.at(line["location"])["incoming"] -= line["expected"]
            line["expected"], line["closed"] = 0, True
        elif t == "order":
            if e.get("hold_id") is not None:
                self.close_hold(e["hold_id"])  # converted: the order takes its place
            self.reserve(e["channel"], e.get("location"), e["qty"])
            self.orders[e["order_id"]] = {"channel": e["channel"], "location": e.get("location"), "open": e["qty"]}
        elif t == "order_cancelled":
            self.release(e["order_id"], e.get("qty"))
        elif t == "shipment":
            self.at(e["location"])["on_hand"] -= e["qty"]
            if e.get("order_id") in self.orders:
                self.release(e["order_id"], e["qty"])
        elif t == "pos_sale":
            self.at(e["location"])["on_hand"] -= e["qty"]
        elif t == "return":
            l = self.at(e["location"])
            l["on_hand"] += e["qty"]
            if e.get("resellable") is False:
                l["unavailable"] += e["qty"]
        elif t == "adjustment":
            l = self.at(e["location"])
            l["on_hand"] += e["on_hand_delta"]
            l["unavailable"] += e.get("unavailable_delta") or 0
        elif t == "stock_count":
            self.at(e["location"])["on_hand"] = e["counted"]
        elif t == "transfer_out":
            self.at(e["location"])["on_hand"] -= e["qty"]
            self.at(e["to_location"])["incoming"] += e["qty"]
            self.transfers[e["transfer_id"]] = {"to": e["to_location"], "expected": e["qty"]}
        elif t == "transfer_in":
            tr = self.transfers[e["transfer_id"]]
            got = min(e["qty"], tr["expected"])
            l = self.at(tr["to"])
            l["on_hand"] += e["qty"]
            l["incoming"] -= got
            tr["expected"] -= got
        elif t == "transfer_closed":
            tr = self.transfers[e["transfer_id"]]
            self.at(tr["to"])["incoming"] -= tr["expected"]
            tr["expected"] = 0  # a later transfer_in adds on hand, expecting nothing
        elif t == "sku_policy":
            self.safety = dict(e["safety_stock"])  # reorder_point, lead_time_days: alerts only
        elif t == "hold":
            # Granted units as the ledger decided them (see the module's
            # docstring); a refused hold reserves nothing and names no location.
            granted = decision["granted"] if decision else 0
            self.holds[e["hold_id"]] = {"channel": e["channel"], "location": e.get("location"), "granted": granted}
            if granted > 0:
                self.reserve(e["channel"], e.get("location"), granted)
        elif t == "hold_released":
            self.close_hold(e["hold_id"])
        # listing, sku_channel_policy: the version only (channel values come
        # from the updates topic).

    def total_unassigned(self):
        return sum(self.unassigned.values())

    def locations(self):
        out = {}
        for code in sorted(self.named):
            q = dict(self.loc[code])
            q["safety_stock"] = self.safety.get(code, 0)
            q["available"] = q["on_hand"] - q["reserved"] - q["unavailable"] - q["safety_stock"]
            out[code] = q
        return out


OVERRIDE_FIELDS = ("exclude", "locations", "buffer", "share_pct", "max_qty", "end_at")


def history(brokers, prefix, sku, schemas):
    events_topic, updates_topic, dead_topic = prefix + ".events", prefix + ".updates", prefix + ".dead-letters"
    holds_topic = prefix + ".hold-results"
    reader = Reader(brokers)
    try:
        n = reader.partitions(events_topic)
        part = partition_of(sku, n)

        # 1. The SKU's events, and the channel policies and clocks of its
        # partition.
        records = []
        channels, hold_ids = set(), set()
        for msg in reader.read(events_topic, [part]):
            name, ev, exact = decode_event(schemas, msg.value())
            if name in ("channel_policy", "clock"):
                if name == "channel_policy":
                    channels.add(ev["channel"])
                records.append((msg.offset(), msg.key(), name, ev))
            elif exact and ev is not None:
                if ev.get("sku") == sku:
                    records.append((msg.offset(), msg.key(), name, ev))
                    if name == "sku_channel_policy":
                        channels.add(ev["channel"])  # an override gives the SKU its channel
                    elif name == "hold":
                        hold_ids.add(ev["hold_id"])
            elif msg.key() == sku.encode():  # not decoded, or not exactly: its key says
                records.append((msg.offset(), msg.key(), name, ev))

        # 2. Dead letters of the SKU's events (keyed as the events were).
        refused = {}
        dn = reader.partitions(dead_topic)
        for msg in reader.read(dead_topic, [partition_of(sku, dn)]):
            _, d = decode(schemas, msg.value())
            if d and d["topic"] == events_topic and d["partition"] == part:
                refused[d["offset"]] = d["reason"]

        # 3. Updates of the SKU on each channel (keyed channel/sku; a
        # listing's, keyed channel/sku/listing_sku, are not read).
        un = reader.partitions(updates_topic)
        updates = {}  # (cause_event_id, version) -> [update]
        parts = sorted({partition_of(c + "/" + sku, un) for c in channels})
        for msg in reader.read(updates_topic, parts):
            _, u = decode(schemas, msg.value())
            if u and u["sku"] == sku and u.get("listing_sku") is None:
                updates.setdefault((u["cause_event_id"], u["version"]), []).append(u)

        # 4. The results of the SKU's holds (keyed sku/hold_id): each hold's
        # decision, and what closed it (a release, an order, a clock).
        hn = reader.partitions(holds_topic) if hold_ids else 0
        hold_results = {}  # (cause_event_id, version) -> [hold result]
        parts = sorted({partition_of(sku + "/" + h, hn) for h in hold_ids})
        for msg in reader.read(holds_topic, parts):
            _, h = decode(schemas, msg.value())
            if h and h["sku"] == sku and h["hold_id"] in hold_ids:
                hold_results.setdefault((h["cause_event_id"], h["version"]), []).append(h)
        for rs in hold_results.values():
            rs.sort(key=lambda h: (h["expires_at"], h["hold_id"]))  # a clock expires them in this order
    finally:
        reader.close()

    # 5. Fold.
    state, applied_ids, policy_ids, shown = SKU(), set(), set(), {}
    policy_channels = set()  # channels with an applied channel_policy so far
    rows = []
    for offset, key, name, ev in records:
        row = {"partition": part, "offset": offset, "event_id": ev and ev["event_id"], "type": name}
        results = []
        if name == "channel_policy":
            if offset in refused or ev["event_id"] in policy_ids:
                continue
            policy_ids.add(ev["event_id"])
            policy_channels.add(ev["channel"])
            if state.version == 0:
                continue  # it reaches only SKUs the ledger already knows
            state.version += 1
            row["outcome"] = "applied"
        elif name == "clock":
            # A clock is the SKU's row when it expired some of its holds:
            # the SKU's hold results name it as their cause, at the next version.
            results = hold_results.get((ev["event_id"], state.version + 1), [])
            if not results:
                continue
            state.expire(results)
            row["outcome"] = "applied"
        elif offset in refused:
            row["outcome"], row["reason"] = "refused", refused[offset]
        elif ev is not None and key != sku.encode():
            row["outcome"], row["reason"] = "refused", "wrong_partition"  # its dead letter is keyed by that key
        elif ev["event_id"] in applied_ids:
            row["outcome"] = "duplicate"
        else:
            applied_ids.add(ev["event_id"])
            results = hold_results.get((ev["event_id"], state.version + 1), [])
            decision = None
            if name == "hold":  # what the ledger granted: the hold's result
                decision = next((h for h in results if h["hold_id"] == ev["hold_id"]), None)
                if decision is None:
                    print(f"warning: {holds_topic} has no decision of hold {ev['hold_id']} (event {ev['event_id']}):"
                          " taken as granting nothing", file=sys.stderr)
            state.apply(name, ev, decision)
            row["outcome"] = "applied"
        row["version"] = state.version
        row["occurred_at"] = ev["occurred_at"].isoformat() if ev else None
        row["unassigned"] = state.total_unassigned()
        row["locations"] = state.locations()
        got = updates.get((row["event_id"], state.version), []) if row["outcome"] == "applied" else []
        for u in got:
            shown[u["channel"]] = u["available"]
        if (name == "sku_channel_policy" and row["outcome"] == "applied" and ev["channel"] not in policy_channels
                and all(ev.get(f) is None for f in OVERRIDE_FIELDS)):
            shown.pop(ev["channel"], None)  # override removed: its 0 went out once, the channel is no longer the SKU's
        row["updates"] = [{"channel": u["channel"], "available": u["available"], "previous": u["previous"], "version": u["version"]} for u in got]
        row["channels"] = dict(sorted(shown.items()))
        row["hold_results"] = [hold_json(h) for h in results]
        rows.append(row)
    return rows


def hold_json(h):
    """A hold result as JSON: its record, times in RFC 3339."""
    out = dict(h)
    out["expires_at"] = h["expires_at"].isoformat()
    out["occurred_at"] = h["occurred_at"].isoformat()
    return out


def print_table(rows, out):
    out.write("# location cells: on_hand/reserved/unavailable/incoming/safety_stock=available; hold results: granted/requested\n")
    for r in rows:
        locs = " ".join(
            f"{c}:{q['on_hand']}/{q['reserved']}/{q['unavailable']}/{q['incoming']}/{q['safety_stock']}={q['available']}"
            for c, q in r["locations"].items())
        chans = " ".join(f"{c}={v}" for c, v in r["channels"].items())
        outcome = r["outcome"] + (" " + r["reason"] if r.get("reason") else "")
        holds = "".join(f" | hold {h['hold_id']} {h['status']} {h['granted']}/{h['requested']}" for h in r["hold_results"])
        out.write(f"{r['offset']:>8} {r['type'] or '?':<22} {r['event_id'] or '-':<28} {outcome:<28} v{r['version']:<5} "
                  f"unassigned={r['unassigned']} {locs} | {chans}{holds}\n")


def main():
    ap = argparse.ArgumentParser(description="Rebuild one SKU's history from stockledger's topics.")
    ap.add_argument("sku")
    ap.add_argument("--brokers", default=os.environ.get("STOCKLEDGER_BROKERS", "127.0.0.1:9092"))
    ap.add_argument("--topic-prefix", default=os.environ.get("STOCKLEDGER_TOPIC_PREFIX", "stockledger"))
    ap.add_argument("--schemas", default=DEFAULT_SCHEMAS, help="the repository's schemas/ directory")
    ap.add_argument("--format", choices=("table", "jsonl"), default="table")
    args = ap.parse_args()
    rows = history(args.brokers, args.topic_prefix, args.sku, load_schemas(args.schemas))
    if args.format == "jsonl":
        for r in rows:
            sys.stdout.write(json.dumps(r) + "\n")
    else:
        print_table(rows, sys.stdout)
    if not rows:
        print(f"no event of {args.sku}", file=sys.stderr)


if __name__ == "__main__":
    main()
