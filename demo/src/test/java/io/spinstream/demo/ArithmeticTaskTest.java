package io.spinstream.demo;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class ArithmeticTaskTest {

    private static long number(String digits, boolean reversed) {
        return Long.parseLong(reversed ? new StringBuilder(digits).reverse().toString() : digits);
    }

    @ParameterizedTest
    @ValueSource(booleans = {true, false})
    void everyAnswerIsTheSumInTheTasksDigitOrder(boolean reversed) {
        ArithmeticTask task = new ArithmeticTask(3, 500, 100, 9, reversed);
        for (ArithmeticTask.Example e : Stream.concat(task.examples().stream(), task.validationExamples().stream()).toList()) {
            String[] ops = e.prompt().substring(0, e.prompt().length() - 1).split("\\+");
            assertThat(e.prompt()).endsWith("=");
            assertThat(number(e.answer(), reversed)).isEqualTo(number(ops[0], reversed) + number(ops[1], reversed));
            assertThat(e.answer().length()).isLessThanOrEqualTo(task.maxAnswerTokens() - 1);
        }
    }

    @Test
    void theSameArgumentsGiveTheSameProblemsAndValidationIsDisjoint() {
        ArithmeticTask a = new ArithmeticTask(2, 300, 50, 1, true);
        assertThat(new ArithmeticTask(2, 300, 50, 1, true).examples()).isEqualTo(a.examples());
        assertThat(new ArithmeticTask(2, 300, 50, 2, true).examples()).isNotEqualTo(a.examples());
        Set<String> problems = new HashSet<>();
        Set<String> ids = new HashSet<>();
        for (ArithmeticTask.Example e : Stream.concat(a.examples().stream(), a.validationExamples().stream()).toList()) {
            assertThat(problems.add(e.prompt())).as("problem %s drawn twice", e.prompt()).isTrue();
            assertThat(ids.add(e.id())).isTrue();
        }
        assertThat(a.examples()).hasSize(300);
        assertThat(a.validationExamples()).hasSize(50).allMatch(e -> e.id().startsWith("val"));
        assertThat(a.toPrompt("arith", a.examples().get(0)).getTask().getVerifiable()).isTrue();
    }

    @Test
    void moreProblemsThanExistAreRefused() {
        assertThatThrownBy(() -> new ArithmeticTask(1, 60, 0, 1, true)).hasMessageContaining("distinct");
        assertThat(List.of(new ArithmeticTask(1, 40, 0, 1, false).examples().size())).containsExactly(40);
    }
}
