package io.spinstream.demo;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;

/** The rounds as text: one line as each verdict arrives, and the table at the end (Markdown). */
public final class RoundTable {
    private RoundTable() {
    }

    static String line(RoundResult r) {
        return String.format(Locale.ROOT, "round %d: %s %s — exact match %.4f (opponent %.4f), NLL %.4f (%.4f), "
                        + "preference accuracy %.3f, %.0f pairs, identical share %.3f, %.0f s (%.0f%% outside model compute)%n  %s",
                r.round(), r.candidateId(), r.verdict(), r.metric("exact_match"), r.baseline("exact_match"),
                r.metric("heldout_nll"), r.baseline("heldout_nll"), r.metric("preference_accuracy"),
                r.train("pairs_trained"), r.train("identical_share"), r.seconds(), 100 * r.outsideModelShare(),
                String.join("; ", r.reasons()));
    }

    static String markdown(DemoBase.Base base, List<RoundResult> rounds, double baseEm, double baseNll) {
        StringBuilder sb = new StringBuilder();
        sb.append(String.format(Locale.ROOT, "base %s: SFT exact match train %.3f, validation %.3f, held-out %.3f (%s)%n%n",
                base.metadata().id(), base.metadata().metrics().get("train_em"), base.metadata().metrics().get("validation_em"),
                base.heldOutEm(), base.reused() ? "reused" : "trained now"));
        sb.append("| round | candidate | opponent | verdict | held-out EM | held-out NLL | preference acc. | pairs | identical share | lr | wall s | model s | outside model |\n");
        sb.append("|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
        sb.append(String.format(Locale.ROOT, "| 0 | %s (base) | | | %.4f | %.4f | | | | | | | |%n", base.metadata().id(), baseEm, baseNll));
        for (RoundResult r : rounds) {
            sb.append(String.format(Locale.ROOT, "| %d | %s | %s | %s | %.4f | %.4f | %.3f | %.0f | %.3f | %.2g | %.0f | %.0f | %.2f |%n",
                    r.round(), r.candidateId(), r.opponentId(), r.verdict(), r.metric("exact_match"), r.metric("heldout_nll"),
                    r.metric("preference_accuracy"), r.train("pairs_trained"), r.train("identical_share"), r.train("lr"),
                    r.seconds(), r.modelSeconds(), r.outsideModelShare()));
        }
        return sb.toString();
    }

    static void write(Path file, String text) {
        try {
            Files.createDirectories(file.toAbsolutePath().getParent());
            Files.writeString(file, text);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + file, e);
        }
    }
}
