"""The trust boundary's gate: only plain data crosses, and zone calls are replayed, not believed."""

from __future__ import annotations

import json

import pytest

import kit
from kit.grading.boundary import wire
from kit.grading.trusted.remote import replay


def round_trip(value: object) -> object:
    return wire.decode(json.loads(json.dumps(wire.encode(value))))


@pytest.mark.parametrize("value", [
    None, True, 0, -(1 << 70), 1.5, "ü", [1, [2]], (1, (2, 3)), {1: [2], (3, 4): "x"},
    {"a": {1, 2}}, set(), frozenset({5}), [(), {}],
])
def test_plain_data_survives_the_trip_with_its_types(value: object) -> None:
    back = round_trip(value)
    assert back == value
    assert type(back) is (set if isinstance(value, frozenset) else type(value))


@pytest.mark.parametrize(("value", "message"), [
    (object(), "a object is not plain data"),
    ([lambda: 0], "a function is not plain data"),
    (b"bytes", "a bytes is not plain data"),
])
def test_what_is_not_plain_data_is_refused_by_name(value: object, message: str) -> None:
    with pytest.raises(wire.WireError, match=message):
        wire.encode(value)


@pytest.mark.parametrize(("data", "message"), [
    ({"zone": [1]}, "unknown tag 'zone'"),  # a worker never sends a zone back
    ({"t": 1}, "tag 't' without a list"),
    ({"x": [1]}, "unknown tag 'x'"),
    ({"s": [[1]]}, "a list cannot be a set element"),
    ({"d": [[1]]}, "not a \\[key, value\\] pair"),
    ({"a": 1, "b": 2}, "not a value of the protocol"),
    ("x" * (wire.MAX_STR + 1), "a string longer than"),
])
def test_a_forged_reply_is_refused_not_trusted(data: object, message: str) -> None:
    with pytest.raises(wire.WireError, match=message):
        wire.decode(data)


def test_deep_nesting_and_huge_messages_are_refused() -> None:
    deep: list[object] = []
    for _ in range(wire.MAX_DEPTH + 5):
        deep = [deep]
    with pytest.raises(wire.WireError, match="nested more than"):
        wire.decode(deep)
    with pytest.raises(wire.WireError, match="not a JSON message"):
        wire.loads(b"[" * 100_000 + b"]" * 100_000)
    with pytest.raises(wire.WireError, match="not a JSON message"):
        wire.loads(b"9" * 5000)  # past Python's int-from-text limit
    with pytest.raises(wire.WireError, match="over the"):
        wire.loads(b" " * (wire.MAX_MESSAGE_BYTES + 1))


def test_a_zone_crosses_as_its_state_and_comes_back_equal() -> None:
    zone = kit.Zone(256, max_order=5, preset="5.10", pcp=True)
    for order in (0, 1, 3, 0):
        zone.alloc_pages(order)
    zone.free_pages(zone.pfn_to_virt(0), 0)
    copy = wire.decode(json.loads(json.dumps(wire.encode([zone]))), zones=True)[0]
    assert copy is not zone and copy.config() == zone.config()
    assert wire.zone_state(copy) == wire.zone_state(zone)
    with pytest.raises(wire.WireError, match="not a zone state"):
        wire.decode({"zone": {"config": {"nr_pages": -1}}}, zones=True)


def test_replay_makes_the_logged_calls_on_the_graders_zone() -> None:
    zone = kit.Zone(64, max_order=4)
    addr = zone.get_free_pages(2)
    log = [["split_page", wire.encode([kit.Page(zone.virt_to_pfn(addr), 2)]), wire.encode({})],
           ["free_pages", wire.encode([addr + 4096 * 3, 0]), wire.encode({})],
           ["free_pages", wire.encode([addr + 4096 * 3, 0]), wire.encode({})]]  # a double free
    replay(zone, log, frozenset())
    expected = kit.Zone(64, max_order=4)
    expected.make_alloc_exact(expected.get_free_pages(2), 2, 3 * 4096)
    assert zone.nr_free() == expected.nr_free()


@pytest.mark.parametrize("entry", [
    ["make_alloc_exact", [0, 2, 4096], {"d": []}],  # forbidden in this exercise
    ["restore", [], {"d": []}],  # not an allocator call
    ["free_pages", 1, {"d": []}],
    "free_pages",
])
def test_replay_refuses_calls_it_does_not_know_or_that_are_forbidden(entry: object) -> None:
    zone = kit.Zone(64, max_order=4)
    with pytest.raises(wire.WireError):
        replay(zone, [entry], frozenset({"make_alloc_exact"}))
    assert zone.nr_free() == kit.Zone(64, max_order=4).nr_free()


def test_a_zone_state_keeps_the_per_cpu_scaling_across_the_boundary():
    zone = kit.Zone(4096, preset="6.8", pcp=True, pcp_batch=2, pcp_high=64)
    pages = [zone.alloc_pages(0) for _ in range(20)]
    for page in pages[:10]:
        zone.release(page)
    copy = wire.zone_from_state(json.loads(json.dumps(wire.zone_state(zone))))
    assert copy.snapshot().pcp_factors == zone.snapshot().pcp_factors != (0, 0, False)
    for page in pages[10:]:
        zone.release(page)
        copy.release(page)
    assert copy.pcp_lists() == zone.pcp_lists() and copy.nr_free() == zone.nr_free()
