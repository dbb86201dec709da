package io.spinstream.trainer;

import io.spinstream.devstack.DevStack;
import io.spinstream.devstack.BrokerTest;
import io.spinstream.schemas.AvroSerdes;
import io.spinstream.schemas.HeldOutSplit;
import io.spinstream.schemas.Prompt;
import io.spinstream.schemas.SamplingSettings;
import io.spinstream.schemas.SyntheticResponse;
import io.spinstream.schemas.Topics;
import io.spinstream.schemas.TrainingPair;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.TestInputTopic;
import org.apache.kafka.streams.TestOutputTopic;
import org.apache.kafka.streams.TopologyTestDriver;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.time.Clock;
import java.time.Instant;
import java.util.List;
import java.util.Properties;
import java.util.UUID;
import java.util.stream.IntStream;

import static org.assertj.core.api.Assertions.assertThat;

/** The join topology on TopologyTestDriver, with the real registry's serdes. */
@BrokerTest
class PairJoinerTest {
    private static final HeldOutSplit SPLIT = new HeldOutSplit(0.3, "spin");
    private Topics topics;
    private TopologyTestDriver driver;
    private TestInputTopic<String, Prompt> arith;
    private TestInputTopic<String, SyntheticResponse> synthetic;
    private TestOutputTopic<String, TrainingPair> pairs;

    @BeforeEach
    void open(DevStack stack) {
        topics = new Topics("ttd" + UUID.randomUUID().toString().substring(0, 6), Topics.Layout.LOCAL,
                new AvroSerdes(stack.registryUrl()));
        Properties props = new Properties();
        props.put(StreamsConfig.APPLICATION_ID_CONFIG, "pair-joiner-test");
        props.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, "unused:9092");
        driver = new TopologyTestDriver(PairJoiner.topology(topics, SPLIT, Clock.systemUTC()), props);
        var promptTopic = topics.prompts("arith");
        arith = driver.createInputTopic(promptTopic.name(), Serdes.String().serializer(), promptTopic.valueSerde().serializer());
        synthetic = driver.createInputTopic(topics.synthetic().name(), Serdes.String().serializer(),
                topics.synthetic().valueSerde().serializer());
        pairs = driver.createOutputTopic(topics.pairs().name(), Serdes.String().deserializer(),
                topics.pairs().valueSerde().deserializer());
    }

    @AfterEach
    void close() {
        driver.close();
    }

    private static String trainingId(int from) {
        return IntStream.iterate(from, i -> i + 1).mapToObj(i -> "p" + i).filter(id -> !SPLIT.isHeldOut(id)).findFirst().orElseThrow();
    }

    private static String heldOutId() {
        return IntStream.iterate(0, i -> i + 1).mapToObj(i -> "p" + i).filter(SPLIT::isHeldOut).findFirst().orElseThrow();
    }

    private static Prompt prompt(String id, String human) {
        return Prompt.newBuilder().setPromptId(id).setStream("arith").setPrompt(id + "=").setHumanResponse(human)
                .setCreatedAt(Instant.EPOCH).build();
    }

    private static SyntheticResponse answer(String id, String response, int round) {
        return SyntheticResponse.newBuilder().setPromptId(id).setStream("arith").setOpponentId("base").setRound(round)
                .setResponse(response).setPromptTokens(3).setResponseTokens(2).setHumanTokens(3)
                .setOpponentLogpHuman(-4.5).setOpponentLogpSynthetic(-2.5)
                .setSampling(SamplingSettings.newBuilder().setTemperature(1f).setTopP(1f).setMaxNewTokens(8).setSeed(1).build())
                .setCreatedAt(Instant.EPOCH).build();
    }

    @Test
    void anAnswerThatArrivesBeforeItsPromptIsPairedWhenThePromptArrives() {
        String id = trainingId(0);
        synthetic.pipeInput(id, answer(id, "41", 0));
        assertThat(pairs.isEmpty()).isTrue();
        arith.pipeInput(id, prompt(id, "42"));
        TrainingPair pair = pairs.readValue();
        assertThat(pair.getPromptId()).isEqualTo(id);
        assertThat(pair.getHuman()).isEqualTo("42");
        assertThat(pair.getSynthetic()).isEqualTo("41");
        assertThat(pair.getOpponentLogpHuman()).isEqualTo(-4.5);
        assertThat(pair.getOpponentLogpSynthetic()).isEqualTo(-2.5);
        assertThat(pair.getOpponentId()).isEqualTo("base");
        assertThat(pair.getIdentical()).isFalse();
        assertThat(pair.getSyntheticTokenIds()).as("an answer without its own tokens: the trainer encodes its text").isNull();
        assertThat(pairs.isEmpty()).isTrue();
    }

    @Test
    void anAnswersOwnTokensTravelIntoItsPair() {
        String id = trainingId(40);
        SyntheticResponse withTokens = answer(id, "4\uFFFD", 0);
        withTokens.setResponseTokenIds(List.of(55, 200));
        arith.pipeInput(id, prompt(id, "42"));
        synthetic.pipeInput(id, withTokens);
        TrainingPair pair = pairs.readValue();
        assertThat(pair.getSynthetic()).isEqualTo("4\uFFFD");
        assertThat(pair.getSyntheticTokenIds()).containsExactly(55, 200);
    }

    @Test
    void aPromptUpdatedLaterYieldsAPairWithItsNewHumanAnswer() {
        String id = trainingId(10);
        arith.pipeInput(id, prompt(id, "42"));
        synthetic.pipeInput(id, answer(id, "42", 0));
        TrainingPair first = pairs.readValue();
        assertThat(first.getIdentical()).as("y' = y").isTrue();
        arith.pipeInput(id, prompt(id, "43"));
        TrainingPair updated = pairs.readValue();
        assertThat(updated.getHuman()).isEqualTo("43");
        assertThat(updated.getIdentical()).isFalse();
        // A later round's answer replaces the earlier one.
        synthetic.pipeInput(id, answer(id, "40", 1));
        assertThat(pairs.readValue().getRound()).isEqualTo(1);
    }

    @Test
    void aHeldOutPromptNeverBecomesAPair() {
        String held = heldOutId();
        arith.pipeInput(held, prompt(held, "7"));
        synthetic.pipeInput(held, answer(held, "8", 0));
        arith.pipeInput(held, prompt(held, "9"));
        assertThat(pairs.isEmpty()).isTrue();
        String id = trainingId(20);
        arith.pipeInput(id, prompt(id, "1"));
        synthetic.pipeInput(id, answer(id, "2", 0));
        assertThat(pairs.readKeyValuesToList()).extracting(kv -> kv.key).containsExactly(id);
    }

    @Test
    void aPromptWhoseKeyIsNotItsIdNeverReplacesTheTextItIsJoinedWith() {
        String a = trainingId(40);
        String b = trainingId(Integer.parseInt(a.substring(1)) + 1);
        arith.pipeInput(a, prompt(a, "1"));
        arith.pipeInput(a, prompt(b, "999")); // keyed a, but prompt b's text: must not become a's prompt
        synthetic.pipeInput(a, answer(a, "2", 0));
        TrainingPair pair = pairs.readValue();
        assertThat(pair.getPromptId()).isEqualTo(a);
        assertThat(pair.getPrompt()).isEqualTo(a + "=");
        assertThat(pair.getHuman()).isEqualTo("1");
        assertThat(pairs.isEmpty()).isTrue();
    }
}
