"""What crosses the trust boundary between the grader and a sandboxed worker, and how.

The grader (trusted) and the worker that runs a student's answer cells (untrusted, inside the
sandbox) talk over two pipes, one JSON message per line.  Everything the worker sends is data
the student controls, so this module is the one gate it passes: :func:`decode` accepts only
plain data (None, bool, int, float, str, and lists, tuples, sets and dicts of them), within
size and depth caps, and raises :class:`WireError` for anything else.  No object is ever
unpickled or evaluated; a class of the student's cannot reach the grader.

Values are JSON with three tagged containers, so that what Python tells apart survives the trip:
``{"t": [...]}`` a tuple, ``{"s": [...]}`` a set, ``{"d": [[key, value], ...]}`` a dict (keys
may be ints or tuples, as in ``{order: [pfns]}``).  A kit ``Zone`` travels as ``{"zone":
state}`` and a ``Page`` as ``{"page": [pfn, order]}``; both are rebuilt as fresh objects on the
other side, never shared.

This module is imported on both sides and holds no secret.
"""

from __future__ import annotations

import json
import numbers
import time
from collections import OrderedDict, deque
from typing import Any

from kit.core.errors import KitError
from kit.core.zone import Page, Zone, ZoneState

#: The longest message either side accepts, in bytes (a value, a zone, a call log).
MAX_MESSAGE_BYTES = 8 << 20
#: How deep containers may nest, and how many elements one value may hold in all.
MAX_DEPTH = 40
MAX_ITEMS = 2_000_000
#: The longest string in a value.
MAX_STR = 1 << 20
#: The most elements of one set or dict, how many of its keys may share a hash value, and the
#: largest int key: a hash table filled with colliding keys costs time quadratic in its size.
MAX_KEYS = 100_000
MAX_SAME_HASH = 8
MAX_INT_KEY = 1 << 64
#: How many elements are read between two looks at the clock.
CLOCK_EVERY = 4096
#: Zone methods that change the allocator: the calls a worker logs and the grader replays.
ZONE_CALLS = ("alloc_pages", "release", "get_free_pages", "free_pages", "alloc_pages_exact",
              "free_pages_exact", "split_page", "make_alloc_exact", "drain_pages")


class WireError(KitError):
    """A message or value that is not the plain data the protocol allows."""


def refused_name(forbidden: str) -> str:
    """The name a refusal of ``forbidden`` (an entry of a request's ``forbid``) shows: the
    class for ``Zone.__init__``, the function or method itself otherwise."""
    if forbidden.endswith((".__init__", ".__new__")):
        return forbidden.split(".")[0]
    return forbidden.split(".")[-1]


def encode(value: object) -> Any:
    """``value`` as JSON-ready data; raises WireError for what is not plain data."""
    return _encode(value, 0)


def _encode(value: object, depth: int) -> Any:
    if depth > MAX_DEPTH:
        raise WireError(f"nested more than {MAX_DEPTH} levels deep")
    kind = type(value)
    if kind is str and len(value) > MAX_STR:  # type: ignore[arg-type]
        raise WireError(f"a string longer than {MAX_STR} characters")
    if value is None or kind in (bool, int, float, str):
        return value
    if kind is list:
        return [_encode(v, depth + 1) for v in value]  # type: ignore[attr-defined]
    if kind is tuple or (isinstance(value, tuple) and hasattr(value, "_fields")):
        return {"t": [_encode(v, depth + 1) for v in value]}  # type: ignore[attr-defined]
    if kind in (set, frozenset):
        return {"s": [_encode(v, depth + 1) for v in value]}  # type: ignore[attr-defined]
    if kind in (dict, OrderedDict):
        return {"d": [[_encode(k, depth + 1), _encode(v, depth + 1)]
                      for k, v in value.items()]}  # type: ignore[attr-defined]
    if isinstance(value, Page):
        return {"page": [value.pfn, value.order]}
    if isinstance(value, Zone):
        return {"zone": zone_state(value)}
    raise WireError(f"a {kind.__name__} is not plain data (None, bool, int, float, str, "
                    "list, tuple, set or dict)")


