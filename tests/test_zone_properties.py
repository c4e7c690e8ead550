"""Property-based tests: random operation sequences keep every allocator invariant.

After each step of a hypothesis-driven sequence of alloc_pages, alloc_pages_exact, frees, exact
frees, split_page and (with PCP) drains, the zone must satisfy:
- no two blocks (free, allocated, or on a per-CPU list) overlap, and all lie inside the zone;
- free + per-CPU + allocated pages = zone size;
- without PCP, no two free buddies of the same order are left unmerged;
- nr_free equals the lengths of the lists;
- replaying the trace's text gives the same state;
- a zone that records nothing (so takes the fast paths of get_free_pages and free_pages) and is
  given the same calls returns the same addresses and ends in the same state.
The checks themselves are in zone_invariants.py (test_zone_observers.py uses them too).
"""

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule
from zone_invariants import (
    check_blocks_tile_the_zone,
    check_no_free_buddies_left_unmerged,
    check_nr_free_matches_the_lists,
    check_replaying_the_trace_gives_the_same_state,
    full_state,
)

from kit import Page, Zone

ZONE_PAGES = 300  # not a power of two, so the zone has blocks of several orders at boot


class ZoneMachine(RuleBasedStateMachine):
    def __init__(self):
        super().__init__()
        self.zone = None
        self.quiet = None
        self.blocks = []  # (addr, order)
        self.exact = []  # (addr, size)

    @rule(
        preset=st.sampled_from(["2.6.27", "5.10", "6.0", "6.1", "6.8"]),
        pcp=st.booleans(),
        start=st.sampled_from([0, 3, 1024]),
    )
    @precondition(lambda self: self.zone is None)
    def build(self, preset, pcp, start):
        arguments = dict(start_pfn=start, preset=preset, pcp=pcp, max_order=6)
        self.zone = Zone(ZONE_PAGES, **arguments)
        self.quiet = Zone(ZONE_PAGES, **arguments, record=False)

    def call_both(self, name, *args):
        """Make the same call on the recording and the quiet zone; both must return the same."""
        result = getattr(self.zone, name)(*args)
        assert getattr(self.quiet, name)(*args) == result, f"{name}{args} differs when quiet"
        return result

    @staticmethod
    def take_one(data, items):
        return items.pop(data.draw(st.integers(0, len(items) - 1)))

    @rule(order=st.integers(0, 6))
    @precondition(lambda self: self.zone is not None)
    def alloc(self, order):
        addr = self.call_both("get_free_pages", order)
        if addr is not None:
            self.blocks.append((addr, order))

    @rule(size=st.integers(1, 64 * 4096))
    @precondition(lambda self: self.zone is not None)
    def alloc_exact(self, size):
        addr = self.call_both("alloc_pages_exact", size)
        if addr is not None:
            self.exact.append((addr, size))

    @rule(data=st.data())
    @precondition(lambda self: self.zone is not None and self.blocks)
    def free(self, data):
        self.call_both("free_pages", *self.take_one(data, self.blocks))

    @rule(data=st.data())
    @precondition(lambda self: self.zone is not None and self.exact)
    def free_exact(self, data):
        self.call_both("free_pages_exact", *self.take_one(data, self.exact))

    @rule(data=st.data())
    @precondition(lambda self: self.zone is not None and self.blocks)
    def split(self, data):
        addr, order = self.take_one(data, self.blocks)
        pages = self.call_both("split_page", Page(self.zone.virt_to_pfn(addr), order))
        self.blocks += [(self.zone.pfn_to_virt(p.pfn), 0) for p in pages]

    @rule()
    @precondition(lambda self: self.zone is not None and self.zone.pcp_enabled)
    def drain(self):
        self.call_both("drain_pages")

    @invariant()
    def blocks_do_not_overlap_and_pages_add_up(self):
        if self.zone is not None:
            check_blocks_tile_the_zone(self.zone)

    @invariant()
    def nr_free_matches_the_lists(self):
        if self.zone is not None:
            check_nr_free_matches_the_lists(self.zone)

    @invariant()
    def no_free_buddies_left_unmerged_without_pcp(self):
        if self.zone is not None:
            check_no_free_buddies_left_unmerged(self.zone)

    @invariant()
    def a_zone_that_records_nothing_agrees(self):
        if self.zone is not None:
            assert full_state(self.quiet) == full_state(self.zone)

    @invariant()
    def replaying_the_trace_gives_the_same_state(self):
        if self.zone is not None:
            check_replaying_the_trace_gives_the_same_state(self.zone)


ZoneMachine.TestCase.settings = settings(max_examples=60, stateful_step_count=30, deadline=None)
TestZoneMachine = ZoneMachine.TestCase
