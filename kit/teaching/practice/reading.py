"""Reading a typed prediction: the field it fills and the value it means (lenient parsing)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from kit.core.errors import InvalidArgument, KitError
from kit.core.procfs import parse_buddyinfo


class Unreadable(InvalidArgument):
    """A typed prediction that cannot be read as the field's kind of value."""


@dataclass(frozen=True)
class Field:
    """One value the reader predicts: ``type`` is "int", "pfn" (a number or NULL), "ints",
    "buddyinfo" or "blocks"."""

    key: str
    label: str
    type: str
    example: str


def read_value(field: Field, raw: object) -> object:
    """Turn typed text (or a Python value) into the field's comparable value."""
    if field.type == "int":
        return _read_int(raw)
    if field.type == "pfn":
        return _read_pfn(raw)
    if field.type == "ints":
        return _read_ints(raw)
    if field.type == "buddyinfo":
        if isinstance(raw, str) and raw.strip().startswith("Node"):
            try:
                zones = parse_buddyinfo(raw.strip() + "\n")
            except KitError as exc:
                raise Unreadable(f"not a /proc/buddyinfo line: {exc}") from None
            if len(zones) != 1:
                raise Unreadable("type one /proc/buddyinfo line (one zone)")
            return tuple(zones[0].nr_free)
        return _read_ints(raw)
    return _read_blocks(raw)


def _read_int(raw: object) -> int:
    if isinstance(raw, int) and not isinstance(raw, bool):
        return raw
    if isinstance(raw, str) and re.fullmatch(r"\s*\d+\s*", raw):
        return int(raw)
    raise Unreadable(f"expected a whole number such as 12, got {raw!r}")


def _read_pfn(raw: object) -> int | None:
    """A pfn, or None for a failed allocation (typed NULL or None; the value None)."""
    if raw is None or (isinstance(raw, str) and raw.strip().upper() in ("NULL", "NONE")):
        return None
    try:
        return _read_int(raw)
    except Unreadable:
        raise Unreadable(f"expected a pfn such as 12, or NULL, got {raw!r}") from None


def _read_ints(raw: object) -> tuple[int, ...]:
    if isinstance(raw, str):
        tokens = [t for t in re.split(r"[\s,;\[\]()]+", raw) if t]
        if not tokens or not all(t.isdigit() for t in tokens):
            raise Unreadable(f"expected numbers separated by spaces, such as 1 0 2, got {raw!r}")
        return tuple(int(t) for t in tokens)
    if isinstance(raw, (list, tuple)):
        return tuple(_read_int(value) for value in raw)
    raise Unreadable(f"expected numbers separated by spaces, such as 1 0 2, got {raw!r}")


def _read_blocks(raw: object) -> tuple[tuple[int, int], ...]:
    if isinstance(raw, str):
        tokens = [t for t in re.split(r"[\s,;]+", raw) if t]
        pairs = [re.fullmatch(r"(\d+)[/:](\d+)", t) for t in tokens]
        if not tokens or not all(pairs):
            raise Unreadable(
                f"expected blocks as pfn/order separated by spaces, such as 8/3 16/4, got {raw!r}")
        return tuple(sorted((int(m.group(1)), int(m.group(2))) for m in pairs if m))
    if isinstance(raw, (list, tuple)):
        try:
            return tuple(sorted((_read_int(pfn), _read_int(order)) for pfn, order in raw))
        except (TypeError, ValueError):
            raise Unreadable(f"expected (pfn, order) pairs, got {raw!r}") from None
    raise Unreadable(f"expected blocks as pfn/order, such as 8/3 16/4, got {raw!r}")


def typed_text(field: Field, value: object) -> str:
    """A value as the reader would type it."""
    if isinstance(value, str):
        return value
    if value is None and field.type == "pfn":
        return "NULL"
    if field.type == "blocks":
        return " ".join(f"{pfn}/{order}" for pfn, order in _read_blocks(value)) or "(none)"
    if isinstance(value, (list, tuple)):
        return " ".join(str(v) for v in value)
    return str(value)
