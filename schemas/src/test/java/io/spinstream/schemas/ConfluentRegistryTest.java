package io.spinstream.schemas;

import io.spinstream.devstack.BrokerTest;
import io.spinstream.devstack.DevStack;
import org.apache.avro.Schema;
import org.apache.avro.SchemaBuilder;
import org.apache.avro.generic.GenericData;
import org.apache.avro.generic.GenericDatumWriter;
import org.apache.avro.generic.GenericRecord;
import org.apache.avro.io.BinaryEncoder;
import org.apache.avro.io.EncoderFactory;
import org.apache.kafka.common.errors.SerializationException;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import java.util.UUID;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The Confluent REST API client and serdes against the dev stack's real registry (Apicurio, through its
 * Confluent-compatible API): the same bytes as Apicurio's own serdes, subjects evolved compatibly and an
 * incompatible change refused with the registry's reason, schema resolution from an older writer, the caches
 * (no registry call per record) and the serializer's registration modes.
 */
@BrokerTest
class ConfluentRegistryTest {
    private static DevStack stack;
    private static String prefix;

    @BeforeAll
    static void stack(DevStack devStack) {
        stack = devStack;
        prefix = "conf-" + UUID.randomUUID().toString().substring(0, 8);
    }

    private static Prompt prompt(String id) {
        return Prompt.newBuilder().setPromptId(id).setStream("s").setPrompt("12+30=").setHumanResponse("42")
                .setTask(TaskMetadata.newBuilder().setKind("addition").setVerifiable(true).build())
                .setCreatedAt(Instant.ofEpochMilli(1_700_000_000_000L)).build();
    }

    @Test
    void theConfluentSerdesWriteTheBytesOfApicuriosOwnAndReadThem() {
        Topic<String, Prompt> confluent = new Topics(prefix, Topics.Layout.LOCAL, new AvroSerdes(RegistryAccess.of(stack.registryUrl())))
                .prompts("same");
        Topic<String, Prompt> apicurio = new Topics(prefix, Topics.Layout.LOCAL, new AvroSerdes(RegistryAccess.apicurio(stack.apicurioUrl())))
                .prompts("same");
        byte[] viaApicurio = apicurio.serializeValue(prompt("p-1"));
        byte[] viaConfluent = confluent.serializeValue(prompt("p-1"));
        assertThat(viaConfluent).as("existing topics keep working: the same id and body").isEqualTo(viaApicurio);
        assertThat(confluent.deserializeValue(viaApicurio)).isEqualTo(prompt("p-1"));
        assertThat(apicurio.deserializeValue(viaConfluent)).isEqualTo(prompt("p-1"));
        int id = ByteBuffer.wrap(viaConfluent, 1, 4).getInt();
        assertThat(new ConfluentRegistryClient(RegistryAccess.of(stack.registryUrl())).schemaById(id)).isEqualTo(Prompt.getClassSchema());
    }

    @Test
    void aSubjectEvolvesCompatiblyAndAnIncompatibleChangeIsRefusedWithTheRegistrysReason() {
        ConfluentRegistryClient client = new ConfluentRegistryClient(RegistryAccess.of(stack.registryUrl()));
        String subject = prefix + ".evolving-value";
        Schema v1 = SchemaBuilder.record("Thing").namespace("t").fields().requiredString("a").endRecord();
        Schema v2 = SchemaBuilder.record("Thing").namespace("t").fields().requiredString("a").name("b").type().intType().intDefault(7)
                .endRecord();
        Schema broken = SchemaBuilder.record("Thing").namespace("t").fields().requiredInt("a").endRecord();
        client.setCompatibility(subject, "BACKWARD");
        assertThat(client.compatibility(subject)).isEqualTo("BACKWARD");
        int first = client.register(subject, v1);
        assertThat(client.isCompatible(subject, v2)).isTrue();
        int second = client.register(subject, v2);
        assertThat(second).isNotEqualTo(first);
        assertThat(client.latest(subject)).isEqualTo(new ConfluentRegistryClient.Registered(second, v2));
        assertThat(client.lookup(subject, v1)).contains(first);
        assertThat(client.isCompatible(subject, broken)).isFalse();
        assertThatThrownBy(() -> client.register(subject, broken)).isInstanceOf(SchemaRegistrar.IncompatibleSchemaException.class)
                .hasMessageContaining("the registry refused to register a schema under " + subject)
                .hasMessageMatching("(?s).*HTTP 409\\)$");
        assertThat(client.lookup(subject, broken)).isEmpty();
        assertThatThrownBy(() -> client.schemaById(987_654_321)).isInstanceOf(ConfluentRegistryClient.NotFound.class);
    }

