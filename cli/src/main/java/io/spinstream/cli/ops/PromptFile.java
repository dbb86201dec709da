package io.spinstream.cli.ops;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.spinstream.schemas.Prompt;
import io.spinstream.schemas.TaskMetadata;

import java.io.BufferedReader;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A JSON Lines file of prompts: one object per line with {@code prompt_id}, {@code prompt},
 * {@code human_response} and optionally {@code task} ({@code kind}, {@code verifiable}, {@code suites},
 * {@code attributes}). Every line is checked before anything is sent; problems carry their line numbers.
 */
public record PromptFile(List<Prompt> prompts, List<String> problems) {
    private static final ObjectMapper JSON = new ObjectMapper();

    public static PromptFile read(Path file, String stream) throws IOException {
        List<Prompt> prompts = new ArrayList<>();
        List<String> problems = new ArrayList<>();
        Set<String> ids = new HashSet<>();
        Instant now = Instant.now();
        try (BufferedReader in = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
            String line;
            int number = 0;
            while ((line = in.readLine()) != null) {
                number++;
                if (line.isBlank()) {
                    continue;
                }
                try {
                    JsonNode n = JSON.readTree(line);
                    String id = text(n, "prompt_id");
                    String prompt = text(n, "prompt");
                    String human = text(n, "human_response");
                    if (!ids.add(id)) {
                        throw new IllegalArgumentException("prompt_id '" + id + "' appears twice in the file");
                    }
                    JsonNode t = n.path("task");
                    List<String> suites = new ArrayList<>();
                    t.path("suites").forEach(s -> suites.add(s.asText()));
                    Map<String, String> attributes = new HashMap<>();
                    t.path("attributes").fields().forEachRemaining(e -> attributes.put(e.getKey(), e.getValue().asText()));
                    prompts.add(Prompt.newBuilder().setPromptId(id).setStream(stream).setPrompt(prompt).setHumanResponse(human)
                            .setTask(TaskMetadata.newBuilder().setKind(t.path("kind").asText("open"))
                                    .setVerifiable(t.path("verifiable").asBoolean(false)).setSuites(suites)
                                    .setAttributes(attributes).build())
                            .setCreatedAt(now).build());
                } catch (IOException | RuntimeException e) {
                    problems.add("line " + number + ": " + (e instanceof IOException ? "not JSON: " : "") + e.getMessage());
                }
            }
        }
        return new PromptFile(prompts, problems);
    }

    private static String text(JsonNode n, String field) {
        JsonNode v = n.get(field);
        if (v == null || !v.isTextual() || (v.asText().isBlank() && !field.equals("human_response"))) {
            throw new IllegalArgumentException(field + " is missing or not a non-empty string");
        }
        return v.asText();
    }
}
