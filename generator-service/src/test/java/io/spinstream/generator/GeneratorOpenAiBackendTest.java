package io.spinstream.generator;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.spinstream.devstack.BrokerTest;
import io.spinstream.devstack.DevStack;
import io.spinstream.inference.LoadedModel;
import io.spinstream.model.LlamaModel;
import io.spinstream.model.NoGrad;
import io.spinstream.model.Precision;
import io.spinstream.model.Sampling;
import io.spinstream.model.checkpoint.CheckpointMetadata;
import io.spinstream.model.lora.LoraAdapter;
import io.spinstream.model.lora.LoraConfig;
import io.spinstream.model.tokenizer.PromptTemplate;
import io.spinstream.runtime.FaultKind;
import io.spinstream.runtime.SpinContext;
import io.spinstream.runtime.config.ServiceConfig;
import io.spinstream.runtime.health.MetricsServer;
import io.spinstream.runtime.openai.OpenAiClient;
import io.spinstream.runtime.openai.ServedOpponent;
import io.spinstream.runtime.opponent.CheckpointLocation;
import io.spinstream.runtime.opponent.Opponent;
import io.spinstream.runtime.opponent.PromptAnswerer;
import io.spinstream.runtime.testing.SpinFixtures;
import io.spinstream.schemas.OpponentPromotion;
import io.spinstream.schemas.Prompt;
import io.spinstream.schemas.SyntheticResponse;
import io.spinstream.serve.ModelSlot;
import io.spinstream.serve.OpenAiServer;
import io.spinstream.serve.RequestBatcher;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.function.Function;
import java.util.stream.Collectors;
import java.util.stream.IntStream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The generator's openai backend against {@code spin serve} (the official wire format, over real HTTP): a round-0
 * pass whose greedy answers and log-probs equal the in-process backend's, then a LoRA promotion the generator makes
 * the server load through {@code /v1/load_lora_adapter}.
 */
@BrokerTest
class GeneratorOpenAiBackendTest {
    private static final int MAX_NEW = 10;

    @Test
    void aRoundThroughAnOpenAiServerGivesTheInProcessAnswersAndFollowsALoraPromotion(DevStack stack, @TempDir Path dir) throws Exception {
        SpinFixtures f = GeneratorServiceTest.fixtures(stack, dir);
        CheckpointMetadata base = f.checkpoint("base", 7);
        CheckpointMetadata adapter = adapterOver(f, base);
        List<Prompt> prompts = IntStream.range(0, 24).mapToObj(i -> SpinFixtures.prompt("arith", "q-" + i, i + "+" + (3 * i) + "=",
                String.valueOf(4 * i))).toList();
        Set<String> train = prompts.stream().map(Prompt::getPromptId)
                .filter(id -> !io.spinstream.runtime.config.RoundKeys.split(f.config(Map.of())).isHeldOut(id)).collect(Collectors.toSet());
        OpponentPromotion round0 = f.promote(base, 0);
        f.produce("arith", prompts, List.of());

        try (NDManager manager = NDManager.newBaseManager();
             ModelSlot slot = ModelSlot.fixed(LoadedModel.load(base.id(), f.store.directoryOf(base.id()), Optional.empty(), manager,
                     PromptTemplate.PLAIN, Precision.FLOAT32), manager, PromptTemplate.PLAIN, CheckpointLocation.ANYWHERE);
             RequestBatcher batcher = new RequestBatcher(slot, manager, 16);
             OpenAiServer server = new OpenAiServer(new InetSocketAddress("127.0.0.1", 0), slot, batcher, List.of(), "sk-gen",
                     MetricsServer.newRegistry(), Clock.systemUTC())) {
            ServiceConfig config = f.config(Map.of("SPIN_GENERATOR_BACKEND", "openai",
                    "SPIN_GENERATOR_OPENAI_URL", "http://127.0.0.1:" + server.port() + "/v1",
                    "SPIN_GENERATOR_OPENAI_API_KEY", "sk-gen", "SPIN_GENERATOR_TEMPERATURE", "0",
                    "SPIN_GENERATOR_MAX_NEW_TOKENS", Integer.toString(MAX_NEW)));
            PrometheusMeterRegistry registry = MetricsServer.newRegistry();
            GeneratorService service = new GeneratorService(SpinContext.from(config), GeneratorMain.settings(config), registry);
            service.start();
            try {
                List<SyntheticResponse> first = f.answers(a -> a.size() >= train.size(), Duration.ofSeconds(90));
                assertThat(first).extracting(SyntheticResponse::getPromptId).containsExactlyInAnyOrderElementsOf(train);
                assertEqualsInProcess(first, prompts, round0, manager);

                // A LoRA opponent: the generator has the server load the adapter, then answers with it.
                OpponentPromotion round1 = f.promote(adapter, 1);
                List<SyntheticResponse> all = f.answers(a -> a.stream().filter(r -> r.getRound() == 1).count() >= train.size(),
                        Duration.ofSeconds(90));
                List<SyntheticResponse> second = all.stream().filter(r -> r.getRound() == 1).toList();
                assertThat(second).extracting(SyntheticResponse::getPromptId).containsExactlyInAnyOrderElementsOf(train);
                assertThat(second).allSatisfy(r -> assertThat(r.getOpponentId()).isEqualTo(adapter.id()));
                assertThat(slot.names()).contains(adapter.id());
                assertEqualsInProcess(second, prompts, round1, manager);
                // The adapter changed the answers: the round-1 pass is not the base's again.
                Map<String, String> before = first.stream().collect(Collectors.toMap(SyntheticResponse::getPromptId, SyntheticResponse::getResponse));
                assertThat(second.stream().filter(r -> !r.getResponse().equals(before.get(r.getPromptId()))).count()).isPositive();
            } finally {
                service.stop();
            }
        }
    }

