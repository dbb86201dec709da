package io.spinstream.lion.roles;

import com.fasterxml.jackson.databind.node.ArrayNode;
import io.spinstream.runtime.openai.OpenAiClient;
import io.spinstream.schemas.ChatTurn;
import io.spinstream.schemas.Prompt;

/** Lion's teacher T: a model behind an OpenAI-compatible chat endpoint that answers a prompt (its turns, where it has them). */
public record Teacher(OpenAiClient server, String model, double temperature, int maxTokens) {

    /**
     * @throws io.spinstream.runtime.http.JsonEndpoint.Refused      the teacher refused this prompt: its dead letter
     * @throws io.spinstream.runtime.http.JsonEndpoint.Unavailable the teacher could not be reached: transient
     */
    public String answer(Prompt prompt, long seed) {
        var req = OpenAiClient.request().put("model", model).put("temperature", temperature).put("max_tokens", maxTokens)
                .put("seed", seed);
        ArrayNode messages = req.putArray("messages");
        if (prompt.getMessages().isEmpty()) {
            messages.addObject().put("role", "user").put("content", prompt.getPrompt());
        } else {
            for (ChatTurn t : prompt.getMessages()) {
                messages.addObject().put("role", t.getRole()).put("content", t.getContent());
            }
        }
        return server.chat(req).strip();
    }

    public String describe() {
        return model + " at " + server.base();
    }
}
