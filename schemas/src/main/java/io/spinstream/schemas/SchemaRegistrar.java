package io.spinstream.schemas;

import org.apache.avro.Schema;


/**
 * Registers the catalogue's value schemas through the registry's Confluent API and pins
 * each subject's compatibility to BACKWARD, so that a consumer on the new schema can always read what
 * producers on the old one wrote. An incompatible change is refused with the registry's reason.
 */
public final class SchemaRegistrar {
    public static final String COMPATIBILITY = "BACKWARD";

    private final ConfluentRegistryClient client;

    /** @param confluentRoot the root of the registry's Confluent API (Apicurio: {@code <base>/apis/ccompat/v7}) */
    public SchemaRegistrar(String confluentRoot) {
        this(RegistryAccess.of(confluentRoot));
    }

    /** With the credentials and trust store of {@code access}, through its Confluent API (Apicurio's too). */
    public SchemaRegistrar(RegistryAccess access) {
        this.client = new ConfluentRegistryClient(access);
    }

    /** Sets BACKWARD on the topic's subject and registers its value schema; returns the schema id. */
    public int register(Topic<?, ?> topic) {
        return register(topic.subject(), topic.valueSchema());
    }

    public int register(String subject, Schema schema) {
        setCompatibility(subject, COMPATIBILITY);
        return client.register(subject, schema);
    }

    public void setCompatibility(String subject, String level) {
        client.setCompatibility(subject, level);
    }

    public String compatibility(String subject) {
        return client.compatibility(subject);
    }

    /** The schema a wire-format id names, as the registry returns it. */
    public Schema schemaById(int id) {
        return client.schemaById(id);
    }

    /** The registry could not be reached or answered with an error. */
    public static class RegistryException extends RuntimeException {
        public RegistryException(String message) {
            super(message);
        }

        public RegistryException(String message, Throwable cause) {
            super(message, cause);
        }
    }

    /** The registry refused a schema because it breaks the subject's compatibility rule. */
    public static final class IncompatibleSchemaException extends RegistryException {
        public IncompatibleSchemaException(String message) {
            super(message);
        }
    }
}
