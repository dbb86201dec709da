/**
 * trainer-service: joins synthetic answers with their prompts into training pairs (Kafka Streams),
 * trains the main player with the SPIN objective and writes candidate checkpoints carrying the consumed
 * offsets. Built by the trainer issue.
 */
package io.spinstream.trainer;
