package io.spinstream.generator;

import io.spinstream.runtime.opponent.CheckpointLocation;
import io.spinstream.runtime.opponent.OpponentSource;
import io.spinstream.runtime.openai.OpenAiClient;
import io.spinstream.runtime.openai.ServedOpponent;
import io.spinstream.model.Sampling;
import io.spinstream.runtime.ServiceLauncher;
import io.spinstream.runtime.config.RoundKeys;
import io.spinstream.runtime.config.ServiceConfig;
import io.spinstream.runtime.reward.HttpRewardModel;
import io.spinstream.runtime.reward.RewardStep;

import static io.spinstream.generator.GeneratorKeys.*;

/** The generator's container entry point: configuration from the environment / SPIN_CONFIG_FILE. */
public final class GeneratorMain {
    private GeneratorMain() {
    }

    public static GeneratorService.Settings settings(ServiceConfig c) {
        if (c.get(SAMPLES) > 1 && c.get(TEMPERATURE) == 0) {
            throw new io.spinstream.runtime.config.ConfigException(SAMPLES.display() + "=" + c.get(SAMPLES) + " with "
                    + TEMPERATURE.display() + "=0 (greedy) gives " + c.get(SAMPLES) + " equal answers: sample at a temperature > 0");
        }
        Sampling sampling = new Sampling(c.get(TEMPERATURE).floatValue(), c.get(TOP_P).floatValue(),
                c.get(MAX_NEW_TOKENS), c.get(SEED));
        return new GeneratorService.Settings(c.get(RoundKeys.RUN_ID), c.get(BATCH_SIZE), c.get(BATCH_WAIT_MS), sampling,
                RoundKeys.split(c), opponents(c), RoundKeys.device(c), c.get(SAMPLES), rewards(c), c.get(STUCK_AFTER));
    }

    /** Where answers come from; openai without a URL is refused naming both keys. */
    static OpponentSource opponents(ServiceConfig c) {
        if (c.get(BACKEND).equals("djl")) {
            return OpponentSource.inProcess(RoundKeys.template(c), CheckpointLocation.from(c), RoundKeys.precision(c, RoundKeys.device(c)));
        }
        String url = c.find(OPENAI_URL).orElseThrow(() -> new io.spinstream.runtime.config.ConfigException(
                BACKEND.display() + "=openai needs " + OPENAI_URL.display() + ": the server's API root, e.g. http://vllm:8000/v1"));
        OpenAiClient server = new OpenAiClient(java.net.URI.create(url), java.time.Duration.ofMillis(c.get(OPENAI_TIMEOUT_MS)),
                c.get(OPENAI_ATTEMPTS), c.find(OPENAI_API_KEY), io.spinstream.runtime.Backoff::standard);
        return ServedOpponent.source(server, RoundKeys.template(c), CheckpointLocation.from(c), c.find(OPENAI_MODEL),
                c.get(OPENAI_CONCURRENCY));
    }

    /** The reward step the keys describe; http without a URL is refused naming both keys. */
    static RewardStep rewards(ServiceConfig c) {
        if (c.get(REWARD).equals("verifier")) {
            return RewardStep.VERIFIER;
        }
        String url = c.find(REWARD_URL).orElseThrow(() -> new io.spinstream.runtime.config.ConfigException(
                REWARD.display() + "=http needs " + REWARD_URL.display() + ": the reward model's scoring endpoint, e.g."
                        + " http://reward:8000/score"));
        return new RewardStep.Remote(new HttpRewardModel(java.net.URI.create(url), java.time.Duration.ofMillis(c.get(REWARD_TIMEOUT_MS)),
                c.get(REWARD_ATTEMPTS), c.find(REWARD_TOKEN), io.spinstream.runtime.Backoff::standard));
    }

    public static void main(String[] args) {
        ServiceLauncher.run("generator", GeneratorKeys.all(),
                (context, registry) -> new GeneratorService(context, settings(context.config()), registry));
    }
}
