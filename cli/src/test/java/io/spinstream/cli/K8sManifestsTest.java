package io.spinstream.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.EnvFromSource;
import io.fabric8.kubernetes.api.model.EnvVar;
import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.PersistentVolumeClaim;
import io.fabric8.kubernetes.api.model.PodSpec;
import io.fabric8.kubernetes.api.model.PodTemplateSpec;
import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.api.model.Secret;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.fabric8.kubernetes.api.model.apps.StatefulSet;
import io.fabric8.kubernetes.api.model.autoscaling.v2.HorizontalPodAutoscaler;
import io.fabric8.kubernetes.client.utils.Serialization;
import io.spinstream.cli.ops.KafkaTopicManifests;
import io.fabric8.kubernetes.api.model.batch.v1.Job;
import io.spinstream.evaluator.EvaluatorKeys;
import io.spinstream.runtime.RoundZeroMain;
import io.spinstream.runtime.config.InitKeys;
import io.spinstream.generator.GeneratorKeys;
import io.spinstream.runtime.ServiceLauncher;
import io.spinstream.runtime.config.ConfigKey;
import io.spinstream.runtime.config.ServiceConfig;
import io.spinstream.schemas.AvroSerdes;
import io.spinstream.schemas.Topics;
import io.spinstream.trainer.TrainerKeys;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;

/**
 * Every overlay under k8s/ renders with {@code kubectl kustomize}, every object parses as its Kubernetes
 * type with what it needs, and the services' containers get only keys they read, with every required key
 * set and every value valid (loaded exactly as the service loads its configuration).
 */
class K8sManifestsTest {
    private static final Path K8S = Path.of(System.getProperty("maven.multiModuleProjectDirectory", ".."), "k8s");
    private static final Map<String, List<ConfigKey<?>>> SERVICE_KEYS = Map.of(
            "spin-generator", ServiceLauncher.keys(GeneratorKeys.all()),
            "spin-trainer", ServiceLauncher.keys(TrainerKeys.all()),
            "spin-evaluator", ServiceLauncher.keys(EvaluatorKeys.all()),
            "spin-init", ServiceLauncher.keys(InitKeys.all()),
            "spin-lion", ServiceLauncher.keys(io.spinstream.lion.LionKeys.all()));

    @BeforeAll
    static void kubectlIsThere() {
        assertThat(Files.isDirectory(K8S.resolve("overlays"))).as("k8s/overlays under " + K8S.toAbsolutePath()).isTrue();
    }

    static List<HasMetadata> render(String overlay) throws IOException, InterruptedException {
        Process p = new ProcessBuilder("kubectl", "kustomize", K8S.resolve("overlays").resolve(overlay).toString())
                .redirectErrorStream(false).start();
        byte[] out = p.getInputStream().readAllBytes();
        String err = new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
        assertThat(p.exitValue()).as("kubectl kustomize %s: %s", overlay, err).isZero();
        List<HasMetadata> objects = new ArrayList<>();
        for (String doc : new String(out, StandardCharsets.UTF_8).split("(?m)^---$")) {
            if (!doc.isBlank()) {
                objects.add(Serialization.unmarshal(doc));
            }
        }
        return objects;
    }

    @SuppressWarnings("unchecked")
    static <T extends HasMetadata> List<T> all(List<HasMetadata> objects, Class<T> type) {
        return objects.stream().filter(type::isInstance).map(o -> (T) o).toList();
    }

    static List<GenericKubernetesResource> custom(List<HasMetadata> objects, String kind) {
        return all(objects, GenericKubernetesResource.class).stream().filter(o -> o.getKind().equals(kind)).toList();
    }

    static HasMetadata named(List<HasMetadata> objects, String kind, String name) {
        return objects.stream().filter(o -> o.getKind().equals(kind) && o.getMetadata().getName().equals(name)).findFirst()
                .orElseThrow(() -> new AssertionError("no " + kind + " " + name));
    }

