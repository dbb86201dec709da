package io.spinstream.runtime.opponent;

import ai.djl.ndarray.NDManager;
import io.spinstream.model.checkpoint.CheckpointStore;
import io.spinstream.model.checkpoint.HfImport;
import io.spinstream.runtime.SpinContext;
import io.spinstream.runtime.kafka.TopicReader;
import io.spinstream.schemas.OpponentPromotion;
import io.spinstream.schemas.TopicProvisioner;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.ConsumerGroupListing;
import org.apache.kafka.clients.producer.KafkaProducer;

import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.function.LongConsumer;

/**
 * Starts a run from a team's own model: imports its Hugging Face folder into the checkpoint store as a
 * base and publishes it as the run's round-0 opponent. The same folder twice is the same base and no
 * second promotion; a run that already has another opponent is refused unless it is to start over.
 */
public final class RoundZero {

    /** What happened: the base, and whether it was promoted now ({@code message} says it in words). */
    public record Outcome(HfImport.Imported base, boolean promoted, String message) {
    }

    private final SpinContext context;

    public RoundZero(SpinContext context) {
        this.context = context;
    }

    /**
     * @param replace  start the run over when it has another opponent: the generators' consumer groups are
     *                 deleted (the generators must be stopped) so that round 0 answers every prompt again
     * @param progress bytes of the model folder read so far, of {@link HfImport#size(Path)}
     */
    public Outcome establish(String runId, Path store, Path model, boolean replace, LongConsumer progress) throws Exception {
        try (Admin admin = Admin.create(context.kafka().admin())) {
            new TopicProvisioner(admin, context.registrar()).ensure(context.topics().fixed());
            HfImport.Imported base;
            try (NDManager manager = NDManager.newBaseManager()) {
                base = HfImport.into(new CheckpointStore(store), model, manager, progress);
            }
            Optional<OpponentPromotion> current = opponentOf(runId);
            String id = base.metadata().id();
            if (current.isPresent() && current.get().getCheckpointId().equals(id)) {
                Path here = base.directory().toAbsolutePath().normalize();
                Path recorded = CheckpointLocation.ANYWHERE.resolve(current.get().getUri());
                if (recorded.equals(here)) {
                    return new Outcome(base, false, id + " is run " + runId + "'s opponent already (round "
                            + current.get().getRound() + "); nothing to do");
                }
                if (!replace) {
                    // The services read the opponent from the store they are given: one of the two is not theirs.
                    throw new IllegalStateException("run " + runId + "'s opponent " + id + " was recorded in " + recorded
                            + ", not in this store (" + here + "): give the services and spin init the same store"
                            + " (SPIN_CHECKPOINT_STORE), or --replace to start the run over from this one");
                }
            }
            if (current.isPresent() && !replace) {
                throw new IllegalStateException("run " + runId + " already has opponent " + current.get().getCheckpointId()
                        + " (round " + current.get().getRound() + "); --replace starts the run over from " + id);
            }
            if (current.isPresent()) {
                deleteGeneratorGroups(admin);
            }
            OpponentPromotion p = Opponent.initial(runId, base.metadata(), base.directory());
            try (KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(context.kafka().idempotentProducer())) {
                producer.send(context.topics().opponent().rawRecord(runId, p)).get(30, TimeUnit.SECONDS);
            }
            return new Outcome(base, true, id + " is now run " + runId + "'s round-0 opponent"
                    + (current.isPresent() ? " (replacing " + current.get().getCheckpointId() + ")" : ""));
        }
    }

    /** The run's opponent in force, if any. */
    public Optional<OpponentPromotion> opponentOf(String runId) {
        List<OpponentPromotion> all = new TopicReader(context.kafka()).values(context.topics().opponent());
        return all.stream().filter(p -> p.getRunId().equals(runId)).reduce((a, b) -> b);
    }

    private void deleteGeneratorGroups(Admin admin) throws Exception {
        String prefix = context.topics().generatorGroup(0).replaceAll("0$", "");
        try {
            List<String> groups = admin.listConsumerGroups().all().get(30, TimeUnit.SECONDS).stream()
                    .map(ConsumerGroupListing::groupId).filter(g -> g.startsWith(prefix)).toList();
            if (!groups.isEmpty()) {
                admin.deleteConsumerGroups(groups).all().get(30, TimeUnit.SECONDS);
            }
        } catch (ExecutionException e) {
            throw new IllegalStateException("cannot start the run over: the generators' consumer groups cannot be deleted ("
                    + e.getCause().getMessage() + "); stop the generators first", e.getCause());
        }
    }
}
