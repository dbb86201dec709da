package io.spinstream.lion;

import io.micrometer.core.instrument.MeterRegistry;
import io.spinstream.lion.roles.PromptWriter;
import io.spinstream.lion.roles.Referee;
import io.spinstream.lion.roles.Teacher;
import io.spinstream.model.Sampling;
import io.spinstream.runtime.PollingService;
import io.spinstream.runtime.Service;
import io.spinstream.runtime.SpinContext;
import io.spinstream.runtime.opponent.OpponentSource;
import io.spinstream.schemas.HeldOutSplit;
import io.spinstream.schemas.TopicProvisioner;
import org.apache.kafka.clients.admin.Admin;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * Lion's adversarial distillation (Jiang et al. 2023) as three streaming steps beside the usual pipeline:
 * imitation (the teacher answers the train pool into the prompt stream {@code lion}, which the trainer learns
 * by SFT and the evaluator gates), discrimination (teacher and student answer the cache pool once per student
 * round, the referee judges each prompt hard or easy) and generation (new prompts from hard ones, kept when
 * ROUGE-L says they are new, join the pools). Each step commits exactly once; the iterations are the run's rounds.
 */
public final class LionService implements Service {

    /** The roles and the knobs. */
    public record Settings(String runId, Teacher teacher, Referee referee, PromptWriter writer, OpponentSource students,
                           Sampling studentSampling, HeldOutSplit split, double tau, double rougeMax, int perHard, double easyShare,
                           boolean discriminate, int batchSize, int concurrency) {
    }

    private final SpinContext context;
    private final Settings settings;
    private final List<PollingService> steps = new ArrayList<>();

    public LionService(SpinContext context, Settings settings, MeterRegistry metrics) {
        this.context = context;
        this.settings = settings;
        steps.add(new ImitationStep(context, metrics, settings.teacher(), settings.split(), settings.batchSize(), settings.concurrency()));
        if (settings.discriminate()) {
            steps.add(new DiscriminationStep(context, metrics, settings.runId(), settings.students(), settings.teacher(),
                    settings.referee(), settings.studentSampling(), settings.tau(), settings.batchSize(), settings.concurrency()));
            steps.add(new GenerationStep(context, metrics, settings.writer(), settings.rougeMax(), settings.perHard(),
                    settings.easyShare(), settings.batchSize(), settings.concurrency()));
        }
    }

    @Override
    public void start() {
        try (Admin admin = Admin.create(context.kafka().admin())) {
            new TopicProvisioner(admin, context.registrar()).ensure(context.topics().lion());
        }
        steps.forEach(PollingService::start);
    }

    @Override
    public void stop() {
        steps.forEach(PollingService::stop);
    }

    @Override
    public boolean isReady() {
        return steps.stream().allMatch(PollingService::isReady);
    }

    @Override
    public Optional<String> deadBecause() {
        return steps.stream().map(PollingService::deadBecause).flatMap(Optional::stream).findFirst();
    }

    /** The first step failure, or null. */
    public Throwable failure() {
        return steps.stream().map(PollingService::failure).filter(java.util.Objects::nonNull).findFirst().orElse(null);
    }
}
