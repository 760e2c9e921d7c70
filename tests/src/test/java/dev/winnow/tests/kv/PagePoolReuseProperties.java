package dev.winnow.tests.kv;

import dev.winnow.engine.kv.PagePool;
import dev.winnow.tensors.GgmlType;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;
import net.jqwik.api.constraints.Size;

import java.util.ArrayList;
import java.util.List;
import java.util.TreeSet;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * The pool hands out the lowest released page first, and creates a new page only when none is released: a sequence
 * then holds its pages in the order they were created, so attention reads memory front to back.
 */
class PagePoolReuseProperties {
    private static final int MAX_PAGES = 64;

    /** Each step acquires a page (true) or releases one of those held (false, the held page the step's number picks). */
    @Property(tries = 200)
    void theLowestReleasedPageComesBackFirst(@ForAll @Size(max = 200) List<Boolean> acquires,
                                             @ForAll @Size(max = 200) List<@IntRange(min = 0, max = 1000) Integer> picks) {
        try (PagePool pool = new PagePool(1, 8, 0, 4, GgmlType.F32, MAX_PAGES)) {
            List<Integer> held = new ArrayList<>();
            TreeSet<Integer> released = new TreeSet<>();
            int created = 0;
            for (int step = 0; step < acquires.size(); step++) {
                if (acquires.get(step) || held.isEmpty()) {
                    int expected = !released.isEmpty() ? released.pollFirst() : created < MAX_PAGES ? created++ : -1;
                    int page = pool.acquire();
                    assertEquals(expected, page, "step " + step);
                    if (page >= 0) {
                        held.add(page);
                    }
                } else {
                    int page = held.remove(picks.isEmpty() ? 0 : picks.get(step % picks.size()) % held.size());
                    pool.release(page);
                    released.add(page);
                }
            }
        }
    }
}