    @ParameterizedTest
    @ValueSource(strings = {"dev", "gpu", "lion"})
    void everyObjectIsWellFormed(String overlay) throws Exception {
        List<HasMetadata> objects = render(overlay);
        assertThat(objects).extracting(HasMetadata::getKind).contains("Deployment", "StatefulSet", "Service", "ConfigMap",
                "PersistentVolumeClaim", "KafkaTopic", "ServiceMonitor", "PrometheusRule");
        String namespace = objects.get(0).getMetadata().getNamespace();
        for (HasMetadata o : objects) {
            assertThat(o.getApiVersion()).as("apiVersion of %s", o.getKind()).isNotBlank();
            assertThat(o.getMetadata().getName()).as("name of a %s", o.getKind()).isNotBlank();
            assertThat(o.getMetadata().getNamespace()).as("namespace of %s %s", o.getKind(), o.getMetadata().getName())
                    .isEqualTo(namespace).isNotBlank();
        }
        List<PodTemplateSpec> templates = new ArrayList<>();
        for (Deployment d : all(objects, Deployment.class)) {
            assertThat(d.getSpec().getTemplate().getMetadata().getLabels()).containsAllEntriesOf(d.getSpec().getSelector().getMatchLabels());
            templates.add(d.getSpec().getTemplate());
        }
        for (StatefulSet s : all(objects, StatefulSet.class)) {
            assertThat(s.getSpec().getTemplate().getMetadata().getLabels()).containsAllEntriesOf(s.getSpec().getSelector().getMatchLabels());
            assertThat(named(objects, "Service", s.getSpec().getServiceName())).isNotNull();
            templates.add(s.getSpec().getTemplate());
        }
        for (PodTemplateSpec t : templates) {
            PodSpec pod = t.getSpec();
            assertThat(pod.getSecurityContext().getRunAsNonRoot()).as("runAsNonRoot").isTrue();
            for (Container c : pod.getContainers()) {
                assertThat(c.getImage()).isNotBlank();
                assertThat(c.getResources().getRequests()).as("requests of %s", c.getName()).containsKeys("cpu", "memory");
                assertThat(c.getSecurityContext().getReadOnlyRootFilesystem()).as("read-only root of %s", c.getName()).isTrue();
                assertThat(c.getSecurityContext().getAllowPrivilegeEscalation()).isFalse();
                assertThat(c.getReadinessProbe()).as("readiness probe of %s", c.getName()).isNotNull();
                // Every mounted volume exists in the pod or its claim templates.
                c.getVolumeMounts().forEach(m -> assertThat(pod.getVolumes().stream().anyMatch(v -> v.getName().equals(m.getName()))
                        || all(objects, StatefulSet.class).stream().anyMatch(s -> s.getSpec().getVolumeClaimTemplates().stream()
                        .anyMatch(v -> v.getMetadata().getName().equals(m.getName())))).as("volume %s", m.getName()).isTrue());
            }
            pod.getVolumes().stream().filter(v -> v.getPersistentVolumeClaim() != null).forEach(v ->
                    named(objects, "PersistentVolumeClaim", v.getPersistentVolumeClaim().getClaimName()));
        }
        for (Service s : all(objects, Service.class)) {
            assertThat(templates).as("a workload behind service %s", s.getMetadata().getName())
                    .anyMatch(t -> t.getMetadata().getLabels().entrySet().containsAll(s.getSpec().getSelector().entrySet()));
        }
        PersistentVolumeClaim checkpoints = (PersistentVolumeClaim) named(objects, "PersistentVolumeClaim", "spin-checkpoints");
        assertThat(checkpoints.getSpec().getAccessModes()).containsExactly("ReadWriteMany");

        // Autoscaling targets the generator Deployment, by KEDA or by a plain HPA.
        List<String> scaled = new ArrayList<>();
        all(objects, HorizontalPodAutoscaler.class).forEach(h -> scaled.add(h.getSpec().getScaleTargetRef().getName()));
        custom(objects, "ScaledObject").forEach(s -> {
            Map<String, Object> spec = (Map<String, Object>) s.getAdditionalProperties().get("spec");
            scaled.add((String) ((Map<String, Object>) spec.get("scaleTargetRef")).get("name"));
            assertThat((List<?>) spec.get("triggers")).isNotEmpty();
        });
        assertThat(scaled).containsExactly("spin-generator");
        named(objects, "Deployment", "spin-generator");

        // Monitoring: every service scraped; every alert has an expression.
        GenericKubernetesResource monitor = custom(objects, "ServiceMonitor").get(0);
        assertThat(Serialization.asJson(monitor)).contains("spin-generator", "spin-trainer", "spin-evaluator");
        JsonNode rules = new ObjectMapper().readTree(Serialization.asJson(custom(objects, "PrometheusRule").get(0)));
        List<String> alerts = new ArrayList<>();
        rules.at("/spec/groups").forEach(g -> g.get("rules").forEach(r -> {
            assertThat(r.path("expr").asText()).isNotBlank();
            alerts.add(r.path("alert").asText());
        }));
        assertThat(alerts).contains("SpinGenerationLagGrowing", "SpinNoCheckpoint", "SpinRejectionsInARow");
        ConfigMap dashboard = (ConfigMap) named(objects, "ConfigMap", "spin-grafana-dashboard");
        JsonNode dash = new ObjectMapper().readTree(dashboard.getData().get("spinstream.json"));
        assertThat(dash.path("panels").size()).isGreaterThanOrEqualTo(6);
    }

