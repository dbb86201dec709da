package io.spinstream.lion;

import io.micrometer.core.instrument.MeterRegistry;
import io.spinstream.lion.roles.Teacher;
import io.spinstream.runtime.SpinContext;
import io.spinstream.runtime.deadletter.Decoded;
import io.spinstream.runtime.deadletter.RecordDecoder;
import io.spinstream.runtime.http.Fanout;
import io.spinstream.runtime.http.JsonEndpoint;
import io.spinstream.schemas.HeldOutSplit;
import io.spinstream.schemas.Prompt;
import io.spinstream.schemas.Topics;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.producer.ProducerRecord;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Imitation: the teacher answers every prompt of the train pool once, and the prompt goes to the prompt stream
 * {@code <prefix>.prompts.lion} with the teacher's answer as its response, where the usual pipeline trains the
 * student on it (objective {@code sft}) and the evaluator gates its candidates. Prompts of the held-out and test
 * shares are left out: the gate and the reports score the student on data with true answers, not the teacher's.
 */
final class ImitationStep extends PoolStep {
    private final Teacher teacher;
    private final HeldOutSplit split;
    private final Fanout fanout;
    private final RecordDecoder<String, Prompt> decoder;

    ImitationStep(SpinContext context, MeterRegistry metrics, Teacher teacher, HeldOutSplit split, int batchSize, int concurrency) {
        super("imitate", context, metrics, batchSize);
        this.teacher = teacher;
        this.split = split;
        this.fanout = new Fanout(concurrency, "the teacher " + teacher.describe());
        this.decoder = new RecordDecoder<>(t -> context.topics().lionTrain(), deadLetters);
    }

    @Override
    protected Optional<String> group() {
        return Optional.of(context.topics().prefix() + "-lion-imitate");
    }

    @Override
    protected String topic() {
        return context.topics().lionTrain().name();
    }

    @Override
    protected Output transform(List<ConsumerRecord<byte[], byte[]>> batch) {
        Decoded<String, Prompt> decoded = decoder.decode(batch);
        List<ProducerRecord<byte[], byte[]>> letters = new ArrayList<>(decoded.deadLetters());
        List<Decoded.Read<String, Prompt>> asked = decoded.records().stream().filter(r -> split.isTraining(r.value().getPromptId())).toList();
        List<Object> answers = fanout.map(asked.size(), i -> {
            try {
                return teacher.answer(asked.get(i).value(), seedOf(asked.get(i).value().getPromptId()));
            } catch (JsonEndpoint.Refused e) {
                return e;
            }
        });
        List<ProducerRecord<byte[], byte[]>> out = new ArrayList<>();
        for (int i = 0; i < asked.size(); i++) {
            Prompt p = asked.get(i).value();
            if (answers.get(i) instanceof JsonEndpoint.Refused refused) {
                letters.add(deadLetters.record(asked.get(i).raw(), "the teacher refused it: " + refused.getMessage()));
                continue;
            }
            Prompt imitated = Prompt.newBuilder(p).setStream(Topics.LION_STREAM).setHumanResponse((String) answers.get(i)).build();
            out.add(context.topics().prompts(Topics.LION_STREAM).rawRecord(p.getPromptId(), imitated));
        }
        return new Output(out, letters, Map.of("teacher.calls.imitation", (long) asked.size(), "imitated", (long) out.size()));
    }

    static long seedOf(String promptId) {
        return promptId.hashCode() * 1_000_003L;
    }
}
