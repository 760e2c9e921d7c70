package dev.winnow.tests.training;

import dev.winnow.engine.training.SvgChart;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.DoubleRange;
import net.jqwik.api.constraints.IntRange;
import org.w3c.dom.Document;
import org.w3c.dom.Element;
import org.w3c.dom.NodeList;

import javax.xml.parsers.DocumentBuilderFactory;
import java.io.ByteArrayInputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The result figures' SVG: well-formed, one group per series, every point inside the plot frame. */
class SvgChartTest {

    @Property(tries = 40)
    void everyPointIsDrawnInsideTheFrame(@ForAll @IntRange(min = 1, max = 4) int seriesCount,
                                         @ForAll @IntRange(min = 1, max = 8) int points,
                                         @ForAll @DoubleRange(min = -50, max = 50) double offset,
                                         @ForAll @DoubleRange(min = 0.01, max = 100) double spread,
                                         @ForAll long seed) throws Exception {
        SplittableRandom random = new SplittableRandom(seed);
        SvgChart chart = new SvgChart("a <title> & more", "x", "y");
        int markers = 0;
        for (int s = 0; s < seriesCount; s++) {
            List<double[]> values = new ArrayList<>();
            for (int i = 0; i < points; i++) {
                values.add(new double[] {offset + spread * random.nextDouble(), offset + spread * random.nextDouble()});
            }
            boolean marker = random.nextBoolean();
            markers += marker ? points : 0;
            chart.add(new SvgChart.Series("series " + s, "#123456", values, true, marker, s % 2 == 0));
        }
        int width = 900;
        int height = 520;
        Document svg = DocumentBuilderFactory.newInstance().newDocumentBuilder()
                .parse(new ByteArrayInputStream(chart.render(width, height).getBytes(StandardCharsets.UTF_8)));
        NodeList groups = svg.getElementsByTagName("g");
        assertEquals(seriesCount, groups.getLength());
        Element frame = (Element) svg.getElementsByTagName("rect").item(1);
        double left = Double.parseDouble(frame.getAttribute("x"));
        double top = Double.parseDouble(frame.getAttribute("y"));
        double right = left + Double.parseDouble(frame.getAttribute("width"));
        double bottom = top + Double.parseDouble(frame.getAttribute("height"));
        int drawn = 0;
        for (int g = 0; g < groups.getLength(); g++) {
            NodeList circles = ((Element) groups.item(g)).getElementsByTagName("circle");
            for (int i = 0; i < circles.getLength(); i++) {
                Element c = (Element) circles.item(i);
                double cx = Double.parseDouble(c.getAttribute("cx"));
                double cy = Double.parseDouble(c.getAttribute("cy"));
                assertTrue(cx >= left - 0.1 && cx <= right + 0.1 && cy >= top - 0.1 && cy <= bottom + 0.1,
                        "point (%s, %s) outside the frame".formatted(cx, cy));
                drawn++;
            }
        }
        assertEquals(markers, drawn);
        assertTrue(svg.getDocumentElement().getTextContent().contains("a <title> & more"));
    }
}