def to_plain(value: object, depth: int = 0) -> Any:
    """``value`` with every number replaced by the plain ``int``, ``float`` or ``bool`` it equals.

    What a notebook's self-check accepts as a number -- numpy's ``int64``, ``float64`` and
    ``bool_``, a 0-d array, a ``Fraction`` equal to a whole number, any ``numbers.Integral`` or
    ``numbers.Real`` -- becomes the plain value, inside lists, tuples, sets and dict keys and
    values too.  The worker calls it on what the student's code returns, in the sandbox, so the
    grader still receives plain data only: :func:`encode` and :func:`decode` stay strict.
    Anything else (an array of more than one number, an object) is left for :func:`encode` to
    refuse by name.
    """
    if depth > MAX_DEPTH:
        return value  # encode refuses it, saying how deep
    kind = type(value)
    if value is None or kind in (bool, int, float, str):
        return value
    if isinstance(value, list) and kind is list:
        return [to_plain(v, depth + 1) for v in value]
    if isinstance(value, str):  # numpy's str_: the text it holds
        return str.__str__(value)
    if isinstance(value, tuple):  # named tuples too: they travel as tuples
        return tuple(to_plain(v, depth + 1) for v in value)
    if isinstance(value, (set, frozenset)) and kind in (set, frozenset):
        return kind(to_plain(v, depth + 1) for v in value)
    if isinstance(value, dict) and kind in (dict, OrderedDict):
        return {to_plain(k, depth + 1): to_plain(v, depth + 1) for k, v in value.items()}
    return plain_number(value)


def plain_number(value: object) -> object:
    """A number of the numeric tower or of numpy as the plain Python number it equals (anything
    else unchanged)."""
    if value is None or type(value) in (bool, int, float, str, list, tuple, dict, set):
        return value
    if getattr(value, "shape", None) == () and callable(getattr(value, "item", None)):
        try:  # a numpy scalar or 0-d array: item() is the Python bool, int or float
            value = value.item()  # type: ignore[attr-defined]
        except Exception:
            return value
        if type(value) in (bool, int, float):
            return value
    try:
        if isinstance(value, numbers.Integral):
            return int(value)
        if isinstance(value, numbers.Rational) and value.denominator == 1:
            return int(value.numerator)
        if isinstance(value, numbers.Real):
            return float(value)
    except Exception:  # a student's number class whose conversion raises
        return value
    return value


def decode(data: Any, *, zones: bool = False, deadline: float | None = None) -> Any:
    """Plain data from a decoded JSON message, checked; WireError when it is anything else.

    ``zones`` allows ``{"zone": ...}`` (a grader's request); a worker's reply never has one.
    The work is linear in the message's size: sets and dicts are capped and refused when their
    keys collide, and past ``deadline`` (``time.monotonic()``) decoding stops.
    """
    if data is None or type(data) in (bool, int, float):  # most replies: nothing to bound
        return data
    return _Decoder(zones, deadline).value(data, 0)


class _Decoder:
    def __init__(self, zones: bool, deadline: float | None) -> None:
        self.zones = zones
        self.deadline = deadline
        self.budget = MAX_ITEMS

    def value(self, data: Any, depth: int) -> Any:
        self.budget -= 1
        if self.budget < 0:
            raise WireError(f"more than {MAX_ITEMS} elements")
        if self.deadline is not None and self.budget % CLOCK_EVERY == 0 and \
                time.monotonic() > self.deadline:
            raise WireError("a value that takes too long to read")
        if depth > MAX_DEPTH:
            raise WireError(f"nested more than {MAX_DEPTH} levels deep")
        kind = type(data)
        if data is None or kind in (bool, int, float):
            return data
        if kind is str:
            if len(data) > MAX_STR:
                raise WireError(f"a string longer than {MAX_STR} characters")
            return data
        if kind is list:
            return [self.value(v, depth + 1) for v in data]
        if kind is not dict or len(data) != 1:
            raise WireError("not a value of the protocol")
        (tag, body), = data.items()
        if tag == "zone" and self.zones:
            return zone_from_state(body)
        if type(body) is not list:
            raise WireError(f"tag {tag!r} without a list")
        if tag == "t":
            return tuple(self.value(v, depth + 1) for v in body)
        if tag == "s":
            return set(self.keys([self.value(v, depth + 1) for v in self.capped(body)]))
        if tag == "d":
            pairs = []
            for pair in self.capped(body):
                if type(pair) is not list or len(pair) != 2:
                    raise WireError("a dict entry that is not a [key, value] pair")
                pairs.append((self.value(pair[0], depth + 1), self.value(pair[1], depth + 1)))
            return dict(zip(self.keys([k for k, _ in pairs]), [v for _, v in pairs], strict=True))
        if tag == "page" and len(body) == 2 and all(type(v) is int for v in body):
            return Page(body[0], body[1])
        raise WireError(f"unknown tag {tag!r}")

    @staticmethod
    def capped(body: list[Any]) -> list[Any]:
        if len(body) > MAX_KEYS:
            raise WireError(f"a set or dict of more than {MAX_KEYS} elements")
        return body

    @staticmethod
    def keys(keys: list[Any]) -> list[Any]:
        """``keys`` checked before they go into a hash table: hashable, small, not colliding."""
        hashes = []
        for key in keys:
            _check_key(key)
            hashes.append(hash(key))
        hashes.sort()
        run = 1
        for before, after in zip(hashes, hashes[1:], strict=False):
            run = run + 1 if before == after else 1
            if run > MAX_SAME_HASH:
                raise WireError("set elements or dict keys that collide in a hash table (or "
                                "repeat)")
        return keys


