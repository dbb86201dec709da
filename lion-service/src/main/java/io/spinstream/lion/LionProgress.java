package io.spinstream.lion;

import io.spinstream.schemas.LionJudgement;
import io.spinstream.schemas.Prompt;

import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Lion's iterations as the topics record them: per student round, the prompts judged (hard and easy) and the new
 * prompts written from that round's judgements; and the pools' sizes. What {@code spin status} prints.
 */
public record LionProgress(int trainPool, int cachePool, Map<Integer, Round> rounds) {

    public record Round(int judged, int hard, int written) {
        public int easy() {
            return judged - hard;
        }
    }

    /** From the judgements topic and the two pools (each a compacted topic: its latest record per prompt counts). */
    public static LionProgress of(List<LionJudgement> judgements, List<Prompt> train, List<Prompt> cache) {
        Map<Integer, Map<String, Boolean>> hardByRound = new TreeMap<>();
        for (LionJudgement j : judgements) {
            hardByRound.computeIfAbsent(j.getRound(), r -> new java.util.HashMap<>()).put(j.getPrompt().getPromptId(), j.getHard());
        }
        Map<String, Prompt> cacheById = new java.util.LinkedHashMap<>();
        cache.forEach(p -> cacheById.put(p.getPromptId(), p));
        Map<Integer, Integer> written = new TreeMap<>();
        for (Prompt p : cacheById.values()) {
            String round = p.getTask().getAttributes().get(GenerationStep.ROUND_ATTRIBUTE);
            if (round != null && round.matches("\\d+")) {
                written.merge(Integer.parseInt(round), 1, Integer::sum);
            }
        }
        Map<Integer, Round> rounds = new TreeMap<>();
        java.util.Set<Integer> all = new java.util.TreeSet<>(hardByRound.keySet());
        all.addAll(written.keySet());
        for (int r : all) {
            Map<String, Boolean> h = hardByRound.getOrDefault(r, Map.of());
            rounds.put(r, new Round(h.size(), (int) h.values().stream().filter(b -> b).count(), written.getOrDefault(r, 0)));
        }
        long trainCount = train.stream().map(Prompt::getPromptId).distinct().count();
        return new LionProgress((int) trainCount, cacheById.size(), rounds);
    }

    public List<String> lines() {
        List<String> out = new java.util.ArrayList<>();
        out.add(String.format("lion: train pool %d prompts, cache pool %d", trainPool, cachePool));
        rounds.forEach((r, x) -> out.add(String.format("lion round %d: %d judged, %d hard, %d easy; %d new prompts kept",
                r, x.judged(), x.hard(), x.easy(), x.written())));
        return out;
    }
}
