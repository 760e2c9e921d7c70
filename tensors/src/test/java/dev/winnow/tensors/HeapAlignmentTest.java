package dev.winnow.tensors;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.management.ManagementFactory;

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

    /** The suite runs as bin/winnow does, with objects on 64-byte lines: there the offset is known. */
    @Example
    void withObjectsOnLinesTheOffsetIsKnown() {
        HotSpotDiagnosticMXBean vm = ManagementFactory.getPlatformMXBean(HotSpotDiagnosticMXBean.class);
        boolean onLines = Integer.parseInt(vm.getVMOption("ObjectAlignmentInBytes").getValue()) == 64;
        assertEquals(onLines ? 15 : 0, HeapAlignment.slack());
    }
}
