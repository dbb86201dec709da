package io.spinstream.demo;

import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.XYSeries;
import org.knowm.xchart.style.markers.SeriesMarkers;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** The demo's pictures: the base's SFT curve, and the rounds' held-out metrics. */
public final class RoundPlot {
    private RoundPlot() {
    }

    /** Exact match on training and validation prompts against SFT steps. */
    public static void baseCurve(List<BaseTrainer.Point> curve, Path file) {
        XYChart chart = new XYChartBuilder().width(800).height(450).title("Base SFT (early stopping on validation exact match)")
                .xAxisTitle("step").yAxisTitle("exact match").build();
        double[] steps = curve.stream().mapToDouble(BaseTrainer.Point::step).toArray();
        chart.addSeries("training prompts", steps, curve.stream().mapToDouble(BaseTrainer.Point::trainEm).toArray());
        chart.addSeries("validation prompts", steps, curve.stream().mapToDouble(BaseTrainer.Point::validationEm).toArray());
        save(List.of(chart), file);
    }

    /**
     * Two panels against the round (0 = base): held-out exact match and held-out NLL per token of every
     * candidate (promoted and rejected marked apart) and of the opponent in force after the round. A
     * candidate's error bar is the 95% interval of its paired difference from its opponent, drawn around
     * it: a bar that reaches the opponent's line is a difference the prompts cannot tell from noise.
     */
    public static void rounds(List<RoundResult> rounds, double baseEm, double baseNll, Path file) {
        save(List.of(panel(rounds, "exact_match", "held-out exact match", baseEm),
                panel(rounds, "heldout_nll", "held-out NLL per token", baseNll)), file);
    }

    private static XYChart panel(List<RoundResult> rounds, String metric, String title, double base) {
        XYChart chart = new XYChartBuilder().width(700).height(450).title(title).xAxisTitle("round").yAxisTitle(metric).build();
        List<Double> x = new ArrayList<>(List.of(0.0));
        List<Double> opponent = new ArrayList<>(List.of(base));
        double current = base;
        List<Double> px = new ArrayList<>();
        List<Double> py = new ArrayList<>();
        List<Double> rx = new ArrayList<>();
        List<Double> ry = new ArrayList<>();
        List<Double> pe = new ArrayList<>();
        List<Double> re = new ArrayList<>();
        for (RoundResult r : rounds) {
            double v = r.metric(metric);
            double[] ci = r.interval(metric);
            double half = ci == null ? 0 : (ci[1] - ci[0]) / 2;
            if (r.promoted()) {
                current = v;
                px.add((double) r.round());
                py.add(v);
                pe.add(half);
            } else {
                rx.add((double) r.round());
                ry.add(v);
                re.add(half);
            }
            x.add((double) r.round());
            opponent.add(current);
        }
        XYSeries line = chart.addSeries("opponent", x, opponent);
        line.setMarker(SeriesMarkers.CIRCLE);
        scatter(chart, "promoted candidate", px, py, pe, SeriesMarkers.DIAMOND);
        scatter(chart, "rejected candidate", rx, ry, re, SeriesMarkers.CROSS);
        return chart;
    }

    private static void scatter(XYChart chart, String name, List<Double> x, List<Double> y, List<Double> errors,
                                org.knowm.xchart.style.markers.Marker marker) {
        if (x.isEmpty()) {
            return;
        }
        XYSeries s = chart.addSeries(name, x, y, errors);
        s.setXYSeriesRenderStyle(XYSeries.XYSeriesRenderStyle.Scatter);
        s.setMarker(marker);
    }

    /**
     * Test-split exact match of the students side by side, each with its 95% interval (Wilson's, drawn as a
     * symmetric bar of its wider side).
     */
    public static void students(List<String> names, List<Double> em, List<double[]> intervals, String title, Path file) {
        org.knowm.xchart.CategoryChart chart = new org.knowm.xchart.CategoryChartBuilder().width(800).height(450).title(title)
                .yAxisTitle("test exact match").build();
        List<Double> bars = new ArrayList<>();
        for (int i = 0; i < em.size(); i++) {
            bars.add(Math.max(em.get(i) - intervals.get(i)[0], intervals.get(i)[1] - em.get(i)));
        }
        chart.getStyler().setLegendVisible(false);
        chart.getStyler().setYAxisMin(Math.max(0, em.stream().mapToDouble(Double::doubleValue).min().orElse(0) - 0.1));
        chart.addSeries("test exact match", names, em, bars);
        try {
            Files.createDirectories(file.toAbsolutePath().getParent());
            BitmapEncoder.saveBitmap(chart, file.toString(), BitmapEncoder.BitmapFormat.PNG);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static void save(List<XYChart> charts, Path file) {
        try {
            Path parent = file.toAbsolutePath().getParent();
            Files.createDirectories(parent);
            if (charts.size() == 1) {
                BitmapEncoder.saveBitmap(charts.get(0), file.toString(), BitmapEncoder.BitmapFormat.PNG);
            } else {
                BitmapEncoder.saveBitmap(new ArrayList<>(charts), 1, charts.size(), file.toString(), BitmapEncoder.BitmapFormat.PNG);
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + file, e);
        }
    }
}
