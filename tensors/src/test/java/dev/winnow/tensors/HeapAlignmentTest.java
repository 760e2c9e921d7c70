package dev.winnow.tensors;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.management.ManagementFactory;
import java.util.List;

import com.sun.management.HotSpotDiagnosticMXBean;

import net.jqwik.api.Example;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;

/** Where the kernels put their buffers: on one offset of the 64-byte lines, never before the index asked for. */
class HeapAlignmentTest {
    @Property
    void aLineStartIsTheFirstIndexAtOrAfterOnTheLinesOffset(@ForAll @IntRange(min = 0, max = 1 << 24) int index) {
        int start = HeapAlignment.lineStart(index);
        assertTrue(start >= index && start - index <= HeapAlignment.slack(), () -> index + " -> " + start);
        assertEquals(start, HeapAlignment.lineStart(start), "a line start is its own line start");
        assertEquals(Math.floorMod(HeapAlignment.lineStart(0), 16), Math.floorMod(start, 16), "every line start is on one offset");
    }

    /**
     * The flags read from the command line agree with the VM's own view of them (the suite runs as bin/winnow does,
     * with objects on 64-byte lines, so there the offset is known).
     */
    @Example
    void theOffsetFollowsTheVmsOwnFlags() {
        HotSpotDiagnosticMXBean vm = ManagementFactory.getPlatformMXBean(HotSpotDiagnosticMXBean.class);
        boolean onLines = Integer.parseInt(vm.getVMOption("ObjectAlignmentInBytes").getValue()) % 64 == 0;
        int header = Boolean.parseBoolean(vm.getVMOption("UseCompactObjectHeaders").getValue()) ? 12
                : Boolean.parseBoolean(vm.getVMOption("UseCompressedClassPointers").getValue()) ? 16 : 20;
        assertEquals(onLines ? (64 - header) / 4 : 0, HeapAlignment.lineStart(0));
        assertEquals(onLines ? 15 : 0, HeapAlignment.slack());
    }

    @Example
    void theLastOfEachFlagWins() {
        assertEquals(-1, HeapAlignment.firstFloatOnLine(List.of()));
        assertEquals(12, HeapAlignment.firstFloatOnLine(List.of("-Xss4m", "-XX:ObjectAlignmentInBytes=64")));
        assertEquals(-1, HeapAlignment.firstFloatOnLine(List.of("-XX:ObjectAlignmentInBytes=64", "-XX:ObjectAlignmentInBytes=16")));
        assertEquals(12, HeapAlignment.firstFloatOnLine(List.of("-XX:ObjectAlignmentInBytes=128")));
        assertEquals(13, HeapAlignment.firstFloatOnLine(List.of("-XX:ObjectAlignmentInBytes=64", "-XX:+UseCompactObjectHeaders")));
        assertEquals(11, HeapAlignment.firstFloatOnLine(List.of("-XX:ObjectAlignmentInBytes=64", "-XX:-UseCompressedClassPointers")));
        assertEquals(-1, HeapAlignment.firstFloatOnLine(List.of("-XX:ObjectAlignmentInBytes=sixty-four")));
    }
}
