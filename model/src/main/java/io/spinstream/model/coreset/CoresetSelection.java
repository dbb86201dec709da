package io.spinstream.model.coreset;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Random;
import java.util.Set;

/**
 * A small representative subset of points (prompt embeddings), as in LIMA-style coreset selection:
 * k-means groups the points; the point nearest each group's centre seeds the set; k-center greedy then
 * adds, one at a time, the point farthest from everything chosen so far, until there are n. The seeds
 * cover the dense regions, the greedy part the outskirts. Euclidean distance; on unit vectors that ranks
 * as cosine distance does. Deterministic for a seed.
 */
public final class CoresetSelection {
    private CoresetSelection() {
    }

    /** k-means' result: each point's group and the groups' centres. */
    public record Clusters(int[] assignment, double[][] centres) {
    }

    /**
     * Indices of n points chosen by k-means seeds plus k-center greedy, in the order they were chosen.
     *
     * @param clusters how many k-means groups seed the set (1 .. n)
     */
    public static int[] kCenter(double[][] points, int n, int clusters, long seed) {
        check(points, n);
        if (clusters < 1 || clusters > n) {
            throw new IllegalArgumentException("clusters must be from 1 to n (" + n + "), got " + clusters);
        }
        Clusters groups = kMeans(points, clusters, seed, 100);
        Set<Integer> seeds = new LinkedHashSet<>();
        for (double[] centre : groups.centres()) {
            int nearest = -1;
            double best = Double.POSITIVE_INFINITY;
            for (int i = 0; i < points.length; i++) {
                double d = distance2(points[i], centre);
                if (d < best && !seeds.contains(i)) {
                    best = d;
                    nearest = i;
                }
            }
            if (nearest >= 0) {
                seeds.add(nearest);
            }
        }
        return greedy(points, new ArrayList<>(seeds), n);
    }

    /** k-center greedy from {@code chosen}: the farthest point from the chosen set joins it, until there are n. */
    public static int[] greedy(double[][] points, List<Integer> chosen, int n) {
        check(points, n);
        List<Integer> out = new ArrayList<>(chosen);
        double[] nearest = new double[points.length];
        Arrays.fill(nearest, Double.POSITIVE_INFINITY);
        for (int c : out) {
            update(points, nearest, c);
        }
        if (out.isEmpty()) {
            out.add(0);
            update(points, nearest, 0);
        }
        while (out.size() < n) {
            int far = -1;
            for (int i = 0; i < points.length; i++) {
                if (far < 0 || nearest[i] > nearest[far]) {
                    far = i;
                }
            }
            out.add(far);
            update(points, nearest, far);
        }
        return out.stream().mapToInt(Integer::intValue).toArray();
    }

    private static void update(double[][] points, double[] nearest, int chosen) {
        for (int i = 0; i < points.length; i++) {
            nearest[i] = Math.min(nearest[i], distance2(points[i], points[chosen]));
        }
        nearest[chosen] = Double.NEGATIVE_INFINITY; // never chosen twice
    }

    /** n indices drawn uniformly without replacement, for a seed. */
    public static int[] random(int count, int n, long seed) {
        if (n < 1 || n > count) {
            throw new IllegalArgumentException("n must be from 1 to the number of prompts (" + count + "), got " + n);
        }
        List<Integer> all = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            all.add(i);
        }
        java.util.Collections.shuffle(all, new Random(seed));
        return all.subList(0, n).stream().mapToInt(Integer::intValue).toArray();
    }

    /** Lloyd's k-means with k-means++ starts, until no point changes group or {@code maxIterations}. */
    public static Clusters kMeans(double[][] points, int k, long seed, int maxIterations) {
        check(points, k);
        Random random = new Random(seed);
        int d = points[0].length;
        double[][] centres = new double[k][];
        centres[0] = points[random.nextInt(points.length)].clone();
        double[] nearest = new double[points.length];
        for (int c = 1; c < k; c++) {
            double total = 0;
            for (int i = 0; i < points.length; i++) {
                nearest[i] = Double.POSITIVE_INFINITY;
                for (int j = 0; j < c; j++) {
                    nearest[i] = Math.min(nearest[i], distance2(points[i], centres[j]));
                }
                total += nearest[i];
            }
            double pick = random.nextDouble() * total;
            int chosen = points.length - 1;
            for (int i = 0; i < points.length; i++) {
                pick -= nearest[i];
                if (pick <= 0) {
                    chosen = i;
                    break;
                }
            }
            centres[c] = points[chosen].clone();
        }
        int[] assignment = new int[points.length];
        Arrays.fill(assignment, -1);
        for (int iteration = 0; iteration < maxIterations; iteration++) {
            boolean changed = false;
            for (int i = 0; i < points.length; i++) {
                int best = 0;
                for (int c = 1; c < k; c++) {
                    if (distance2(points[i], centres[c]) < distance2(points[i], centres[best])) {
                        best = c;
                    }
                }
                changed |= assignment[i] != best;
                assignment[i] = best;
            }
            if (!changed) {
                break;
            }
            double[][] sums = new double[k][d];
            int[] counts = new int[k];
            for (int i = 0; i < points.length; i++) {
                counts[assignment[i]]++;
                for (int j = 0; j < d; j++) {
                    sums[assignment[i]][j] += points[i][j];
                }
            }
            for (int c = 0; c < k; c++) {
                if (counts[c] > 0) { // an emptied group keeps its centre
                    for (int j = 0; j < d; j++) {
                        centres[c][j] = sums[c][j] / counts[c];
                    }
                }
            }
        }
        return new Clusters(assignment, centres);
    }

    static double distance2(double[] a, double[] b) {
        double s = 0;
        for (int i = 0; i < a.length; i++) {
            double t = a[i] - b[i];
            s += t * t;
        }
        return s;
    }

    private static void check(double[][] points, int n) {
        if (points.length == 0) {
            throw new IllegalArgumentException("no points to choose from");
        }
        if (n < 1 || n > points.length) {
            throw new IllegalArgumentException("n must be from 1 to the number of points (" + points.length + "), got " + n);
        }
    }
}
