/**
 * The language model on DJL: architecture, tokenizer, log-probs, generation, objectives, optimiser and
 * checkpoints. Knows nothing of Kafka.
 */
package io.spinstream.model;
