package io.spinstream.lion;

import io.micrometer.core.instrument.MeterRegistry;
import io.spinstream.lion.roles.PromptPool;
import io.spinstream.lion.roles.PromptWriter;
import io.spinstream.runtime.SpinContext;
import io.spinstream.runtime.deadletter.Decoded;
import io.spinstream.runtime.deadletter.RecordDecoder;
import io.spinstream.runtime.http.Fanout;
import io.spinstream.runtime.http.JsonEndpoint;
import io.spinstream.schemas.LionJudgement;
import io.spinstream.schemas.Prompt;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Generation: from every judgement, the prompt writer writes new prompts: {@code perHard} from a hard prompt, and
 * one from an easy prompt for a share {@code easyShare} of them (drawn by a hash of the prompt and round, so a
 * batch read again draws the same). A new prompt is kept only if its ROUGE-L against every prompt of both pools
 * is below the threshold; kept prompts from hard ones join the train pool and the cache pool, those from easy
 * ones the cache pool, for the next round (a new prompt carries its round; it is judged from the next one on). The pools are read (to their end) before each batch, so the filter
 * sees what other writers (an operator's seeds) added.
 */
final class GenerationStep extends PoolStep {
    /** The task attribute that says in which round a prompt was written. */
    static final String ROUND_ATTRIBUTE = "lion_round";

    private final PromptWriter writer;
    private final PromptPool pool;
    private final int perHard;
    private final double easyShare;
    private final Fanout fanout;
    private final RecordDecoder<String, LionJudgement> decoder;
    private final RecordDecoder<String, Prompt> poolDecoder;
    private KafkaConsumer<byte[], byte[]> poolReader;

    GenerationStep(SpinContext context, MeterRegistry metrics, PromptWriter writer, double rougeMax, int perHard, double easyShare,
                   int batchSize, int concurrency) {
        super("generate", context, metrics, batchSize);
        this.writer = writer;
        this.pool = new PromptPool(rougeMax);
        this.perHard = perHard;
        this.easyShare = easyShare;
        this.fanout = new Fanout(concurrency, "the prompt writer " + writer.describe());
        this.decoder = new RecordDecoder<>(t -> context.topics().lionJudgements(), deadLetters);
        this.poolDecoder = new RecordDecoder<>(t -> t.equals(context.topics().lionTrain().name()) ? context.topics().lionTrain()
                : context.topics().lionCache(), deadLetters);
    }

    @Override
    protected void begin() {
        poolReader = new KafkaConsumer<>(context.kafka().groupLessConsumer());
        List<TopicPartition> parts = new ArrayList<>();
        for (String topic : List.of(context.topics().lionTrain().name(), context.topics().lionCache().name())) {
            for (PartitionInfo p : poolReader.partitionsFor(topic)) {
                parts.add(new TopicPartition(topic, p.partition()));
            }
        }
        poolReader.assign(parts);
        poolReader.seekToBeginning(parts);
    }

    @Override
    protected void end() {
        if (poolReader != null) {
            poolReader.close();
        }
    }

    /** Reads the pools up to their current end. */
    private void catchUp() {
        Map<TopicPartition, Long> ends = poolReader.endOffsets(poolReader.assignment());
        while (ends.entrySet().stream().anyMatch(e -> poolReader.position(e.getKey()) < e.getValue())) {
            ConsumerRecords<byte[], byte[]> polled = poolReader.poll(Duration.ofMillis(200));
            List<ConsumerRecord<byte[], byte[]>> records = new ArrayList<>();
            polled.forEach(records::add);
            // A pool record that does not decode is skipped here: its own consumers dead-letter it.
            for (Decoded.Read<String, Prompt> r : poolDecoder.decode(records).records()) {
                pool.add(r.value().getPromptId(), r.value().getPrompt());
            }
        }
    }

    int poolSize() {
        return pool.size();
    }

    @Override
    protected Optional<String> group() {
        return Optional.of(context.topics().prefix() + "-lion-generate");
    }

    @Override
    protected String topic() {
        return context.topics().lionJudgements().name();
    }

    /** One prompt to write: from which judgement, as its k-th. */
    private record Ask(LionJudgement from, ConsumerRecord<byte[], byte[]> raw, boolean hard, int k) {
        String id() {
            return "lion-" + hash(from.getPrompt().getPromptId() + "/r" + from.getRound() + "/" + k).substring(0, 16);
        }
    }

    @Override
    protected Output transform(List<ConsumerRecord<byte[], byte[]>> batch) {
        catchUp();
        Decoded<String, LionJudgement> decoded = decoder.decode(batch);
        List<ProducerRecord<byte[], byte[]>> letters = new ArrayList<>(decoded.deadLetters());
        List<Ask> asks = new ArrayList<>();
        for (Decoded.Read<String, LionJudgement> r : decoded.records()) {
            LionJudgement j = r.value();
            if (j.getHard()) {
                for (int k = 0; k < perHard; k++) {
                    asks.add(new Ask(j, r.raw(), true, k));
                }
            } else if (share(j.getPrompt().getPromptId() + "/r" + j.getRound()) < easyShare) {
                asks.add(new Ask(j, r.raw(), false, 0));
            }
        }
        List<Object> written = fanout.map(asks.size(), i -> {
            Ask a = asks.get(i);
            try {
                return writer.write(a.from().getPrompt(), a.hard(), a.id(), hash(a.id()).hashCode());
            } catch (JsonEndpoint.Refused e) {
                return e;
            }
        });
        List<ProducerRecord<byte[], byte[]>> out = new ArrayList<>();
        long kept = 0;
        long similar = 0;
        long refusedCount = 0;
        for (int i = 0; i < asks.size(); i++) {
            if (written.get(i) instanceof JsonEndpoint.Refused refused) {
                letters.add(deadLetters.record(asks.get(i).raw(), "the prompt writer refused it: " + refused.getMessage()));
                refusedCount++;
                continue;
            }
            Prompt p = (Prompt) written.get(i);
            // Written in this round: judged from the next round's pass on (DiscriminationStep), as in the paper.
            Map<String, String> attributes = new java.util.HashMap<>(p.getTask().getAttributes());
            attributes.put(ROUND_ATTRIBUTE, Integer.toString(asks.get(i).from().getRound()));
            p = Prompt.newBuilder(p).setTask(io.spinstream.schemas.TaskMetadata.newBuilder(p.getTask()).setAttributes(attributes).build()).build();
            if (pool.contains(p.getPromptId()) || !pool.isNovel(p.getPrompt())) {
                similar++;
                continue;
            }
            pool.add(p.getPromptId(), p.getPrompt());
            kept++;
            out.add(context.topics().lionCache().rawRecord(p.getPromptId(), p));
            if (asks.get(i).hard()) {
                out.add(context.topics().lionTrain().rawRecord(p.getPromptId(), p));
            }
        }
        return new Output(out, letters, Map.of("prompts.written", asks.size() - refusedCount, "prompts.kept", kept,
                "prompts.similar", similar));
    }

    /** A number in [0, 1) from {@code key}, the same every time. */
    static double share(String key) {
        return Long.parseUnsignedLong(hash(key).substring(0, 13), 16) / (double) (1L << 52);
    }

    static String hash(String s) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(s.getBytes(StandardCharsets.UTF_8)));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
