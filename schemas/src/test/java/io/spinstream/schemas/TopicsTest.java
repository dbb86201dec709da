package io.spinstream.schemas;

import org.apache.kafka.common.config.TopicConfig;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class TopicsTest {
    // Serdes are created lazily by the registry client; no registry is contacted here.
    private final Topics topics = new Topics("acme.spin", Topics.Layout.LOCAL, new AvroSerdes("http://127.0.0.1:1"));

    @Test
    void namesFollowThePrefix() {
        assertThat(topics.fixed()).extracting(Topic::name).containsExactly(
                "acme.spin.synthetic", "acme.spin.pairs", "acme.spin.checkpoints", "acme.spin.evaluations",
                "acme.spin.opponent", "acme.spin.dead-letters");
        assertThat(topics.prompts("arith").name()).isEqualTo("acme.spin.prompts.arith");
        assertThat(topics.prompts("arith").subject()).isEqualTo("acme.spin.prompts.arith-value");
        assertThat(topics.prompts("arith").valueSchema()).isEqualTo(Prompt.getClassSchema());
    }

    @Test
    void promptStreamsAndTheOpponentAreCompactedTheRestDeletes() {
        assertThat(topics.prompts("arith").settings().isCompacted()).isTrue();
        assertThat(topics.opponent().settings().isCompacted()).isTrue();
        assertThat(topics.synthetic().settings().isCompacted()).isFalse();
        assertThat(topics.checkpoints().settings().configs()).containsEntry(TopicConfig.RETENTION_MS_CONFIG, "-1");
        assertThat(topics.opponent().settings().partitions()).isEqualTo(1);
        assertThat(topics.pairs().settings().partitions()).isEqualTo(Topics.Layout.LOCAL.partitions());
    }

    @Test
    void thePatternMatchesEveryStreamAndNothingElse() {
        assertThat(topics.promptsPattern().matcher("acme.spin.prompts.arith").matches()).isTrue();
        assertThat(topics.promptsPattern().matcher("acme.spin.prompts.sort-3").matches()).isTrue();
        assertThat(topics.promptsPattern().matcher("acme.spin.pairs").matches()).isFalse();
        assertThat(topics.promptsPattern().matcher("acmeXspin.prompts.arith").matches()).isFalse();
        assertThat(topics.promptsPattern().matcher("other.prompts.arith").matches()).isFalse();
        assertThat(topics.streamOf("acme.spin.prompts.sort-3")).isEqualTo("sort-3");
    }

    @Test
    void badNamesAreRefusedWithTheExpectedForm() {
        assertThatThrownBy(() -> new Topics("bad prefix", Topics.Layout.LOCAL, new AvroSerdes("http://x")))
                .hasMessageContaining("topic prefix").hasMessageContaining("'bad prefix'");
        assertThatThrownBy(() -> topics.prompts("a.b"))
                .hasMessageContaining("stream name").hasMessageContaining("'a.b'");
        assertThatThrownBy(() -> topics.streamOf("acme.spin.pairs")).hasMessageContaining("not a prompt stream");
    }
}
