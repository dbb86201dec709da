/**
 * generator-service: reads every prompt stream by pattern and answers each prompt with the current
 * opponent checkpoint, publishing {@code SyntheticResponse} records exactly once. Built by the
 * generator issue on the runtime ({@code io.spinstream.runtime}) and the model ({@code io.spinstream.model}).
 */
package io.spinstream.generator;
