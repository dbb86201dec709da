package io.spinstream.devstack;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;

import org.junit.jupiter.api.extension.ExtensionContext;
import org.junit.jupiter.api.extension.ParameterContext;
import org.junit.jupiter.api.extension.ParameterResolver;

/**
 * Gives a test class the dev stack, started once per test JVM (kept in the root context's store, so
 * JUnit stops it when the run ends). Use through {@link BrokerTest} (which also tags the test) and a
 * {@link DevStack} parameter.
 */
public final class DevStackExtension implements ParameterResolver {

    private record Shared(DevStack stack, Path data) implements ExtensionContext.Store.CloseableResource, AutoCloseable {
        static Shared start() {
            try {
                // Kept data, so that a test can stop the broker or the registry and start it again (an outage).
                Path data = Files.createTempDirectory("spin-devstack-");
                return new Shared(DevStack.start(data), data);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }

        @Override
        public void close() {
            try {
                stack.close();
            } finally {
                EmbeddedKafka.deleteRecursively(data);
            }
        }
    }

    public static DevStack stack(ExtensionContext context) {
        return context.getRoot().getStore(ExtensionContext.Namespace.GLOBAL)
                .getOrComputeIfAbsent(Shared.class, k -> Shared.start(), Shared.class)
                .stack();
    }

    @Override
    public boolean supportsParameter(ParameterContext parameter, ExtensionContext context) {
        return parameter.getParameter().getType() == DevStack.class;
    }

    @Override
    public Object resolveParameter(ParameterContext parameter, ExtensionContext context) {
        return stack(context);
    }
}
