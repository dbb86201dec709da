"""Confluent's Python client on the other side of the wire (ConfluentPythonClientTest).

Registers the Prompt schema with confluent_kafka's SchemaRegistryClient, writes one Prompt in Confluent's wire
format (magic byte 0, 4-byte schema id, Avro binary by Apache Avro's Python library) and produces it with
confluent_kafka's Producer (librdkafka); then reads a record the Java serde wrote, its writer schema fetched by id.
Prints one JSON line: the schema id it registered and what it read.
"""
import datetime
import io
import json
import struct
import sys

import avro.io
import avro.schema
from confluent_kafka import Producer
from confluent_kafka.schema_registry import Schema, SchemaRegistryClient

url, bootstrap, topic, schema_file, java_hex = sys.argv[1:6]
text = open(schema_file).read()
client = SchemaRegistryClient({"url": url})
schema_id = client.register_schema(topic + "-value", Schema(text, "AVRO"))
schema = avro.schema.parse(text)
record = {
    "prompt_id": "py-1", "stream": "py", "prompt": "7+8=", "human_response": "15",
    "messages": [{"role": "user", "content": "7+8="}],
    "task": {"kind": "addition", "verifiable": True, "suites": [], "attributes": {"digits": "1"}},
    "created_at": datetime.datetime(2023, 11, 14, 22, 13, 20, tzinfo=datetime.timezone.utc),
}
buf = io.BytesIO()
buf.write(b"\x00")
buf.write(struct.pack(">I", schema_id))
avro.io.DatumWriter(schema).write(record, avro.io.BinaryEncoder(buf))
producer = Producer({"bootstrap.servers": bootstrap})
producer.produce(topic, key=b"py-1", value=buf.getvalue())
left = producer.flush(30)
if left:
    sys.exit("the producer could not deliver the record")

raw = bytes.fromhex(java_hex)
java_id = struct.unpack(">I", raw[1:5])[0]
writer = avro.schema.parse(client.get_schema(java_id).schema_str)
read = avro.io.DatumReader(writer, schema).read(avro.io.BinaryDecoder(io.BytesIO(raw[5:])))
print(json.dumps({"id": schema_id, "java_id": java_id, "java_prompt_id": read["prompt_id"], "java_answer": read["human_response"]}))