    /**
     * The in-process backend's answers to the same prompts, greedy: the same texts; the served answers' log-probs are
     * of their text re-encoded (a full pass's, within float tolerance), the same as in process where that text
     * re-encodes to the in-process answer's own tokens (this tiny random model's greedy bytes rarely do).
     */
    private static void assertEqualsInProcess(List<SyntheticResponse> served, List<Prompt> prompts, OpponentPromotion promotion,
                                              NDManager manager) {
        Map<String, Prompt> byId = prompts.stream().collect(Collectors.toMap(Prompt::getPromptId, Function.identity()));
        List<Prompt> asked = served.stream().map(r -> byId.get(r.getPromptId())).toList();
        try (Opponent o = Opponent.load(promotion, manager, PromptTemplate.PLAIN, CheckpointLocation.ANYWHERE); NoGrad ignored = NoGrad.enter()) {
            List<SyntheticResponse> local = new PromptAnswerer(o, new Sampling(0f, 1f, MAX_NEW, 0), "reference", Clock.systemUTC())
                    .answer(manager, asked);
            for (int i = 0; i < served.size(); i++) {
                SyntheticResponse s = served.get(i);
                SyntheticResponse l = local.get(i);
                assertThat(s.getResponse()).as(s.getPromptId()).isEqualTo(l.getResponse());
                // The server gives text only: the trainer encodes it, and its log-prob is of that encoding. In process
                // the answer travels with its own tokens; where the text re-encodes to them the two are the same.
                assertThat(s.getResponseTokenIds()).as(s.getPromptId()).isNull();
                assertThat(l.getResponseTokenIds()).as(s.getPromptId()).isNotNull();
                int[] prompt = o.tokenizer().encodePrompt(io.spinstream.runtime.opponent.PromptTurns.of(asked.get(i)));
                int[] encoded = o.tokenizer().encodeResponse(s.getResponse());
                double ofText = io.spinstream.model.LogProbs.sums(o.checkpoint().model(), manager,
                        io.spinstream.model.TokenBatch.of(List.of(new io.spinstream.model.TokenBatch.Example(prompt, encoded)), 0))[0];
                assertThat(s.getOpponentLogpSynthetic()).as(s.getPromptId()).isNegative()
                        .isCloseTo(ofText, org.assertj.core.data.Offset.offset(1e-3));
                int[] own = java.util.stream.IntStream.concat(l.getResponseTokenIds().stream().mapToInt(Integer::intValue),
                        java.util.stream.IntStream.of(o.config().eosTokenId())).toArray();
                if (java.util.Arrays.equals(own, encoded)) {
                    assertThat(s.getOpponentLogpSynthetic()).as(s.getPromptId())
                            .isCloseTo(l.getOpponentLogpSynthetic(), org.assertj.core.data.Offset.offset(1e-3));
                }
                assertThat(s.getOpponentLogpHuman()).as(s.getPromptId()).isNegative()
                        .isCloseTo(l.getOpponentLogpHuman(), org.assertj.core.data.Offset.offset(1e-3));
            }
        }
    }

    /** A rank-4 LoRA adapter over {@code base} with random (non-zero) B, saved as the run's round-1 candidate. */
    private static CheckpointMetadata adapterOver(SpinFixtures f, CheckpointMetadata base) {
        try (NDManager m = NDManager.newBaseManager(); LlamaModel model = SpinFixtures.tinyModel(m, 7)) {
            model.attach(LoraAdapter.init(model.config(), LoraConfig.of(4, 8), model.manager(), 3));
            LoraAdapter lora = model.adapter();
            for (Map.Entry<String, NDArray> p : lora.parameters().entrySet()) {
                if (p.getKey().contains("lora_B")) {
                    p.getValue().addi(m.randomNormal(0f, 0.5f, p.getValue().getShape(), p.getValue().getDataType()));
                }
            }
            return f.store.save(model, f.tokenizerOf(base.id()),
                    CheckpointMetadata.of("r1", base.id(), 1, 1, null, null).adapterOver(base.id(), base.sha256()));
        }
    }

    @Test
    void anUnreachableServerIsTransient(@TempDir Path dir) throws Exception {
        int port;
        try (ServerSocket s = new ServerSocket(0)) {
            port = s.getLocalPort(); // closed again: nothing listens there
        }
        OpenAiClient server = new OpenAiClient(URI.create("http://127.0.0.1:" + port + "/v1"), Duration.ofSeconds(2), 2,
                Optional.empty(), () -> new io.spinstream.runtime.Backoff(Duration.ofMillis(10), Duration.ofMillis(10)));
        assertThatThrownBy(server::models).satisfies(e -> assertThat(FaultKind.isTransient(e)).isTrue())
                .hasMessageContaining("unreachable").hasMessageContaining("(2 attempts)");
        assertThat(ServedOpponent.source(server, PromptTemplate.PLAIN, CheckpointLocation.ANYWHERE, Optional.empty(), 4).describe())
                .isEqualTo("the OpenAI-compatible server at http://127.0.0.1:" + port + "/v1/");
    }
}
