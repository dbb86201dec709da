package io.spinstream.schemas;

import org.apache.avro.Schema;
import org.apache.avro.SchemaCompatibility;
import org.apache.avro.generic.GenericData;
import org.apache.avro.generic.GenericDatumWriter;
import org.apache.avro.generic.GenericRecord;
import org.apache.avro.io.BinaryEncoder;
import org.apache.avro.io.DecoderFactory;
import org.apache.avro.io.EncoderFactory;
import org.apache.avro.specific.SpecificDatumReader;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/** Prompts written before multi-turn messages existed still read (BACKWARD), with no turns. */
class SchemaEvolutionTest {
    /** Prompt as it was before the messages field. */
    static final String PROMPT_V1 = """
            {"type": "record", "name": "Prompt", "namespace": "io.spinstream.schemas", "fields": [
              {"name": "prompt_id", "type": "string"}, {"name": "stream", "type": "string"},
              {"name": "prompt", "type": "string"}, {"name": "human_response", "type": "string"},
              {"name": "task", "type": {"type": "record", "name": "TaskMetadata", "fields": [
                {"name": "kind", "type": "string", "default": "open"}, {"name": "verifiable", "type": "boolean", "default": false},
                {"name": "suites", "type": {"type": "array", "items": "string"}, "default": []},
                {"name": "attributes", "type": {"type": "map", "values": "string"}, "default": {}}]},
               "default": {"kind": "open", "verifiable": false, "suites": [], "attributes": {}}},
              {"name": "created_at", "type": {"type": "long", "logicalType": "timestamp-millis"}, "default": 0}]}
            """;

    @Test
    void aPromptWrittenBeforeMessagesReadsWithNoTurns() throws IOException {
        Schema old = new Schema.Parser().parse(PROMPT_V1);
        assertThat(SchemaCompatibility.checkReaderWriterCompatibility(Prompt.getClassSchema(), old).getType())
                .isEqualTo(SchemaCompatibility.SchemaCompatibilityType.COMPATIBLE);
        GenericRecord task = new GenericData.Record(old.getField("task").schema());
        task.put("kind", "addition");
        task.put("verifiable", true);
        task.put("suites", List.of());
        task.put("attributes", Map.of());
        GenericRecord r = new GenericData.Record(old);
        r.put("prompt_id", "p1");
        r.put("stream", "arith");
        r.put("prompt", "1+1=");
        r.put("human_response", "2");
        r.put("task", task);
        r.put("created_at", 0L);
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        BinaryEncoder enc = EncoderFactory.get().binaryEncoder(bytes, null);
        new GenericDatumWriter<GenericRecord>(old).write(r, enc);
        enc.flush();
        Prompt read = new SpecificDatumReader<Prompt>(old, Prompt.getClassSchema())
                .read(null, DecoderFactory.get().binaryDecoder(bytes.toByteArray(), null));
        assertThat(read.getPromptId()).isEqualTo("p1");
        assertThat(read.getHumanResponse()).as("a string written before it could be null").isEqualTo("2");
        assertThat(read.getMessages()).isEmpty();
        assertThat(read.getTask().getVerifiable()).isTrue();
    }
}
