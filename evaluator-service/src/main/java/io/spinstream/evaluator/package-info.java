/**
 * evaluator-service: scores every candidate checkpoint against the opponent on held-out prompts and
 * promotes it only when the gate passes, in one transaction. Built by the evaluator issue.
 */
package io.spinstream.evaluator;
