"""A real kernel trace and /proc/zoneinfo (exercises 25-28): references from the kit's readers.

The cases come from the recording the kit ships (Linux 6.18) and from seeded variations of it,
so a hidden case differs per student while every expected value is the kit's own reading.
"""

from __future__ import annotations

import gzip
import random
from collections import Counter

from kit.core.kerneltrace import TraceReport, parse_trace
from kit.core.recording import shipped_recording
from kit.core.zoneinfo import parse_zoneinfo
from kit.grading.trusted.memo import class_cache, plain_key


@class_cache(maxsize=1)
def _shipped_lines() -> tuple[str, ...]:
    """The shipped trace's lines but its comments, read once per run (every grading run
    does).  The file (ASCII, newline-ended lines) is decompressed in one piece and split:
    reading its 270,000 lines one by one through a text stream cost ~0.3 s more."""
    lines = gzip.decompress(shipped_recording().trace.read_bytes()).decode().split("\n")
    if lines[-1] == "":  # the newline that ends the last line starts no line
        lines.pop()
    return tuple([line for line in lines if not line.startswith("#")])


@class_cache()
def _event_lines(event: str) -> tuple[str, ...]:
    """The shipped trace's lines of one tracepoint (kept: every student's test cells ask
    again, and filtering 270,000 lines costs a quarter of a second each time)."""
    needle = f" {event}: "
    return tuple([line for line in _shipped_lines() if needle in line])


def shipped_lines(event: str, count: int, seed: int) -> list[str]:
    """``count`` lines of one tracepoint from the shipped trace, picked by ``seed``."""
    lines = _event_lines(event)
    return random.Random(seed).sample(lines, min(count, len(lines)))


def alloc_fields(line: str) -> tuple[int, int, int, int, str]:
    """(cpu, pfn, order, migratetype, gfp_flags) of one mm_page_alloc line, by the kit."""
    (event,) = parse_trace([line], TraceReport())
    return event.cpu, event.pfn or 0, event.order, event.migratetype, event.gfp_flags


def page_event_stream(seed: int, length: int = 60) -> list[tuple[str, int, bool]]:
    """A seeded stream of (event, order, percpu_refill) as a trace summary sees it:
    allocations, frees, and blocks taken from the buddy lists (refills, and a few straight).
    Made once per seed for the class; each caller gets a list of its own (a notebook hands it
    to the student's function, which may change it)."""
    return list(_page_event_stream(seed, length))


@class_cache(maxsize=256, key=plain_key)
def _page_event_stream(seed: int, length: int) -> tuple[tuple[str, int, bool], ...]:
    rng = random.Random(seed)
    stream: list[tuple[str, int, bool]] = []
    for _ in range(length):
        kind = rng.choice(["mm_page_alloc"] * 4 + ["mm_page_free", "mm_page_alloc_zone_locked"])
        order = rng.choice([0, 0, 0, 1, 2, 3, 9, 10])
        straight = order > 3 and order != 9
        if kind == "mm_page_alloc_zone_locked":
            stream.append((kind, order, not straight))
        elif kind == "mm_page_alloc" and straight:
            stream += [("mm_page_alloc_zone_locked", order, False), (kind, order, False)]
        else:
            stream.append((kind, order, False))
    return tuple(stream)


def pcp_served(stream: list[tuple[str, int, bool]]) -> tuple[int, int]:
    """(allocations served through a per-CPU list, allocations): every allocation but those a
    zone_locked event with percpu_refill 0 took straight from the buddy lists."""
    allocations = sum(1 for event, _, _ in stream if event == "mm_page_alloc")
    straight = sum(1 for event, _, refill in stream
                   if event == "mm_page_alloc_zone_locked" and not refill)
    return allocations - straight, allocations


def extfrag_lines(seed: int) -> list[str]:
    """Fallback lines: the shipped trace's, plus seeded ones of other migratetype pairs in the
    same format, shuffled.  Made once per seed for the class; each caller gets a list of its
    own."""
    return list(_extfrag_lines(seed))


@class_cache(maxsize=256, key=plain_key)
def _extfrag_lines(seed: int) -> tuple[str, ...]:
    rng = random.Random(seed)
    lines = list(shipped_lines("mm_page_alloc_extfrag", 19, seed))
    template = lines[0]
    head = template[: template.index("mm_page_alloc_extfrag:")]
    for _ in range(rng.randint(5, 40)):
        wanted, stolen = rng.choice([(0, 1), (2, 1), (0, 2), (1, 0), (2, 0)])
        order, fallback = rng.choice([0, 1, 2, 3]), rng.choice([3, 5, 9, 10])
        lines.append(
            f"{head}mm_page_alloc_extfrag: page=0000000000000000 pfn=0x{rng.randrange(1 << 21):x}"
            f" alloc_order={order} fallback_order={fallback} pageblock_order=9"
            f" alloc_migratetype={wanted} fallback_migratetype={stolen}"
            f" fragmenting={int(fallback < 9)} change_ownership={int(fallback >= 9)}")
    rng.shuffle(lines)
    return tuple(lines)


def biggest_fallback(lines: list[str]) -> tuple[int, int, int]:
    """(wanted migratetype, stolen-from migratetype, events) of the most frequent pair; a tie
    goes to the smaller pair."""
    pairs = Counter((e.migratetype, e.fallback_migratetype) for e in parse_trace(lines))
    (wanted, stolen), count = min(pairs.items(), key=lambda item: (-item[1], item[0]))
    return wanted, stolen, count


@class_cache(maxsize=256)
def zoneinfo_text(when: str = "before", seed: int | None = None) -> str:
    """The shipped recording's /proc/zoneinfo; with a seed, the Normal zone's free pages and
    boost changed (above, between and below the watermarks).  Kept per seed, as the reading
    below: every student's test cell asks for the same ones."""
    text = shipped_recording().proc_path("zoneinfo", when).read_text()
    if seed is None:
        return text
    rng = random.Random(seed)
    normal = text.index("zone   Normal")
    free_at = text.index("pages free", normal)
    end = text.index("\n", free_at)
    free = rng.choice([rng.randint(0, 12_000), rng.randint(12_330, 18_000),
                       rng.randint(15_000, 40_000), rng.randint(100_000, 900_000)])
    text = text[:free_at] + f"pages free     {free}" + text[end:]
    boost_at = text.index("boost", normal)
    end = text.index("\n", boost_at)
    return text[:boost_at] + f"boost    {rng.choice([0, 0, 2000])}" + text[end:]


@class_cache(maxsize=256)
def pages_before_kswapd(text: str, zone: str) -> int:
    """Pages that can still be allocated from ``zone`` before free pages fall below its low
    watermark (plus boost) and kswapd is woken; 0 when they already have."""
    found = next(z for z in parse_zoneinfo(text) if z.zone == zone)
    return max(found.free - (found.low + found.boost), 0)
