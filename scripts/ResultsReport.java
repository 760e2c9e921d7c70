import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.winnow.engine.training.SvgChart;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;

/**
 * Turns the measurements of scripts/reproduce-results.sh (one `winnow perplexity --json` object per file,
 * named KIND__LABEL.json in RESULTS/eval) into the tables of docs/results.md (RESULTS/results.md) and the
 * figure (RESULTS/perplexity-vs-kept.svg). Run with the winnow jar on the class path:
 * java -cp cli/target/winnow.jar scripts/ResultsReport.java build/results
 */
public class ResultsReport {
    record Measurement(String kind, String label, double kept, double pairsKept, double perplexity, double kl,
                       double agreement, int tokens) {
    }

    static final Map<String, String> NAMES = Map.of("dense-base", "stories260K, dense (original)",
            "dcp-textdistill", "DCP, distilled on the text",
            "dcp-sweep", "DCP, the headline module steered (--prune dcp:keep=F, calibrated)",
            "dcp-module", "DCP, module only",
            "dcp-recent", "DCP, module only, last W kept",
            "window", "StreamingLLM window", "h2o", "H2O", "tova", "TOVA");
    static final Map<String, String> COLORS = Map.of("dcp-textdistill", "#9467bd", "dcp-sweep", "#d62728",
            "dcp-module", "#8c564b", "dcp-recent", "#ff7f0e", "window", "#1f77b4",
            "h2o", "#2ca02c", "tova", "#17becf", "dense-base", "#7f7f7f");
    static final List<String> KINDS = List.of("dense-base", "dcp-textdistill", "dcp-sweep", "dcp-module", "dcp-recent", "window",
            "h2o", "tova");
    static final List<String> HEURISTICS = List.of("window", "h2o", "tova");
    /** The goal's operating point: at most this fraction of (query, earlier token) pairs kept. */
    static final double GOAL_PAIRS_KEPT = 0.2;
    /** The goal's perplexity bound, as a ratio to the original dense model. */
    static final double GOAL_RATIO = 1.05;

