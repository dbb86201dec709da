package io.spinstream.cli.bench;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;

/** The scale benchmark's whole path on a tiny shape (the real one is a benchmark, never a test). */
class ScaleBenchmarkTest {

    @Test
    void theWholePathRunsAndTheLoraCandidateIsTheSmallOne(@TempDir Path dir) throws Exception {
        ScaleBenchmark.Shape tiny = ScaleBenchmark.Shape.qwen2("tiny", 300, 32, 2, 4, 2, 64, true);
        ByteArrayOutputStream text = new ByteArrayOutputStream();
        ScaleBenchmark.Result r = new ScaleBenchmark(tiny, 3, 4, 2, 2, 4, new PrintStream(text, true, StandardCharsets.UTF_8))
                .run(dir.resolve("work"), dir.resolve("scale.png"));
        String log = text.toString(StandardCharsets.UTF_8);
        assertThat(log).contains("spin init: base base-", "hot swap: the generator took scale-r1-lora by merging its adapter alone");
        assertThat(r.loraCkptMb()).isPositive().isLessThan(r.fullCkptMb() / 2);
        assertThat(r.genTokS()).isPositive();
        assertThat(r.loraTrainTokS()).isPositive();
        assertThat(r.fullTrainTokS()).isPositive();
        assertThat(r.swapS()).isPositive();
        assertThat(r.peakRssLoraGib()).isPositive().isLessThanOrEqualTo(r.peakRssGib());
        assertThat(r.candidateNll()).isFinite().isNotEqualTo(r.baseNll());
        assertThat(r.lastLine()).matches("peak_rss_gib=\\S+ lora_train_tok_s=\\S+ full_train_tok_s=\\S+ gen_tok_s=\\S+"
                + " lora_ckpt_mb=\\S+ full_ckpt_mb=\\S+ swap_s=\\S+");
        assertThat(dir.resolve("scale.png")).isNotEmptyFile();
    }

    @Test
    void longSequencesTrainWithCheckpointingAndTheLastLineSaysTheirShape(@TempDir Path dir) throws Exception {
        ScaleBenchmark.Shape tiny = ScaleBenchmark.Shape.qwen2("tiny", 300, 32, 2, 4, 2, 64, true);
        ByteArrayOutputStream text = new ByteArrayOutputStream();
        ScaleBenchmark.Result r = new ScaleBenchmark(tiny, 2, 4, 2, 0, 4, 40, 4, new PrintStream(text, true, StandardCharsets.UTF_8))
                .run(dir.resolve("work"), null);
        assertThat(text.toString(StandardCharsets.UTF_8)).contains("training sequences: 4 of 40 tokens a step (2 SPIN pairs")
                .contains("activation checkpointing");
        assertThat(r.loraTrainTokS()).isPositive();
        assertThat(r.lastLine(40, 4)).endsWith(" seq=40 batch=4");
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> new ScaleBenchmark(tiny, 2, 4, 2, 0, 4, 40, 3, System.out))
                .hasMessageContaining("an even number of sequences");
    }
}
