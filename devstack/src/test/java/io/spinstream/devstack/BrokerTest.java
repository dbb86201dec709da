package io.spinstream.devstack;

import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.extension.ExtendWith;

import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;

/**
 * A test on the real broker and registry (the JVM's one {@link DevStack}, started on first use), tagged
 * {@code broker} so that a fast tier can leave it out: {@code ./spin test --fast}.
 */
@Target(ElementType.TYPE)
@Retention(RetentionPolicy.RUNTIME)
@Tag("broker")
@ExtendWith(DevStackExtension.class)
public @interface BrokerTest {
}