def _check_key(key: Any) -> None:
    kind = type(key)
    if kind is int:
        if not -MAX_INT_KEY < key < MAX_INT_KEY:
            raise WireError("a set element or dict key larger than 2**64")
    elif kind is tuple:
        for part in key:
            _check_key(part)
    elif key is not None and kind not in (bool, float, str, Page):
        raise WireError(f"a {kind.__name__} cannot be a set element or dict key")


def zone_state(zone: Zone) -> dict[str, Any]:
    """A zone's configuration and allocator state as plain JSON data."""
    state = zone.snapshot()
    return {
        "config": state.config,
        "free_lists": [list(free_list) for free_list in state.free_lists],
        "allocated": state.allocated.hex(),
        "exact_owner": [[k, v] for k, v in state.exact_owner.items()],
        "pcp": [[order, list(queue)] for order, queue in state.pcp.items()],
        "pcp_count": state.pcp_count,
        "pcp_factors": list(state.pcp_factors),
    }


def zone_from_state(data: Any) -> Zone:
    """A new Zone in the state :func:`zone_state` described (checked like any input)."""
    try:
        config = dict(data["config"])
        zone = Zone(**config, record=False)
        state = ZoneState(
            zone.config(),
            tuple(OrderedDict((int(p), None) for p in free_list)
                  for free_list in data["free_lists"]),
            bytes.fromhex(data["allocated"]),
            {int(k): int(v) for k, v in data["exact_owner"]},
            {int(order): deque(int(p) for p in queue) for order, queue in data["pcp"]},
            int(data["pcp_count"]),
            0,
            _pcp_factors(data.get("pcp_factors", [0, 0, False])),
        )
        if len(state.free_lists) != zone.max_order + 1 or len(state.allocated) != zone.nr_pages:
            raise ValueError("state does not fit its zone")
        zone.restore(state)
    except (KitError, TypeError, ValueError, KeyError) as exc:
        raise WireError(f"not a zone state: {exc}") from None
    return zone


def _pcp_factors(data: Any) -> tuple[int, int, bool]:
    """The per-CPU list's scaling state (free_factor or free_count, alloc_factor, flag)."""
    free, alloc, prev_high = data
    return int(free), int(alloc), bool(prev_high)


def dumps(message: dict[str, Any]) -> bytes:
    """One message as a line of bytes."""
    line = json.dumps(message, separators=(",", ":"), ensure_ascii=True).encode() + b"\n"
    if len(line) > MAX_MESSAGE_BYTES:
        raise WireError(f"a message of {len(line)} bytes is over the {MAX_MESSAGE_BYTES}-byte cap")
    return line


def loads(line: bytes) -> dict[str, Any]:
    """One message from a line of bytes; WireError when it is not a JSON object."""
    if len(line) > MAX_MESSAGE_BYTES:
        raise WireError(f"a message of {len(line)} bytes is over the {MAX_MESSAGE_BYTES}-byte cap")
    try:
        message = json.loads(line)
    except (ValueError, RecursionError) as exc:
        raise WireError(f"not a JSON message: {str(exc)[:100]}") from None
    if type(message) is not dict:
        raise WireError("a message that is not a JSON object")
    return message
