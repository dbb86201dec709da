package io.spinstream.evaluator;

import io.spinstream.runtime.kafka.TopicReader;
import io.spinstream.schemas.HeldOutSplit;
import io.spinstream.schemas.Prompt;
import io.spinstream.schemas.Topics;

import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The held-out prompts of every stream (latest version of each id) that carry a human answer, the first
 * {@code maxPrompts} by id: an unlabelled prompt has no reference to score against.
 */
final class HeldOutPrompts {
    private final TopicReader reader;
    private final Topics topics;
    private final HeldOutSplit split;
    private final int maxPrompts;

    HeldOutPrompts(TopicReader reader, Topics topics, HeldOutSplit split, int maxPrompts) {
        this.reader = reader;
        this.topics = topics;
        this.split = split;
        this.maxPrompts = maxPrompts;
    }

    List<Prompt> read() {
        Map<String, Prompt> latest = new HashMap<>();
        reader.readAll(topics.promptsPattern(), r -> {
            if (r.value() == null || r.key() == null) {
                return;
            }
            try {
                Prompt p = topics.prompts(topics.streamOf(r.topic())).deserializeValue(r.value());
                if (split.isHeldOut(p.getPromptId())) {
                    latest.put(p.getStream() + "/" + p.getPromptId(), p);
                }
            } catch (RuntimeException e) {
                // unreadable prompts are the generator's dead letters; they are not scored
            }
        });
        return latest.values().stream().filter(p -> p.getHumanResponse() != null).sorted(Comparator.comparing(Prompt::getPromptId)).limit(maxPrompts).toList();
    }
}
