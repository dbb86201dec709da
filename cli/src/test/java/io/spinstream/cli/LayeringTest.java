package io.spinstream.cli;

import com.tngtech.archunit.base.DescribedPredicate;
import com.tngtech.archunit.core.domain.JavaClass;
import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import com.tngtech.archunit.core.importer.ImportOption;
import io.spinstream.runtime.kafka.ExactlyOnceLoop;
import io.spinstream.runtime.kafka.TransactionStep;
import org.apache.kafka.clients.consumer.Consumer;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.Collection;
import java.util.List;

import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * The layering of the modules, checked on the compiled classes: the model and the trainer's round core
 * know nothing of Kafka, the services never use one another, and the demo uses a service only through its
 * public entry points (its main, service class, configuration keys, the trainer's round core, the
 * evaluator's suites, gate and its paired test).
 */
class LayeringTest {
    static final List<String> SERVICES = List.of("io.spinstream.generator", "io.spinstream.trainer", "io.spinstream.evaluator",
            "io.spinstream.lion");
    static JavaClasses classes;

    @BeforeAll
    static void importClasses() {
        classes = new ClassFileImporter().withImportOption(ImportOption.Predefined.DO_NOT_INCLUDE_TESTS)
                .importPackages("io.spinstream");
    }

    @Test
    void everyModuleIsImported() {
        // A rule over an empty import would pass: check that each layer's classes are there.
        for (String pkg : List.of("io.spinstream.model", "io.spinstream.trainer.round", "io.spinstream.generator",
                "io.spinstream.trainer", "io.spinstream.evaluator", "io.spinstream.demo", "io.spinstream.runtime", "io.spinstream.serve", "io.spinstream.lion", "io.spinstream.inference")) {
            assertThat(classes.stream().anyMatch(c -> c.getPackageName().startsWith(pkg))).as(pkg).isTrue();
        }
    }

    @Test
    void theModelAndTheRoundCoreImportNoKafka() {
        noClasses().that().resideInAnyPackage("io.spinstream.model..", "io.spinstream.trainer.round..")
                .should().dependOnClassesThat().resideInAnyPackage("org.apache.kafka..", "io.spinstream.runtime..")
                .because("they must be testable and reusable without a broker").check(classes);
        noClasses().that().resideInAPackage("io.spinstream.trainer.round..")
                .should().dependOnClassesThat().resideInAPackage("io.spinstream.trainer")
                .because("the service wires the round core, not the other way round").check(classes);
    }

    @Test
    void theInferenceLayerImportsNoKafka() {
        noClasses().that().resideInAPackage("io.spinstream.inference..")
                .should().dependOnClassesThat().resideInAnyPackage("org.apache.kafka..", "io.spinstream.runtime..",
                        "io.spinstream.schemas..")
                .because("a loaded model answers whoever asks: a service, spin serve, a benchmark").check(classes);
    }

    @Test
    void theServicesNeverImportEachOther() {
        for (String service : SERVICES) {
            String[] others = SERVICES.stream().filter(s -> !s.equals(service)).map(s -> s + "..").toArray(String[]::new);
            noClasses().that().resideInAPackage(service + "..").should().dependOnClassesThat().resideInAnyPackage(others)
                    .check(classes);
        }
        noClasses().that().resideInAnyPackage("io.spinstream.model..", "io.spinstream.schemas..", "io.spinstream.runtime..",
                        "io.spinstream.devstack..", "io.spinstream.serve..")
                .should().dependOnClassesThat().resideInAnyPackage(SERVICES.stream().map(s -> s + "..").toArray(String[]::new))
                .check(classes);
    }

    @Test
    void theDemoUsesTheServicesOnlyThroughTheirPublicEntryPoints() {
        noClasses().that().resideInAPackage("io.spinstream.demo..").should().dependOnClassesThat(INTERNAL).check(classes);
    }

    @Test
    void theServicesPublicCoresNeedNoBroker() {
        noClasses().that().resideInAnyPackage(PUBLIC_CORES.stream().map(p -> p + "..").toArray(String[]::new))
                .should().dependOnClassesThat().resideInAnyPackage("org.apache.kafka..", "io.spinstream.runtime.kafka..")
                .because("what other modules reuse of a service is a decision testable without Kafka").check(classes);
    }

    @Test
    void onlyTheExactlyOnceLoopRewindsAConsumer() {
        noClasses().that().doNotBelongToAnyOf(ExactlyOnceLoop.class, TransactionStep.class)
                .should().callMethod(TransactionStep.class, "rewind", Consumer.class, Collection.class)
                .because("the consuming services' transient-fault handling is the loop's, written once").check(classes);
    }

    /** The packages of the services that others may use: their reusable cores, Kafka-free. */
    static final List<String> PUBLIC_CORES = List.of("io.spinstream.trainer.round", "io.spinstream.evaluator.suite",
            "io.spinstream.evaluator.gate");

    /** A service's class that is not one of its entry points (main, service, keys) or in one of its public cores. */
    static final DescribedPredicate<JavaClass> INTERNAL = DescribedPredicate.describe("are a service's internal classes", c -> {
        String top = c.getName().replaceAll("\\$.*", "");
        String pkg = c.getPackageName();
        boolean service = SERVICES.stream().anyMatch(s -> pkg.equals(s) || pkg.startsWith(s + "."));
        boolean entry = top.endsWith("Main") || top.endsWith("Service") || top.endsWith("Keys")
                || PUBLIC_CORES.stream().anyMatch(core -> pkg.equals(core) || pkg.startsWith(core + "."));
        return service && !entry;
    });
}
