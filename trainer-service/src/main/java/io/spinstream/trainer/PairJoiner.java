package io.spinstream.trainer;

import io.spinstream.schemas.HeldOutSplit;
import io.spinstream.schemas.Prompt;
import io.spinstream.schemas.SyntheticResponse;
import io.spinstream.schemas.Topics;
import io.spinstream.schemas.TrainingPair;
import org.apache.kafka.common.utils.Bytes;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.Topology;
import org.apache.kafka.streams.kstream.Consumed;
import org.apache.kafka.streams.kstream.KTable;
import org.apache.kafka.streams.kstream.Materialized;
import org.apache.kafka.streams.kstream.Produced;
import org.apache.kafka.streams.state.KeyValueStore;

import java.time.Clock;

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

    private PairJoiner() {
    }

    public static Topology topology(Topics topics, HeldOutSplit split, Clock clock) {
        StreamsBuilder builder = new StreamsBuilder();
        var promptSerde = topics.prompts("any").valueSerde();
        KTable<String, Prompt> prompts = builder
                .stream(topics.promptsPattern(), Consumed.with(topics.prompts("any").keySerde(), promptSerde))
                .filter((id, p) -> id != null && (p == null || !split.isHeldOut(id)))
                .toTable(Materialized.<String, Prompt, KeyValueStore<Bytes, byte[]>>as(PROMPTS_STORE)
                        .withKeySerde(topics.prompts("any").keySerde()).withValueSerde(promptSerde));
        KTable<String, SyntheticResponse> synthetic = builder
                .stream(topics.synthetic().name(), Consumed.with(topics.synthetic().keySerde(), topics.synthetic().valueSerde()))
                .filter((id, s) -> id != null && !split.isHeldOut(id))
                .toTable(Materialized.<String, SyntheticResponse, KeyValueStore<Bytes, byte[]>>as(SYNTHETIC_STORE)
                        .withKeySerde(topics.synthetic().keySerde()).withValueSerde(topics.synthetic().valueSerde()));
        synthetic.join(prompts, (s, p) -> pair(p, s, clock))
                .toStream()
                .filter((id, pair) -> pair != null)
                .to(topics.pairs().name(), Produced.with(topics.pairs().keySerde(), topics.pairs().valueSerde()));
        return builder.build();
    }

    static TrainingPair pair(Prompt p, SyntheticResponse s, Clock clock) {
        return TrainingPair.newBuilder()
                .setPromptId(p.getPromptId())
                .setStream(p.getStream())
                .setPrompt(p.getPrompt())
                .setHuman(p.getHumanResponse())
                .setSynthetic(s.getResponse())
                .setOpponentLogpHuman(s.getOpponentLogpHuman())
                .setOpponentLogpSynthetic(s.getOpponentLogpSynthetic())
                .setOpponentId(s.getOpponentId())
                .setRound(s.getRound())
                .setIdentical(s.getResponse().equals(p.getHumanResponse()))
                .setCreatedAt(clock.instant())
                .build();
    }
}