    @ParameterizedTest
    @ValueSource(strings = {"dev", "gpu", "external-registry", "lion"})
    void everyServiceGetsOnlyKeysItReadsAndEveryRequiredOne(String overlay) throws Exception {
        List<HasMetadata> objects = render(overlay);
        Map<String, Container> containers = new HashMap<>();
        all(objects, Deployment.class).forEach(d -> containers.put(d.getMetadata().getName(), d.getSpec().getTemplate().getSpec().getContainers().get(0)));
        all(objects, StatefulSet.class).forEach(s -> containers.put(s.getMetadata().getName(), s.getSpec().getTemplate().getSpec().getContainers().get(0)));
        all(objects, Job.class).forEach(j -> containers.put(j.getMetadata().getName(), j.getSpec().getTemplate().getSpec().getContainers().get(0)));
        assertThat(containers).containsKeys(SERVICE_KEYS.keySet().stream().filter(n -> !n.equals("spin-lion")).toArray(String[]::new));
        assertThat(containers.containsKey("spin-lion")).as("Lion only where its component is").isEqualTo(overlay.equals("lion"));
        // The init Job runs spin init's main class, on the checkpoint volume, as a non-root user.
        Job init = all(objects, Job.class).stream().filter(j -> j.getMetadata().getName().equals("spin-init")).findFirst().orElseThrow();
        List<String> command = init.getSpec().getTemplate().getSpec().getContainers().get(0).getCommand();
        assertThat(command).contains(RoundZeroMain.class.getName());
        assertThat(init.getSpec().getTemplate().getSpec().getSecurityContext().getRunAsNonRoot()).isTrue();
        assertThat(init.getSpec().getTemplate().getSpec().getContainers().get(0).getSecurityContext().getReadOnlyRootFilesystem()).isTrue();
        assertThat(init.getSpec().getTemplate().getSpec().getVolumes()).anyMatch(v -> v.getPersistentVolumeClaim() != null
                && v.getPersistentVolumeClaim().getClaimName().equals("spin-checkpoints"));
        for (Map.Entry<String, List<ConfigKey<?>>> svc : SERVICE_KEYS.entrySet()) {
            if (!containers.containsKey(svc.getKey())) {
                continue; // an optional service (Lion) this overlay leaves out
            }
            Map<String, String> env = environment(objects, containers.get(svc.getKey()));
            Map<String, ConfigKey<?>> byEnv = new HashMap<>();
            svc.getValue().forEach(k -> byEnv.put(k.envName(), k));
            for (String name : env.keySet()) {
                if (name.startsWith("SPIN_") && !name.startsWith("SPIN_KAFKA_")) {
                    assertThat(byEnv).as("%s sets %s, which %s does not read", overlay, name, svc.getKey()).containsKey(name);
                }
            }
            for (ConfigKey<?> k : svc.getValue()) {
                if (k.required()) {
                    assertThat(env).as("%s: %s needs %s", overlay, svc.getKey(), k.envName()).containsKey(k.envName());
                }
            }
            assertThatCode(() -> ServiceConfig.load(svc.getValue(), env, Optional.empty(), Map.of()))
                    .as("%s's configuration in %s", svc.getKey(), overlay).doesNotThrowAnyException();
        }
    }

