package io.spinstream.runtime;

import io.spinstream.runtime.config.ConfigException;
import io.spinstream.runtime.config.InitKeys;
import io.spinstream.runtime.config.RoundKeys;
import io.spinstream.runtime.config.ServiceConfig;
import io.spinstream.runtime.opponent.RoundZero;

import java.nio.file.Path;

/**
 * {@code spin init} as a container runs it (the Kubernetes Job {@code spin-init}, in any service's image):
 * the model folder named by {@code SPIN_INIT_MODEL} becomes run {@code SPIN_RUN_ID}'s round-0 opponent.
 * Exit 0 when it is (or already was), 1 when refused, 2 on a bad configuration.
 */
public final class RoundZeroMain {
    private RoundZeroMain() {
    }

    public static void main(String[] args) {
        LibraryLogging.quiet();
        ServiceConfig config;
        try {
            config = ServiceConfig.fromEnvironment(ServiceLauncher.keys(InitKeys.all()));
        } catch (ConfigException e) {
            System.err.println("spin-init: " + e.getMessage());
            System.exit(2);
            return;
        }
        Path model = Path.of(config.get(InitKeys.MODEL));
        try {
            RoundZero.Outcome o = new RoundZero(SpinContext.from(config)).establish(config.get(RoundKeys.RUN_ID),
                    Path.of(config.get(InitKeys.STORE)), model, config.get(InitKeys.REPLACE),
                    done -> { });
            System.out.println("spin-init: " + o.message());
            System.exit(0);
        } catch (Exception e) {
            System.err.println("spin-init: " + e.getMessage());
            System.exit(1);
        }
    }
}
