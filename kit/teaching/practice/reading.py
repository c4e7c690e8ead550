"""Reading a typed prediction: the field it fills and the value it means (lenient parsing)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from kit.core.errors import InvalidArgument, KitError
from kit.core.orders import parse_size
from kit.core.procfs import parse_buddyinfo


class Unreadable(InvalidArgument):
    """A typed prediction that cannot be read as the field's kind of value."""


@dataclass(frozen=True)
class Field:
    """One value the reader predicts: ``type`` is "int", "bytes" (a number of bytes, also typed
    as a size: 124K), "pfn" (a number or NULL), "ints", "buddyinfo" or "blocks"."""

    key: str
    label: str
    type: str
    example: str


#: The forms each type of field reads, as an unreadable answer's message names them.
FORMS = {
    "int": "a whole number: 12, 1,024 or 0x0c (a word before or after is fine: order 3, "
           "pfn 8, 5 pages)",
    "bytes": "a number of bytes: 126976, 126,976, 0x1f000, or a size: 124K, 124 KiB",
    "pfn": "a pfn: 12, pfn 12 or 0x0c, or NULL for a failed allocation",
    "ints": "one count per order from order 0 up, separated by spaces or commas, with or "
            "without brackets: 1 0 2 or [1, 0, 2]",
    "buddyinfo": "a /proc/buddyinfo line (Node 0, zone Normal 1 0 2 ...) or only its counts: "
                 "1 0 2",
    "blocks": "blocks as pfn/order (8/3), pfn:order (8:3), (8, 3) or a pfn range (8-15, "
              "8..15), separated by spaces or commas",
}


def _unreadable(kind: str, raw: object) -> Unreadable:
    return Unreadable(f"expected {FORMS[kind]}; got {raw!r}")


def read_value(field: Field, raw: object) -> object:
    """Turn typed text (or a Python value) into the field's comparable value, in any notation
    the practice prompts use or show (``FORMS``)."""
    if field.type == "int":
        return _read_int(raw)
    if field.type == "bytes":
        return _read_bytes(raw)
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
        try:
            return _read_ints(raw)
        except Unreadable:
            raise _unreadable("buddyinfo", raw) from None
    return _read_blocks(raw)


#: A number as the prompts show them (12, 1,024, 0x0c), with an optional word before it (order,
#: pfn) or after it (pages, blocks, ...) and a full stop.
_NUMBER = re.compile(
    r"\s*(?:(?:order|pfn|nr_free)\s*[:=]?\s*)?"
    r"(?P<num>0x[0-9a-f]+|\d{1,3}(?:[,_]\d{3})+|\d+)"
    r"\s*(?:pages?|blocks?|splits?|merges?|refills?|times)?\s*\.?\s*", re.IGNORECASE)


def _number(text: str) -> int | None:
    match = _NUMBER.fullmatch(text)
    if match is None:
        return None
    return int(re.sub(r"[,_]", "", match.group("num")), 0)


def _read_int(raw: object) -> int:
    if isinstance(raw, int) and not isinstance(raw, bool):
        return raw
    value = _number(raw) if isinstance(raw, str) else None
    if value is None:
        raise _unreadable("int", raw)
    return value


def _read_bytes(raw: object) -> int:
    """Bytes as a number or as a size with a unit (the problems print sizes both ways)."""
    if isinstance(raw, int) and not isinstance(raw, bool):
        return raw
    if isinstance(raw, str):
        value = _number(re.sub(r"(?i)\s*bytes?\s*$", "", raw))
        if value is not None:
            return value
        try:
            return parse_size(raw.replace(",", ""))
        except KitError:
            pass
    raise _unreadable("bytes", raw)


def _read_pfn(raw: object) -> int | None:
    """A pfn, or None for a failed allocation (typed NULL or None; the value None)."""
    if raw is None or (isinstance(raw, str) and raw.strip().upper() in ("NULL", "NONE")):
        return None
    try:
        return _read_int(raw)
    except Unreadable:
        raise _unreadable("pfn", raw) from None


def _read_ints(raw: object) -> tuple[int, ...]:
    if isinstance(raw, str):
        tokens = [t for t in re.split(r"[\s,;\[\]()]+", raw) if t]
        if not tokens or not all(t.isdigit() for t in tokens):
            raise _unreadable("ints", raw)
        return tuple(int(t) for t in tokens)
    if isinstance(raw, (list, tuple)):
        return tuple(_read_int(value) for value in raw)
    raise _unreadable("ints", raw)


_PAIR = re.compile(r"\(\s*(\d+)\s*,\s*(\d+)\s*\)")
_BLOCK = re.compile(r"(?P<pfn>\d+)(?:[/:](?P<order>\d+)|(?:-|\.\.)(?P<last>\d+))")


def _read_blocks(raw: object) -> tuple[tuple[int, int], ...]:
    if isinstance(raw, str):
        text = raw.strip().strip("[]{}")
        pairs = _PAIR.findall(text)
        if pairs and not _PAIR.sub("", text).strip(" ,;"):  # (8, 3) (16, 4)
            return tuple(sorted((int(pfn), int(order)) for pfn, order in pairs))
        tokens = [t for t in re.split(r"[\s,;]+", text) if t]
        matches = [_BLOCK.fullmatch(t) for t in tokens]
        if not tokens or not all(matches):
            raise _unreadable("blocks", raw)
        return tuple(sorted(_block(m) for m in matches if m))
    if isinstance(raw, (list, tuple)):
        try:
            return tuple(sorted((_read_int(pfn), _read_int(order)) for pfn, order in raw))
        except (TypeError, ValueError):
            raise _unreadable("blocks", raw) from None
    raise _unreadable("blocks", raw)


def _block(match: re.Match[str]) -> tuple[int, int]:
    """One block typed as pfn/order or as the range of pfns it covers (8-15 is 8/3)."""
    pfn = int(match.group("pfn"))
    if match.group("order") is not None:
        return pfn, int(match.group("order"))
    pages = int(match.group("last")) - pfn + 1
    if pages < 1 or pages & (pages - 1):
        raise Unreadable(f"{match.group(0)} is {max(pages, 0)} pages, not a block: a block is "
                         "2^n pages, such as 8-15 (8/3)")
    return pfn, pages.bit_length() - 1


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