    /** What a container's environment holds: its envFrom ConfigMaps and Secrets (as rendered), then env. */
    private static Map<String, String> environment(List<HasMetadata> objects, Container c) {
        Map<String, String> env = new HashMap<>();
        for (EnvFromSource from : c.getEnvFrom()) {
            if (from.getConfigMapRef() != null) {
                env.putAll(((ConfigMap) named(objects, "ConfigMap", from.getConfigMapRef().getName())).getData());
            }
            if (from.getSecretRef() != null) {
                Optional<Secret> s = all(objects, Secret.class).stream()
                        .filter(x -> x.getMetadata().getName().equals(from.getSecretRef().getName())).findFirst();
                assertThat(s.isPresent() || Boolean.TRUE.equals(from.getSecretRef().getOptional()))
                        .as("secret %s exists or is optional", from.getSecretRef().getName()).isTrue();
                s.ifPresent(x -> env.putAll(x.getStringData() != null ? x.getStringData() : Map.of()));
            }
        }
        for (EnvVar v : c.getEnv()) {
            if (v.getValue() != null) {
                env.put(v.getName(), v.getValue());
            } else if (v.getValueFrom().getConfigMapKeyRef() != null) {
                var ref = v.getValueFrom().getConfigMapKeyRef();
                String value = ((ConfigMap) named(objects, "ConfigMap", ref.getName())).getData().get(ref.getKey());
                assertThat(value).as("%s from ConfigMap %s key %s", v.getName(), ref.getName(), ref.getKey()).isNotNull();
                env.put(v.getName(), value);
            } else {
                env.put(v.getName(), "from-" + v.getValueFrom().getFieldRef().getFieldPath());
            }
        }
        return env;
    }

    @Test
    void theExternalRegistryOverlayDropsTheProjectsRegistryAndPointsAtTheTeams() throws Exception {
        List<HasMetadata> objects = render("external-registry");
        assertThat(objects.stream().filter(o -> o.getMetadata().getName().equals("spin-registry")).toList())
                .as("no Apicurio Deployment or Service").isEmpty();
        ConfigMap common = (ConfigMap) named(objects, "ConfigMap", "spin-common");
        assertThat(common.getData()).containsEntry("SPIN_REGISTRY_API", "confluent")
                .containsEntry("SPIN_REGISTRY_URL", "https://schema-registry.example.com");
        io.fabric8.kubernetes.api.model.Secret secret = (io.fabric8.kubernetes.api.model.Secret) named(objects, "Secret", "spin-registry-client");
        assertThat(secret.getStringData()).containsEntry("SPIN_REGISTRY_BASIC_AUTH_CREDENTIALS_SOURCE", "USER_INFO")
                .containsKey("SPIN_REGISTRY_BASIC_AUTH_USER_INFO");
        // The base's own registry is the dev stack's Apicurio through its Confluent API.
        assertThat(((ConfigMap) named(render("dev"), "ConfigMap", "spin-common")).getData().get("SPIN_REGISTRY_URL"))
                .endsWith("/apis/ccompat/v7");
    }

