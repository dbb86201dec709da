package io.spinstream.trainer;

import io.spinstream.runtime.kafka.PatientSerde;
import io.spinstream.schemas.HeldOutSplit;
import io.spinstream.schemas.Prompt;
import io.spinstream.schemas.SyntheticResponse;
import io.spinstream.schemas.Topics;
import io.spinstream.schemas.TrainingPair;
import io.spinstream.trainer.round.TrainingPairs;
import org.apache.kafka.common.utils.Bytes;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.Topology;
import org.apache.kafka.streams.kstream.Consumed;
import org.apache.kafka.streams.kstream.KTable;
import org.apache.kafka.streams.kstream.Materialized;
import org.apache.kafka.streams.kstream.Produced;
import org.apache.kafka.streams.processor.api.Processor;
import org.apache.kafka.streams.processor.api.ProcessorContext;
import org.apache.kafka.streams.processor.api.Record;
import org.apache.kafka.streams.state.KeyValueStore;
import org.apache.kafka.streams.state.Stores;
import org.apache.kafka.common.serialization.Serdes;

import java.time.Clock;
import java.time.Duration;

/**
 * The Kafka Streams topology that turns synthetic answers into training pairs: a table of prompts over
 * every {@code <prefix>.prompts.*} stream (held-out prompts left out) joined by prompt_id with a table of
 * the latest synthetic answer per prompt. Table-table, so an answer that arrives before its prompt is
 * paired when the prompt arrives, and a prompt updated later yields a pair with its new human answer.
 * Prompt ids are unique across streams.
 */
public final class PairJoiner {
    static final String PROMPTS_STORE = "prompts";
    static final String SYNTHETIC_STORE = "synthetic";
    static final String EMITTED_STORE = "emitted-pairs";

    private static final Duration PATIENCE = Duration.ofMinutes(2);

    private PairJoiner() {
    }

    public static Topology topology(Topics topics, HeldOutSplit split, Clock clock) {
        StreamsBuilder builder = new StreamsBuilder();
        // A registry outage is waited out inside the serdes (up to two minutes) rather than failing the thread.
        var promptSerde = PatientSerde.of(topics.prompts("any").valueSerde(), PATIENCE);
        var syntheticSerde = PatientSerde.of(topics.synthetic().valueSerde(), PATIENCE);
        var pairSerde = PatientSerde.of(topics.pairs().valueSerde(), PATIENCE);
        KTable<String, Prompt> prompts = builder
                .stream(topics.promptsPattern(), Consumed.with(topics.prompts("any").keySerde(), promptSerde))
                // A prompt whose record key is not its prompt_id would pair one prompt's answer with another's text.
                .filter((id, p) -> id != null && (p == null || (split.isTraining(id) && id.equals(p.getPromptId()))))
                .toTable(Materialized.<String, Prompt, KeyValueStore<Bytes, byte[]>>as(PROMPTS_STORE)
                        .withKeySerde(topics.prompts("any").keySerde()).withValueSerde(promptSerde));
        KTable<String, SyntheticResponse> synthetic = builder
                .stream(topics.synthetic().name(), Consumed.with(topics.synthetic().keySerde(), syntheticSerde))
                .filter((id, s) -> id != null && split.isTraining(id))
                .toTable(Materialized.<String, SyntheticResponse, KeyValueStore<Bytes, byte[]>>as(SYNTHETIC_STORE)
                        .withKeySerde(topics.synthetic().keySerde()).withValueSerde(syntheticSerde));
        builder.addStateStore(Stores.keyValueStoreBuilder(Stores.persistentKeyValueStore(EMITTED_STORE),
                Serdes.String(), Serdes.String()));
        synthetic.join(prompts, (s, p) -> TrainingPairs.of(p, s, clock))
                .toStream()
                .filter((id, pair) -> pair != null)
                .process(FirstOfEachPair::new, EMITTED_STORE)
                .to(topics.pairs().name(), Produced.with(topics.pairs().keySerde(), pairSerde));
        return builder.build();
    }

    /**
     * Passes a pair on only when it differs from the last one emitted for its prompt (answer, human answer,
     * opponent, round): a table join may emit the same result again (for instance when a pattern
     * subscription picks up a prompt stream late and its table is rebuilt), and a pair must be trained once.
     */
    static final class FirstOfEachPair implements Processor<String, TrainingPair, String, TrainingPair> {
        private KeyValueStore<String, String> emitted;
        private ProcessorContext<String, TrainingPair> context;

        @Override
        public void init(ProcessorContext<String, TrainingPair> context) {
            this.context = context;
            this.emitted = context.getStateStore(EMITTED_STORE);
        }

        @Override
        public void process(Record<String, TrainingPair> record) {
            TrainingPair p = record.value();
            String signature = p.getOpponentId() + "\u0000" + p.getRound() + "\u0000" + p.getSynthetic() + "\u0000"
                    + p.getHuman() + "\u0000" + p.getPrompt();
            if (signature.equals(emitted.get(record.key()))) {
                return;
            }
            emitted.put(record.key(), signature);
            context.forward(record);
        }
    }
}
