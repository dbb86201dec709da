package io.spinstream.cli;

import io.spinstream.evaluator.EvaluatorMain;
import io.spinstream.generator.GeneratorMain;
import io.spinstream.trainer.TrainerMain;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;

import java.util.concurrent.Callable;

/**
 * {@code spin run SERVICE}: runs one service against any cluster exactly as its container does, with
 * its configuration from the environment and {@code SPIN_CONFIG_FILE}.
 */
@Command(name = "run", mixinStandardHelpOptions = true,
        description = "Runs one service (generator, trainer, evaluator, lion) against the cluster named by SPIN_BOOTSTRAP_SERVERS / SPIN_CONFIG_FILE.")
public final class RunCommand implements Callable<Integer> {

    @Parameters(index = "0", paramLabel = "SERVICE", description = "generator, trainer, evaluator or lion")
    String service;

    @Override
    public Integer call() {
        switch (service) {
            case "generator" -> GeneratorMain.main(new String[0]);
            case "evaluator" -> EvaluatorMain.main(new String[0]);
            case "trainer" -> TrainerMain.main(new String[0]);
            case "lion" -> io.spinstream.lion.LionMain.main(new String[0]);
            default -> {
                System.err.println("spin run: unknown service '" + service + "': expected generator, trainer, evaluator or lion");
                return 2;
            }
        }
        return 0;
    }
}
