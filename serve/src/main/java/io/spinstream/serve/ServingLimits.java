package io.spinstream.serve;

/**
 * What one client may ask of the server, each a {@code spin serve} flag: refused with OpenAI's error shape before
 * any work is queued. The defaults let every ordinary request through and stop the ones that would hold the heap or
 * the model thread.
 *
 * @param maxBodyBytes        a request body over this is a 413, read no further
 * @param maxN                samples a prompt ({@code n})
 * @param maxPrompts          prompts a completion request
 * @param maxRequestTokens    prompts × n × (prompt + max_tokens) tokens a request
 * @param maxQueued           answers waiting for the model across clients: beyond it a 429
 * @param streamBufferEvents  streamed events buffered for a client that reads slower than the model writes; a client
 *                            that falls this far behind is dropped, never waited for
 * @param allowAdapterLoading whether {@code /v1/load_lora_adapter} and {@code /v1/unload_lora_adapter} are served
 * @param maxLoras            adapters held at once (vLLM's --max-loras): the least recently used one is unloaded
 */
public record ServingLimits(long maxBodyBytes, int maxN, int maxPrompts, long maxRequestTokens, int maxQueued,
                            int streamBufferEvents, boolean allowAdapterLoading, int maxLoras) {
    public static final ServingLimits DEFAULT = new ServingLimits(4L << 20, 16, 64, 1L << 20, 4096, 4096, false, 4);

    public ServingLimits {
        if (maxBodyBytes < 1024 || maxN < 1 || maxPrompts < 1 || maxRequestTokens < 1 || maxQueued < 1 || streamBufferEvents < 1
                || maxLoras < 1) {
            throw new IllegalArgumentException("serving limits must be positive (--max-body at least 1024 bytes): " + this);
        }
    }

    /** The same with adapter loading allowed (tests, and --allow-adapter-loading). */
    public ServingLimits withAdapterLoading() {
        return new ServingLimits(maxBodyBytes, maxN, maxPrompts, maxRequestTokens, maxQueued, streamBufferEvents, true, maxLoras);
    }
}
