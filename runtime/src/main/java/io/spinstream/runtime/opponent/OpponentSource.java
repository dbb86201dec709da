package io.spinstream.runtime.opponent;

import ai.djl.ndarray.NDManager;
import io.spinstream.model.Precision;
import io.spinstream.model.tokenizer.PromptTemplate;
import io.spinstream.schemas.OpponentPromotion;

/** How a promoted checkpoint becomes the opponent that answers: loaded into this JVM, or served elsewhere. */
public interface OpponentSource {

    /**
     * The opponent {@code promotion} names, taking {@code previous} over (the caller no longer closes it).
     *
     * @throws RuntimeException where it cannot answer yet (its files still arriving, a server not serving it yet):
     *                          the caller backs off and asks again
     */
    OpponentModel next(OpponentModel previous, OpponentPromotion promotion, NDManager manager);

    /** Where answers come from, for the log. */
    String describe();

    /** The checkpoint's model in this JVM ({@link Opponent#next}: an adapter over the one loaded is merged into it). */
    static OpponentSource inProcess(PromptTemplate template, CheckpointLocation location, Precision precision) {
        return new OpponentSource() {
            @Override
            public OpponentModel next(OpponentModel previous, OpponentPromotion promotion, NDManager manager) {
                return Opponent.next((Opponent) previous, promotion, manager, template, location, precision);
            }

            @Override
            public String describe() {
                return "the model in this process (" + precision + ")";
            }
        };
    }
}
