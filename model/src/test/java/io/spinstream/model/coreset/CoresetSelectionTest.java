package io.spinstream.model.coreset;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import io.spinstream.model.LlamaConfig;
import io.spinstream.model.LlamaModel;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Random;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

class CoresetSelectionTest {

    @Test
    void kCenterGreedyAddsTheFarthestPointEachTime() {
        double[][] line = {{0}, {1}, {2}, {10}, {11}, {20}};
        // From {0}: 20 is farthest; then 10 (10 from both), not 11 (9 from 20).
        assertThat(CoresetSelection.greedy(line, List.of(0), 3)).containsExactly(0, 5, 3);
        assertThat(CoresetSelection.greedy(line, List.of(0), 6)).doesNotHaveDuplicates().hasSize(6);
    }

    /** Three tight, far-apart blobs of 2-D points; blob b is points 10b .. 10b+9. */
    private static double[][] blobs(long seed) {
        Random random = new Random(seed);
        double[][] centres = {{0, 0}, {10, 0}, {0, 10}};
        double[][] points = new double[30][];
        for (int i = 0; i < 30; i++) {
            double[] c = centres[i / 10];
            points[i] = new double[]{c[0] + random.nextGaussian() * 0.3, c[1] + random.nextGaussian() * 0.3};
        }
        return points;
    }

    @Test
    void kMeansFindsSeparatedGroupsAndItsSeedsCoverEach() {
        double[][] points = blobs(1);
        CoresetSelection.Clusters c = CoresetSelection.kMeans(points, 3, 7, 100);
        for (int b = 0; b < 3; b++) {
            Set<Integer> labels = new HashSet<>();
            for (int i = 10 * b; i < 10 * b + 10; i++) {
                labels.add(c.assignment()[i]);
            }
            assertThat(labels).as("blob %d is one group", b).hasSize(1);
        }
        assertThat(Arrays.stream(c.assignment()).distinct().count()).isEqualTo(3);
        // Three seeds, one from each blob: a representative of each dense region.
        int[] chosen = CoresetSelection.kCenter(points, 3, 3, 7);
        assertThat(Arrays.stream(chosen).map(i -> i / 10).sorted().toArray()).containsExactly(0, 1, 2);
    }

    @Test
    void selectionsAreDistinctAndReproducibleForASeed() {
        double[][] points = blobs(2);
        int[] a = CoresetSelection.kCenter(points, 8, 4, 11);
        assertThat(a).hasSize(8).doesNotHaveDuplicates();
        assertThat(CoresetSelection.kCenter(points, 8, 4, 11)).containsExactly(a);
        int[] r = CoresetSelection.random(30, 8, 11);
        assertThat(r).hasSize(8).doesNotHaveDuplicates();
        assertThat(Arrays.stream(r).allMatch(i -> i >= 0 && i < 30)).isTrue();
        assertThat(CoresetSelection.random(30, 8, 11)).containsExactly(r);
        assertThat(CoresetSelection.random(30, 8, 12)).isNotEqualTo(r);
        assertThatThrownBy(() -> CoresetSelection.kCenter(points, 31, 4, 1)).hasMessageContaining("from 1 to the number of points (30)");
        assertThatThrownBy(() -> CoresetSelection.kCenter(points, 5, 6, 1)).hasMessageContaining("clusters must be from 1 to n (5)");
    }

    @Test
    void anEmbeddingIsAUnitVectorThatDoesNotDependOnItsBatch() {
        try (NDManager m = NDManager.newBaseManager();
             LlamaModel model = LlamaModel.random(LlamaConfig.tiny(40, 16, 2, 4, 2, 32), m, 3, DataType.FLOAT32)) {
            List<int[]> prompts = new ArrayList<>(List.of(new int[]{3, 4, 5}, new int[]{7}, new int[]{9, 10, 11, 12, 13}));
            double[][] batched = new PromptEmbedder(model, 8).embed(m, prompts, n -> { });
            for (int i = 0; i < prompts.size(); i++) {
                double[] alone = new PromptEmbedder(model, 1).embed(m, List.of(prompts.get(i)), n -> { })[0];
                assertThat(Arrays.stream(alone).map(v -> v * v).sum()).isCloseTo(1.0, within(1e-5));
                for (int k = 0; k < alone.length; k++) {
                    assertThat(batched[i][k]).isCloseTo(alone[k], within(1e-5));
                }
            }
            assertThat(CoresetSelection.distance2(batched[0], batched[2])).isGreaterThan(1e-6);
            int[] progress = {0};
            new PromptEmbedder(model, 2).embed(m, prompts, n -> progress[0] = n);
            assertThat(progress[0]).isEqualTo(3);
        }
    }
}
