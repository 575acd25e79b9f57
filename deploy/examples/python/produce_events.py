#!/usr/bin/env python3
"""Write events to stockledger's events topic from Python, as an upstream
system would: confluent-kafka (librdkafka) and fastavro.

Reads events in the spec's JSON Lines form (one object a line) and writes
each one Avro single-object encoded (C3 01, the writer schema's CRC-64-AVRO
fingerprint, the body) with the repository's schemas:

    python produce_events.py --brokers 127.0.0.1:9092 < events.jsonl

Two things a producer must get right, or the ledger dead-letters the event
(`wrong_partition`) instead of folding it:

- The record key is the event's `sku`, and the partition is Kafka's Java
  default: murmur2 of the key. librdkafka's default partitioner
  (`consistent_random`, crc32) puts most SKUs elsewhere, so this script sets
  `"partitioner": "murmur2_random"` (librdkafka's name for the Java one).
  `--partitioner` exists to show the difference; leave it alone otherwise.
- `channel_policy` events belong to every partition: they are written once
  to each, without a key.
"""

import argparse
import datetime
import glob
import io
import json
import os
import sys

import fastavro
from confluent_kafka import Producer

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_SCHEMAS = os.path.normpath(os.path.join(HERE, "..", "..", "..", "schemas"))


def load_event_schemas(schema_dir):
    """Returns {event type: (parsed schema, single-object header)}."""
    out = {}
    for path in glob.glob(os.path.join(schema_dir, "events", "*.avsc")):
        with open(path) as f:
            parsed = fastavro.parse_schema(json.load(f), named_schemas={})
        pcf = fastavro.schema.to_parsing_canonical_form(parsed)
        fp = fastavro.schema.fingerprint(pcf, "CRC-64-AVRO")  # hex, wire (little-endian) order
        out[os.path.splitext(os.path.basename(path))[0]] = (parsed, b"\xc3\x01" + bytes.fromhex(fp))
    return out


def to_record(event, schema):
    """The Avro record of a JSON event: occurred_at as a datetime (the
    schema's timestamp-micros), fields the schema lacks dropped."""
    rec = {}
    for field in schema["fields"]:
        name = field["name"]
        value = event.get(name)
        if name == "occurred_at" and isinstance(value, str):
            value = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
        rec[name] = value
    return rec


def encode(schemas, event):
    """Single-object encoding of event; raises ValueError for a line the
    schemas cannot carry."""
    entry = schemas.get(event.get("type"))
    if entry is None:
        raise ValueError(f"unknown type {event.get('type')!r}")
    schema, header = entry
    buf = io.BytesIO()
    buf.write(header)
    fastavro.schemaless_writer(buf, schema, to_record(event, schema))
    return buf.getvalue()


def main():
    ap = argparse.ArgumentParser(description="Write JSON Lines events to stockledger's events topic.")
    ap.add_argument("--brokers", default=os.environ.get("STOCKLEDGER_BROKERS", "127.0.0.1:9092"))
    ap.add_argument("--topic-prefix", default=os.environ.get("STOCKLEDGER_TOPIC_PREFIX", "stockledger"))
    ap.add_argument("--schemas", default=DEFAULT_SCHEMAS, help="the repository's schemas/ directory")
    ap.add_argument("--partitioner", default="murmur2_random",
                    help="librdkafka partitioner; murmur2_random is Kafka's Java default, the one stockledger expects")
    args = ap.parse_args()
    topic = args.topic_prefix + ".events"
    schemas = load_event_schemas(args.schemas)
    producer = Producer({
        "bootstrap.servers": args.brokers,
        "partitioner": args.partitioner,
        "enable.idempotence": True,  # retries never duplicate or reorder a SKU's events
    })
    md = producer.list_topics(topic, timeout=10)
    if topic not in md.topics or md.topics[topic].error is not None:
        raise SystemExit(f"topic {topic} not found (is --topic-prefix right?)")
    partitions = len(md.topics[topic].partitions)
    errors = []

    def delivered(err, msg):
        if err is not None:
            errors.append(str(err))

    for n, line in enumerate(sys.stdin.buffer, 1):
        line = line.strip()
        if not line or line.startswith(b"#"):
            continue
        try:
            event = json.loads(line)
            value = encode(schemas, event)
        except (ValueError, TypeError, KeyError) as e:
            raise SystemExit(f"line {n}: {e}")
        if event["type"] == "channel_policy":
            for p in range(partitions):
                producer.produce(topic, value=value, partition=p, on_delivery=delivered)
        else:
            producer.produce(topic, key=event["sku"].encode(), value=value, on_delivery=delivered)
        producer.poll(0)
    if producer.flush(30) != 0 or errors:
        raise SystemExit(f"not every event was written: {errors[:3]}")


if __name__ == "__main__":
    main()
