package io.spinstream.demo;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import io.spinstream.model.LlamaModel;
import io.spinstream.model.tokenizer.PromptTemplate;
import io.spinstream.model.tokenizer.SpinTokenizer;
import io.spinstream.schemas.Prompt;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

class BaseTrainerTest {

    @Test
    void sftStopsWhenValidationExactMatchStopsImprovingAndKeepsTheBestWeights(@TempDir Path dir) {
        ArithmeticTask task = new ArithmeticTask(1, 45, 5, 3, true);
        List<Prompt> train = task.examples().stream().map(e -> task.toPrompt("t", e)).toList();
        List<Prompt> validation = task.validationExamples().stream().map(e -> task.toPrompt("v", e)).toList();
        DemoModel demo = new DemoModel(32, 1, 4, 16);
        Path tok = dir.resolve("tokenizer.json");
        demo.writeTokenizer(tok);
        List<String> lines = new ArrayList<>();
        try (NDManager m = NDManager.newBaseManager();
             LlamaModel model = LlamaModel.random(demo.config(), m, 1, DataType.FLOAT32);
             SpinTokenizer t = SpinTokenizer.load(tok, PromptTemplate.PLAIN, demo.config().eosTokenId())) {
            BaseTrainer trainer = new BaseTrainer(new BaseTrainer.Settings(1e-2, 16, 25, 2, 0.0, 100, 400, 45, 1), task.maxAnswerTokens());
            double before = trainer.exactMatch(model, t, train);
            BaseTrainer.Result r = trainer.train(model, t, train, validation, lines::add);

            assertThat(r.curve().get(0).step()).isZero();
            assertThat(r.curve()).extracting(BaseTrainer.Point::step).isSorted();
            double best = r.curve().stream().mapToDouble(BaseTrainer.Point::validationEm).max().orElseThrow();
            assertThat(r.validationEm()).isEqualTo(best);
            // The model holds the weights of the best evaluation, not the last step's.
            assertThat(trainer.exactMatch(model, t, validation)).isEqualTo(best);
            assertThat(trainer.exactMatch(model, t, train)).isEqualTo(r.trainEm()).isGreaterThan(before);
            BaseTrainer.Point last = r.curve().get(r.curve().size() - 1);
            if (r.steps() < 400) {
                // Stopped by patience: two evaluations after minSteps without a new best.
                assertThat(last.step() - r.bestStep()).isGreaterThanOrEqualTo(2 * 25);
            }
            assertThat(lines).isNotEmpty().allMatch(l -> l.startsWith("base sft: step "));
        }
    }
}
