"""An observer that raises must not leave the zone half way through an operation.

The kernel has no observers, so a zone a student or a widget drives must always be in a state
the kernel could be in.  Each test runs the same calls on two zones: one whose observers
include one that raises, and a twin without it.  After every call both zones must be equal
(snapshot, state, trace, return value), every other observer must have seen the same events
in the same order, and the zone with the failing observer must have raised ``ObserverError``
(caused by the observer's exception) exactly when the observer raised during the call.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from zone_invariants import check_invariants, full_state

import kit
from kit.core import events as ev

PRESETS = ["2.6.27", "5.10", "6.0", "6.1", "6.8"]

#: One call: (name, *arguments); indexes pick among the allocations the test holds.
CALLS = st.one_of(
    st.tuples(st.sampled_from(["alloc_pages", "get_free_pages"]), st.integers(0, 5)),
    st.tuples(st.just("alloc_pages_exact"), st.integers(1, 40 * 4096)),
    st.tuples(st.just("make_alloc_exact"), st.integers(0, 99), st.integers(1, 16 * 4096)),
    st.tuples(st.sampled_from(["free", "split_page", "bad_free"]), st.integers(0, 99)),
    st.tuples(st.sampled_from(["free_exact", "drain_pages"]), st.integers(0, 99)),
)


class Failing(Exception):
    """What the failing observer raises."""


@dataclass
class FailingObserver:
    """Raises at its ``at``-th event (counting from 0), and with ``again`` at every one after."""

    at: int
    again: bool = False
    seen: int = 0
    raised: int = 0

    def __call__(self, event: kit.Event) -> None:
        index, self.seen = self.seen, self.seen + 1
        if index == self.at or (self.again and index > self.at):
            self.raised += 1
            raise Failing(f"event {index}: {event.kind}")


@dataclass
class Holdings:
    """What a test holds of one zone: (addr, order) blocks and (addr, size) exact allocations."""

    blocks: list[tuple[int, int]] = field(default_factory=list)
    exact: list[tuple[int, int]] = field(default_factory=list)


def call(zone: kit.Zone, what: tuple, held: Holdings) -> object:
    """Make one call on ``zone``, keeping what it hands out in ``held``."""
    name, *args = what
    if name in ("alloc_pages", "get_free_pages"):
        got = getattr(zone, name)(args[0])
        if got is not None:
            addr = zone.pfn_to_virt(got.pfn) if isinstance(got, kit.Page) else got
            held.blocks.append((addr, args[0]))
        return got
    if name == "alloc_pages_exact":
        addr = zone.alloc_pages_exact(args[0])
        if addr is not None:
            held.exact.append((addr, args[0]))
        return addr
    if name == "drain_pages":
        return zone.drain_pages()
    pool = held.exact if name == "free_exact" else held.blocks
    if not pool:
        return None
    addr, amount = pool.pop(args[0] % len(pool))
    if name == "free_exact":
        return zone.free_pages_exact(addr, amount)
    if name == "make_alloc_exact":
        size = min(args[1], zone.page_size << amount)
        held.exact.append((addr, size))
        return zone.make_alloc_exact(addr, amount, size)
    if name == "bad_free":
        held.blocks.append((addr, amount))
        return zone.free_pages(addr, amount + 1)  # BadPageState, raised before any step
    if name == "split_page":
        pages = zone.split_page(kit.Page(zone.virt_to_pfn(addr), amount))
        held.blocks += [(zone.pfn_to_virt(page.pfn), 0) for page in pages]
        return pages
    return zone.free_pages(addr, amount)


def outcome(zone: kit.Zone, what: tuple, held: Holdings) -> tuple[object, BaseException | None]:
    try:
        return call(zone, what, held), None
    except (kit.KitError, Failing) as error:
        return None, error


def assert_twins(zone: kit.Zone, twin: kit.Zone, context: str) -> None:
    assert zone.snapshot() == twin.snapshot(), f"the zones differ {context}"
    assert full_state(zone) == full_state(twin), f"the zones differ {context}"
    if zone.trace is not None:
        assert zone.trace.to_text() == twin.trace.to_text(), f"the traces differ {context}"


def run_twins(config: dict, calls: list[tuple], failing: FailingObserver) -> kit.Zone:
    """Make ``calls`` on a zone with ``failing`` subscribed between two observers, and on its
    twin with the two alone."""
    zone, twin = kit.Zone(**config), kit.Zone(**config)
    seen: tuple[list[kit.Event], list[kit.Event]] = ([], [])
    seen_by_twin: tuple[list[kit.Event], list[kit.Event]] = ([], [])
    zone.subscribe(seen[0].append)
    zone.subscribe(failing)
    zone.subscribe(seen[1].append)
    for events in seen_by_twin:
        twin.subscribe(events.append)
    held, held_by_twin = Holdings(), Holdings()
    for number, what in enumerate(calls):
        context = f"after call {number} {what}"
        raised_before = failing.raised
        result, error = outcome(zone, what, held)
        expected, expected_error = outcome(twin, what, held_by_twin)
        assert_twins(zone, twin, context)
        assert seen == seen_by_twin, f"the other observers saw other events {context}"
        if failing.raised > raised_before:
            assert isinstance(error, kit.ObserverError), f"{error!r} {context}"
            assert isinstance(error.__cause__, Failing), context
            assert sum(f.times for f in error.failures) == failing.raised - raised_before
        else:
            assert type(error) is type(expected_error), f"{error!r} {context}"
            assert result == expected, f"the calls returned differently {context}"
            assert held == held_by_twin, context
        held = Holdings(list(held_by_twin.blocks), list(held_by_twin.exact))
    check_invariants(zone)
    return zone


@pytest.mark.filterwarnings("ignore::kit.PageAllocWarning")  # an exact size above max_order
@settings(max_examples=80, deadline=None)
@given(
    preset=st.sampled_from(PRESETS),
    pcp=st.booleans(),
    record=st.booleans(),
    calls=st.lists(CALLS, min_size=1, max_size=20),
    at=st.integers(0, 300),
    again=st.booleans(),
)
def test_an_observer_that_raises_leaves_the_zone_as_its_twin(preset, pcp, record, calls, at,
                                                             again):
    config = dict(nr_pages=96, start_pfn=8, max_order=5, preset=preset, pcp=pcp, record=record)
    run_twins(config, calls, FailingObserver(at, again))


#: Calls that make every kind of event on a 6.0 zone with per-CPU lists (its exact allocations
#: trim with split_page and free the tail pages through the per-CPU list).
EVERY_KIND = [("alloc_pages", 0), ("alloc_pages", 2), ("alloc_pages_exact", 5 * 4096),
              ("free", 0), ("free", 0), ("drain_pages", 0), ("free_exact", 0),
              ("drain_pages", 0)]


@pytest.mark.parametrize("kind", ev.KINDS)
@pytest.mark.parametrize("again", [False, True], ids=["once", "then-always"])
def test_an_observer_that_raises_at_each_kind_of_event(kind, again):
    """The observer raises at the first event of ``kind`` (with ``again``, at every event
    after it too), each kind in turn."""
    config = dict(nr_pages=64, preset="6.0", pcp=True, pcp_batch=2, pcp_high=4)
    events: list[kit.Event] = []
    probe = kit.Zone(**config)
    probe.subscribe(events.append)
    held = Holdings()
    for what in EVERY_KIND:
        call(probe, what, held)
    kinds = [event.kind for event in events]
    assert kind in kinds, f"the calls make no {kind} event: {sorted(set(kinds))}"
    failing = FailingObserver(kinds.index(kind), again)
    run_twins(config, EVERY_KIND, failing)
    assert failing.raised >= 1


def test_the_error_names_the_observer_its_exception_and_the_event():
    zone = kit.Zone(16, record=False)

    def broken_widget(event: kit.Event) -> None:
        if event.kind == ev.SPLIT:
            raise ValueError("redraw failed")

    zone.subscribe(broken_widget)
    with pytest.raises(kit.ObserverError) as caught:
        zone.alloc_pages(0)
    message = str(caught.value)
    assert "broken_widget" in message and "ValueError('redraw failed')" in message
    assert "alloc_pages" in message and "split event" in message
    assert "3 more" in message  # four splits: the first is the cause, the others counted
    [failure] = caught.value.failures
    assert (failure.observer, failure.times) == (broken_widget, 4)
    assert caught.value.__cause__ is failure.error
    assert zone.nr_free() == [1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0]  # the allocation completed
    assert sorted(zone.allocations()) == [(0, 0, None)]


def test_an_interrupt_in_an_observer_is_raised_as_it_is_after_the_call():
    """Ctrl-C while a widget redraws: the call completes, then KeyboardInterrupt (not wrapped);
    another observer's exception in the same call is its context."""
    zone, twin = kit.Zone(32), kit.Zone(32)

    def interrupted(event: kit.Event) -> None:
        if event.kind == ev.MERGE:
            raise KeyboardInterrupt

    def failing(event: kit.Event) -> None:
        if event.kind == ev.FREE:
            raise ValueError("also broken")

    page, twin_page = zone.alloc_pages(2), twin.alloc_pages(2)
    zone.subscribe(failing)
    zone.subscribe(interrupted)
    with pytest.raises(KeyboardInterrupt) as caught:
        zone.release(page)
    twin.release(twin_page)
    assert isinstance(caught.value.__context__, kit.ObserverError)
    assert_twins(zone, twin, "after the interrupted free")


def test_the_next_call_does_not_raise_an_earlier_calls_failure():
    zone = kit.Zone(16)
    raise_once = FailingObserver(0)
    zone.subscribe(raise_once)
    with pytest.raises(kit.ObserverError):
        zone.alloc_pages(0)
    assert zone.alloc_pages(0) is not None  # no error: the failure was raised once
    check_invariants(zone)


def test_an_observer_may_unsubscribe_itself_while_it_is_called():
    """As before: from its next event on it hears nothing; the others hear every event."""
    zone, twin = kit.Zone(16), kit.Zone(16)
    mine: list[kit.Event] = []
    others: list[kit.Event] = []
    twins: list[kit.Event] = []

    def leaving(event: kit.Event) -> None:
        mine.append(event)
        if len(mine) == 2:
            unsubscribe()

    unsubscribe = zone.subscribe(leaving)
    zone.subscribe(others.append)
    twin.subscribe(twins.append)
    page, twin_page = zone.alloc_pages(0), twin.alloc_pages(0)
    zone.release(page)
    twin.release(twin_page)
    assert len(mine) == 2
    assert others == twins
    assert_twins(zone, twin, "after an observer left")
    check_invariants(zone)
