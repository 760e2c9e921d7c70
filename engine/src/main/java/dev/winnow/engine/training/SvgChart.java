package dev.winnow.engine.training;

import java.util.ArrayList;
import java.util.DoubleSummaryStatistics;
import java.util.Formatter;
import java.util.List;
import java.util.Locale;
import java.util.StringJoiner;

/**
 * A small line-and-marker chart written as a self-contained SVG document: linear axes with round tick values,
 * one polyline and/or markers per series, a legend. For the result figures (perplexity against kept fraction).
 */
public final class SvgChart {
    private static final int LEFT = 70;
    private static final int RIGHT = 250;
    private static final int TOP = 40;
    private static final int BOTTOM = 55;

    /**
     * One series.
     *
     * @param line   join the points, in the order given
     * @param marker draw a marker at each point
     * @param dashed draw the line dashed
     */
    public record Series(String name, String color, List<double[]> points, boolean line, boolean marker, boolean dashed) {
        public Series {
            points = List.copyOf(points);
            for (double[] p : points) {
                if (p.length != 2 || !Double.isFinite(p[0]) || !Double.isFinite(p[1])) {
                    throw new IllegalArgumentException("series %s: a point must be two finite numbers".formatted(name));
                }
            }
        }
    }

    private final String title;
    private final String xLabel;
    private final String yLabel;
    private final List<Series> series = new ArrayList<>();

    public SvgChart(String title, String xLabel, String yLabel) {
        this.title = title;
        this.xLabel = xLabel;
        this.yLabel = yLabel;
    }

    public SvgChart add(Series s) {
        series.add(s);
        return this;
    }

    /** The chart as an SVG document of the given size in pixels. */
    public String render(int width, int height) {
        DoubleSummaryStatistics xs = new DoubleSummaryStatistics();
        DoubleSummaryStatistics ys = new DoubleSummaryStatistics();
        for (Series s : series) {
            for (double[] p : s.points()) {
                xs.accept(p[0]);
                ys.accept(p[1]);
            }
        }
        if (xs.getCount() == 0) {
            throw new IllegalStateException("the chart has no points");
        }
        double[] xTicks = ticks(xs.getMin(), xs.getMax());
        double[] yTicks = ticks(ys.getMin(), ys.getMax());
        Axis x = new Axis(xTicks[0], xTicks[xTicks.length - 1], LEFT, width - RIGHT);
        Axis y = new Axis(yTicks[0], yTicks[yTicks.length - 1], height - BOTTOM, TOP);
        Formatter svg = new Formatter(Locale.ROOT);
        svg.format("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
                + "viewBox=\"0 0 %d %d\" font-family=\"sans-serif\" font-size=\"12\">%n", width, height, width, height);
        svg.format("<rect width=\"%d\" height=\"%d\" fill=\"white\"/>%n", width, height);
        svg.format("<text x=\"%d\" y=\"22\" font-size=\"15\" font-weight=\"bold\">%s</text>%n", LEFT, escape(title));
        for (double t : xTicks) {
            double px = x.map(t);
            line(svg, px, y.map(y.low), px, y.map(y.high), "#e5e5e5", false);
            svg.format("<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%s</text>%n", px, height - BOTTOM + 18, label(t));
        }
        for (double t : yTicks) {
            double py = y.map(t);
            line(svg, x.map(x.low), py, x.map(x.high), py, "#e5e5e5", false);
            svg.format("<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%s</text>%n", LEFT - 8, py + 4, label(t));
        }
        svg.format("<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"none\" stroke=\"black\"/>%n",
                LEFT, TOP, width - RIGHT - LEFT, height - BOTTOM - TOP);
        svg.format("<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%s</text>%n",
                (LEFT + width - RIGHT) / 2.0, height - 15, escape(xLabel));
        svg.format("<text x=\"18\" y=\"%.1f\" text-anchor=\"middle\" transform=\"rotate(-90 18 %.1f)\">%s</text>%n",
                (TOP + height - BOTTOM) / 2.0, (TOP + height - BOTTOM) / 2.0, escape(yLabel));
        int legendY = TOP + 10;
        for (Series s : series) {
            svg.format("<g class=\"series\" data-name=\"%s\">%n", escape(s.name()));
            if (s.line() && s.points().size() > 1) {
                StringJoiner points = new StringJoiner(" ");
                for (double[] p : s.points()) {
                    points.add(String.format(Locale.ROOT, "%.1f,%.1f", x.map(p[0]), y.map(p[1])));
                }
                svg.format("<polyline points=\"%s\" fill=\"none\" stroke=\"%s\" stroke-width=\"2\"%s/>%n",
                        points, s.color(), dash(s.dashed()));
            }
            if (s.marker()) {
                for (double[] p : s.points()) {
                    svg.format("<circle cx=\"%.1f\" cy=\"%.1f\" r=\"4\" fill=\"%s\"/>%n", x.map(p[0]), y.map(p[1]), s.color());
                }
            }
            svg.format("</g>\n");
            int lx = width - RIGHT + 15;
            line(svg, lx, legendY, lx + 24, legendY, s.color(), s.dashed());
            if (s.marker()) {
                svg.format("<circle cx=\"%d\" cy=\"%d\" r=\"4\" fill=\"%s\"/>%n", lx + 12, legendY, s.color());
            }
            svg.format("<text x=\"%d\" y=\"%d\">%s</text>%n", lx + 30, legendY + 4, escape(s.name()));
            legendY += 20;
        }
        return svg.format("</svg>\n").toString();
    }

    private record Axis(double low, double high, double from, double to) {
        double map(double v) {
            return high == low ? (from + to) / 2 : from + (v - low) / (high - low) * (to - from);
        }
    }

    private static void line(Formatter svg, double x1, double y1, double x2, double y2, String color, boolean dashed) {
        svg.format("<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\"%s/>%n",
                x1, y1, x2, y2, color, dash(dashed));
    }

    private static String dash(boolean dashed) {
        return dashed ? " stroke-dasharray=\"6 4\"" : "";
    }

    /** Round tick values covering [min, max]: steps of 1, 2 or 5 times a power of ten, about five of them. */
    static double[] ticks(double min, double max) {
        if (max - min < 1e-12) {
            double pad = Math.max(Math.abs(min) * 0.05, 1e-3);
            min -= pad;
            max += pad;
        }
        double raw = (max - min) / 5;
        double power = Math.pow(10, Math.floor(Math.log10(raw)));
        double step = raw / power < 1.5 ? power : raw / power < 3.5 ? 2 * power : raw / power < 7.5 ? 5 * power : 10 * power;
        double start = Math.floor(min / step) * step;
        int count = (int) Math.ceil((max - start) / step - 1e-9) + 1;
        double[] ticks = new double[count];
        for (int i = 0; i < count; i++) {
            ticks[i] = start + i * step;
        }
        return ticks;
    }

    private static String label(double v) {
        String text = String.format(Locale.ROOT, "%.4f", v).replaceAll("0+$", "");
        return text.endsWith(".") ? text.substring(0, text.length() - 1) : text;
    }

    private static String escape(String text) {
        return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\"", "&quot;");
    }
}