    public static void main(String[] args) throws IOException {
        Path results = Path.of(args.length > 0 ? args[0] : "build/results");
        List<Measurement> all = new ArrayList<>();
        ObjectMapper mapper = new ObjectMapper();
        try (Stream<Path> files = Files.list(results.resolve("eval"))) {
            for (Path file : files.filter(f -> f.toString().endsWith(".json")).sorted().toList()) {
                String[] name = file.getFileName().toString().replace(".json", "").split("__", 2);
                JsonNode j = mapper.readTree(file.toFile());
                all.add(new Measurement(name[0], name[1], j.get("kept_fraction").asDouble(),
                        1 - j.get("sparsity").asDouble(), j.get("perplexity").asDouble(),
                        j.has("kl") ? j.get("kl").asDouble() : Double.NaN,
                        j.has("top1_agreement") ? j.get("top1_agreement").asDouble() : Double.NaN, j.get("tokens").asInt()));
            }
        }
        double original = only(all, "dense-base").perplexity();
        Measurement best = best(all);
        StringBuilder md = new StringBuilder();
        md.append("| model | pruning | pairs kept (1 - sparsity) | kept at window end | perplexity | vs original dense "
                + "| KL to original | top-1 agreement |\n");
        md.append("|---|---|---:|---:|---:|---:|---:|---:|\n");
        Comparator<Measurement> order = Comparator.comparing((Measurement m) -> m != best)
                .thenComparing(m -> KINDS.indexOf(m.kind())).thenComparing(m -> -m.pairsKept());
        for (Measurement m : all.stream().sorted(order).toList()) {
            md.append(String.format(Locale.ROOT, "| %s%s | %s | %.3f | %.3f | %.3f | %.3fx | %s | %s |%n",
                    m == best ? "**best:** " : "", NAMES.get(m.kind()), m.label(), m.pairsKept(), m.kept(),
                    m.perplexity(), m.perplexity() / original,
                    Double.isNaN(m.kl()) ? "" : String.format(Locale.ROOT, "%.4f", m.kl()),
                    Double.isNaN(m.agreement()) ? "" : String.format(Locale.ROOT, "%.3f", m.agreement())));
        }
        md.append("\nEach heuristic's perplexity at the fraction of pairs kept of every DCP model keeping at most half, interpolated linearly between "
                + "its two nearest measured budgets (blank: outside the measured range):\n\n");
        md.append("| DCP model | pairs kept | DCP | window | H2O | TOVA | DCP best? |\n|---|---:|---:|---:|---:|---:|---|\n");
        for (Measurement m : all.stream().filter(x -> x.kind().startsWith("dcp") && x.pairsKept() <= 0.5).sorted(order).toList()) {
            StringBuilder row = new StringBuilder(String.format(Locale.ROOT, "| %s, %s | %.3f | %.3f", NAMES.get(m.kind()),
                    m.label(), m.pairsKept(), m.perplexity()));
            int measured = 0;
            int beaten = 0;
            for (String h : HEURISTICS) {
                double p = interpolate(all, h, m.pairsKept());
                row.append(Double.isNaN(p) ? " | " : String.format(Locale.ROOT, " | %.3f", p));
                if (!Double.isNaN(p)) {
                    measured++;
                    beaten += m.perplexity() < p ? 1 : 0;
                }
            }
            String verdict = measured == 0 ? "n/a" : beaten == measured ? "yes" : "no";
            md.append(row).append(" | ").append(verdict).append(measured < HEURISTICS.size() && measured > 0
                    ? " (of %d measured)".formatted(measured) : "").append(" |\n");
        }
        Files.writeString(results.resolve("results.md"), md.toString());

        SvgChart chart = new SvgChart("stories260K: perplexity against the context kept",
                "fraction of (query, earlier token) pairs kept (1 - sparsity)", "perplexity (held-out stories)");
        double xMin = all.stream().mapToDouble(Measurement::pairsKept).min().orElse(0);
        chart.add(new SvgChart.Series(NAMES.get("dense-base"), COLORS.get("dense-base"),
                List.of(new double[] {xMin, original}, new double[] {1, original}), true, false, true));
        chart.add(new SvgChart.Series("1.05x the original (goal)", "#e377c2",
                List.of(new double[] {xMin, GOAL_RATIO * original}, new double[] {1, GOAL_RATIO * original}), true, false, true));
        for (String kind : List.of("window", "h2o", "tova", "dcp-textdistill", "dcp-sweep", "dcp-module", "dcp-recent")) {
            List<double[]> points = all.stream().filter(m -> m.kind().equals(kind))
                    .sorted(Comparator.comparingDouble(Measurement::pairsKept))
                    .map(m -> new double[] {m.pairsKept(), m.perplexity()}).toList();
            if (!points.isEmpty()) {
                chart.add(new SvgChart.Series(NAMES.get(kind), COLORS.get(kind), points, true, true, false));
            }
        }
        Files.writeString(results.resolve("perplexity-vs-kept.svg"), chart.render(1000, 540));
        System.out.print(md);
    }

    /**
     * The headline DCP model: the lowest perplexity among the trained models keeping at most {@link #GOAL_PAIRS_KEPT}
     * of the pairs with their own decisions, or, when none does, the one keeping the fewest.
     */
    static Measurement best(List<Measurement> all) {
        List<Measurement> dcp = all.stream().filter(m -> m.kind().equals("dcp-textdistill")).toList();
        return dcp.stream().filter(m -> m.pairsKept() <= GOAL_PAIRS_KEPT).min(Comparator.comparingDouble(Measurement::perplexity))
                .or(() -> dcp.stream().min(Comparator.comparingDouble(Measurement::pairsKept)))
                .orElseThrow(() -> new IllegalStateException("no DCP model was measured"));
    }

    static Measurement only(List<Measurement> all, String kind) {
        return all.stream().filter(m -> m.kind().equals(kind)).findFirst()
                .orElseThrow(() -> new IllegalStateException("no measurement of " + kind));
    }

    /** The heuristic's perplexity at x, linear between the two nearest measured points around it; NaN outside. */
    static double interpolate(List<Measurement> all, String kind, double x) {
        TreeMap<Double, Double> curve = new TreeMap<>();
        all.stream().filter(m -> m.kind().equals(kind)).forEach(m -> curve.put(m.pairsKept(), m.perplexity()));
        Map.Entry<Double, Double> low = curve.floorEntry(x);
        Map.Entry<Double, Double> high = curve.ceilingEntry(x);
        if (low == null || high == null) {
            return Double.NaN;
        }
        if (high.getKey().equals(low.getKey())) {
            return low.getValue();
        }
        double t = (x - low.getKey()) / (high.getKey() - low.getKey());
        return low.getValue() + t * (high.getValue() - low.getValue());
    }
}
