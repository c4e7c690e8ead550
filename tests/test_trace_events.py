"""A trace's operations keep their events as the zone recorded them and make Event objects
only when read (kit.core.trace.Operation): the same values as before, whoever reads them."""

from __future__ import annotations

import copy
import dataclasses
import pickle

import pytest

import kit
from kit.core.events import Event
from kit.core.trace import Operation


def recorded_zone(exact: bool) -> tuple[kit.Zone, list[Event]]:
    zone = kit.Zone(256, pcp=True)
    seen: list[Event] = []
    zone.subscribe(seen.append)
    kit.run_workload(zone, seed=3, steps=60, exact=exact)
    return zone, seen


@pytest.mark.parametrize("exact", [False, True])
def test_read_events_are_the_events_observers_saw(exact: bool) -> None:
    zone, seen = recorded_zone(exact)
    assert zone.trace is not None
    assert zone.trace.events() == seen and len(seen) > 100
    assert all(type(event) is Event for event in zone.trace.events())


def test_an_operation_is_the_same_value_made_from_events_or_recorded() -> None:
    zone, _ = recorded_zone(True)
    assert zone.trace is not None
    for recorded in zone.trace.operations[:40]:
        made = Operation(recorded.name, recorded.args, recorded.result, recorded.events)
        fresh = Operation.recorded(recorded.name, recorded.args, recorded.result,
                                   tuple(dataclasses.astuple(e) for e in recorded.events))
        assert made == recorded == fresh and hash(made) == hash(recorded) == hash(fresh)
        assert hash(recorded) == hash((recorded.name, recorded.args, recorded.result,
                                       recorded.events))
        assert repr(made) == repr(fresh) == (
            f"Operation(name={recorded.name!r}, args={recorded.args!r}, "
            f"result={recorded.result!r}, events={recorded.events!r})")
    first, second = zone.trace.operations[:2]
    assert first != second and first != (first.name, first.args, first.result, first.events)
    assert Operation("free_pages", (0, 0), None).events == ()


def test_an_operation_is_frozen() -> None:
    operation = Operation("alloc_pages", (0,), 0, (Event("take", 0, 0),))
    with pytest.raises(dataclasses.FrozenInstanceError):
        operation.result = 1
    with pytest.raises(dataclasses.FrozenInstanceError):
        del operation.name
    assert operation.events == (Event("take", 0, 0),)


def test_an_operation_copies_and_pickles_as_the_value_it_is() -> None:
    """As the frozen dataclass it was: a copied or pickled zone keeps its trace."""
    zone, _ = recorded_zone(True)
    assert zone.trace is not None
    operations = zone.trace.operations[:20]
    for again in (copy.copy(operations), copy.deepcopy(operations),
                  pickle.loads(pickle.dumps(operations))):
        assert again == operations
        assert [op.events for op in again] == [op.events for op in operations]
    twin = copy.deepcopy(zone)
    assert twin.trace is not None and twin.trace.operations == zone.trace.operations