    @Test
    void aRecordWrittenWithAnOlderSchemaIsReadAsTheCurrentClass() throws Exception {
        // The Prompt schema before `messages` was added (it has a default): what an older producer wrote.
        Schema current = Prompt.getClassSchema();
        List<Schema.Field> fields = current.getFields().stream().filter(f -> !f.name().equals("messages"))
                .map(f -> new Schema.Field(f, f.schema())).toList();
        Schema older = Schema.createRecord(current.getName(), current.getDoc(), current.getNamespace(), false, fields);
        Topic<String, Prompt> topic = new Topics(prefix, Topics.Layout.LOCAL, new AvroSerdes(stack.registryUrl())).prompts("older");
        int id = new ConfluentRegistryClient(RegistryAccess.of(stack.registryUrl())).register(topic.subject(), older);
        GenericRecord r = new GenericData.Record(older);
        Prompt p = prompt("old-1");
        for (Schema.Field f : older.getFields()) {
            r.put(f.name(), p.get(f.name()));
        }
        r.put("created_at", p.getCreatedAt().toEpochMilli()); // generic data writes the logical type's long
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.write(0);
        out.writeBytes(ByteBuffer.allocate(4).putInt(id).array());
        BinaryEncoder e = EncoderFactory.get().binaryEncoder(out, null);
        new GenericDatumWriter<GenericRecord>(older, GenericData.get()).write(r, e);
        e.flush();
        Prompt read = topic.deserializeValue(out.toByteArray());
        assertThat(read.getMessages()).isEmpty();
        assertThat(read.getPrompt()).isEqualTo("12+30=");
        assertThat(read).isEqualTo(prompt("old-1"));
        byte[] cut = java.util.Arrays.copyOf(out.toByteArray(), out.size() - 3);
        assertThatThrownBy(() -> topic.deserializeValue(cut)).isInstanceOf(SerializationException.class);
    }

    @Test
    void idsAndSchemasAreCachedSoRecordsFlowWhileTheRegistryIsDown() {
        Topic<String, Prompt> topic = new Topics(prefix, Topics.Layout.LOCAL, new AvroSerdes(stack.registryUrl())).prompts("cached");
        byte[] first = topic.serializeValue(prompt("c-0"));
        assertThat(topic.deserializeValue(first)).isEqualTo(prompt("c-0"));
        stack.registry().stopServer();
        try {
            for (int i = 1; i <= 100; i++) {
                byte[] bytes = topic.serializeValue(prompt("c-" + i));
                assertThat(topic.deserializeValue(bytes)).isEqualTo(prompt("c-" + i));
            }
            // A serde with empty caches must ask: the registry is down, which is transient.
            Topic<String, Prompt> fresh = new Topics(prefix, Topics.Layout.LOCAL, new AvroSerdes(new RegistryAccess(stack.registryUrl(),
                    RegistryAccess.Api.CONFLUENT, Optional.empty(), Optional.empty(), Optional.empty(), true, false))).prompts("cached");
            assertThatThrownBy(() -> fresh.deserializeValue(first)).isInstanceOf(RegistryUnavailableException.class)
                    .hasMessageContaining("cannot be reached");
        } finally {
            stack.registry().startServer();
        }
    }

    @Test
    void withoutAutoRegistrationTheSchemaMustBeThereAndLatestVersionWritesWithTheSubjectsNewest() {
        RegistryAccess noAuto = new RegistryAccess(stack.registryUrl(), RegistryAccess.Api.CONFLUENT, Optional.empty(), Optional.empty(),
                Optional.empty(), false, false);
        Topic<String, Prompt> topic = new Topics(prefix, Topics.Layout.LOCAL, new AvroSerdes(noAuto)).prompts("manual");
        assertThatThrownBy(() -> topic.serializeValue(prompt("m-1"))).isInstanceOf(SerializationException.class)
                .hasMessageContaining("is not registered under " + topic.subject()).hasMessageContaining("auto.register.schemas is off");
        int id = new SchemaRegistrar(noAuto).register(topic);
        byte[] bytes = topic.serializeValue(prompt("m-1"));
        assertThat(ByteBuffer.wrap(bytes, 1, 4).getInt()).isEqualTo(id);

        RegistryAccess latest = new RegistryAccess(stack.registryUrl(), RegistryAccess.Api.CONFLUENT, Optional.empty(), Optional.empty(),
                Optional.empty(), false, true);
        Topic<String, Prompt> byLatest = new Topics(prefix, Topics.Layout.LOCAL, new AvroSerdes(latest)).prompts("manual");
        assertThat(ByteBuffer.wrap(byLatest.serializeValue(prompt("m-2")), 1, 4).getInt()).isEqualTo(id);
        assertThat(byLatest.deserializeValue(byLatest.serializeValue(prompt("m-2")))).isEqualTo(prompt("m-2"));
        assertThatThrownBy(() -> new RegistryAccess("http://x", RegistryAccess.Api.CONFLUENT, Optional.empty(), Optional.empty(),
                Optional.empty(), true, true)).hasMessageContaining("use.latest.version needs auto.register.schemas off");
    }
}