    @Test
    void theLionOverlayAddsTheLionServiceAndTrainsTheStudentBySft() throws Exception {
        List<HasMetadata> objects = render("lion");
        HasMetadata lion = named(objects, "Deployment", "spin-lion");
        assertThat(((io.fabric8.kubernetes.api.model.apps.Deployment) lion).getSpec().getTemplate().getSpec().getContainers().get(0)
                .getImage()).isEqualTo("spinstream/lion-service:0.1.0-SNAPSHOT");
        assertThat(((ConfigMap) named(objects, "ConfigMap", "spin-trainer")).getData()).containsEntry("SPIN_TRAINER_OBJECTIVE", "sft");
        assertThat(((ConfigMap) named(objects, "ConfigMap", "spin-lion")).getData()).containsKeys("SPIN_LION_TEACHER_URL",
                "SPIN_LION_TEACHER_MODEL");
        assertThat(((ConfigMap) named(render("dev"), "ConfigMap", "spin-trainer")).getData().get("SPIN_TRAINER_OBJECTIVE"))
                .as("without Lion the trainer runs SPIN").startsWith("spin");
    }

    @Test
    void theGpuOverlayPutsTheTrainerOnAGpu() throws Exception {
        StatefulSet trainer = (StatefulSet) named(render("gpu"), "StatefulSet", "spin-trainer");
        Map<String, Quantity> limits = trainer.getSpec().getTemplate().getSpec().getContainers().get(0).getResources().getLimits();
        assertThat(limits).containsEntry("nvidia.com/gpu", new Quantity("1"));
        // The image built with -Pcuda (DJL's CUDA libtorch): the CPU one reports no GPU.
        assertThat(trainer.getSpec().getTemplate().getSpec().getContainers().get(0).getImage()).startsWith("spinstream/trainer-service-cuda");
        StatefulSet dev = (StatefulSet) named(render("dev"), "StatefulSet", "spin-trainer");
        assertThat(dev.getSpec().getTemplate().getSpec().getContainers().get(0).getResources().getLimits()).doesNotContainKey("nvidia.com/gpu");
        assertThat(dev.getSpec().getTemplate().getSpec().getContainers().get(0).getImage()).doesNotContain("cuda");
    }

    @Test
    void theTopicsMatchTheCatalogue() throws Exception {
        String committed = Files.readString(K8S.resolve("base/topics.yaml"));
        Topics topics = new Topics("spin", new Topics.Layout(6, (short) 3), new AvroSerdes("http://unused"));
        assertThat(committed).as("k8s/base/topics.yaml is stale: regenerate with ./spin k8s topics > k8s/base/topics.yaml")
                .isEqualTo(KafkaTopicManifests.yaml(topics, "spin-kafka"));
        List<GenericKubernetesResource> rendered = custom(render("gpu"), "KafkaTopic");
        assertThat(rendered).extracting(t -> ((Map<String, Object>) t.getAdditionalProperties().get("spec")).get("topicName"))
                .containsExactlyInAnyOrderElementsOf(topics.fixed().stream().map(t -> (Object) t.name()).toList());
        List<GenericKubernetesResource> dev = custom(render("dev"), "KafkaTopic");
        assertThat(dev).allMatch(t -> ((Map<String, Object>) t.getAdditionalProperties().get("spec")).get("replicas").equals(1));
    }

    @ParameterizedTest
    @ValueSource(strings = {"dev", "gpu"})
    void theServicesLayoutMatchesTheTopics(String overlay) throws Exception {
        List<HasMetadata> objects = render(overlay);
        Map<String, String> common = ((ConfigMap) named(objects, "ConfigMap", "spin-common")).getData();
        String synthetic = common.get("SPIN_TOPIC_PREFIX") + ".synthetic";
        Map<String, Object> spec = custom(objects, "KafkaTopic").stream()
                .map(t -> (Map<String, Object>) t.getAdditionalProperties().get("spec"))
                .filter(x -> synthetic.equals(x.get("topicName"))).findFirst().orElseThrow();
        // New prompt streams must be co-partitioned with the synthetic answers for the pair join.
        assertThat(spec.get("partitions").toString()).as("%s: SPIN_TOPIC_PARTITIONS vs %s", overlay, synthetic)
                .isEqualTo(common.get("SPIN_TOPIC_PARTITIONS"));
        assertThat(spec.get("replicas").toString()).as("%s: SPIN_TOPIC_REPLICATION_FACTOR", overlay)
                .isEqualTo(common.get("SPIN_TOPIC_REPLICATION_FACTOR"));
    }
}
