"""The allocator's invariants as plain checks on a zone, for the property tests to share.

- no two blocks (free, allocated, or on a per-CPU list) overlap, and together they tile the
  zone; the per-CPU and free page counts agree with the lists;
- nr_free equals the lengths of the lists;
- without PCP, no two free buddies of the same order are left unmerged;
- replaying the trace's text (when the zone records one) gives the same state.
"""

from kit import Zone, replay


def full_state(zone: Zone) -> tuple:
    return (
        zone.nr_free(),
        [list(area) for area in zone.free_area],
        sorted(zone.allocations()),
        zone.pcp_lists(),
        zone.free_pages_count,
    )


def check_blocks_tile_the_zone(zone: Zone) -> None:
    extents = [(pfn, order) for pfn, order in zone.free_blocks()]
    extents += [(pfn, order) for pfn, order, _ in zone.allocations()]
    extents += [(pfn, order) for order, pfns in zone.pcp_lists().items() for pfn in pfns]
    covered: set[int] = set()
    for pfn, order in extents:
        assert pfn % (1 << order) == 0, f"block at {pfn} is not aligned to order {order}"
        pages = set(range(pfn, pfn + (1 << order)))
        assert not covered & pages, f"block {pfn}/{order} overlaps another block"
        covered |= pages
    assert covered == set(range(zone.start_pfn, zone.end_pfn))
    pcp_pages = sum(len(pfns) << order for order, pfns in zone.pcp_lists().items())
    assert zone.pcp_count == pcp_pages
    assert zone.free_pages_count == sum(n << o for o, n in enumerate(zone.nr_free()))


def check_nr_free_matches_the_lists(zone: Zone) -> None:
    assert zone.nr_free() == [len(list(area)) for area in zone.free_area]


def check_no_free_buddies_left_unmerged(zone: Zone) -> None:
    """Without PCP every free merges at once (with PCP, pages wait on the per-CPU list)."""
    if zone.pcp_enabled:
        return
    free = set(zone.free_blocks())
    for pfn, order in free:
        if order < zone.max_order:
            assert (pfn ^ (1 << order), order) not in free, f"{pfn}/{order} has a free buddy"


def check_replaying_the_trace_gives_the_same_state(zone: Zone) -> None:
    if zone.trace is not None:
        assert full_state(replay(zone.trace.to_text())) == full_state(zone)


def check_invariants(zone: Zone) -> None:
    """Every check above."""
    check_blocks_tile_the_zone(zone)
    check_nr_free_matches_the_lists(zone)
    check_no_free_buddies_left_unmerged(zone)
    check_replaying_the_trace_gives_the_same_state(zone)
