"""Sample /proc files shipped with the kit, so lessons and tests show the same numbers anywhere.

Taken from an x86-64 machine with about 3.5 GiB of RAM (three zones: DMA, DMA32, Normal).  The
size comes from the file itself: /proc/pagetypeinfo counts every pageblock of a zone's span
(``pagetypeinfo_showblockcount_print`` in mm/vmstat.c), and its table gives DMA 8, DMA32 1,528
and Normal 256 pageblocks of 2 MiB: 16 MiB + about 3 GiB + 512 MiB.
"""

from __future__ import annotations

from pathlib import Path

from .errors import InvalidArgument

DATA = Path(__file__).resolve().parent / "data"
SAMPLES = {
    "buddyinfo": "buddyinfo-x86_64-3.5GiB.txt",
    "pagetypeinfo": "pagetypeinfo-x86_64-3.5GiB.txt",
}


def sample_path(name: str) -> Path:
    """The file of a sample: "buddyinfo" or "pagetypeinfo"."""
    try:
        return DATA / SAMPLES[name]
    except KeyError:
        raise InvalidArgument(
            f"no sample named {name!r}; samples: {', '.join(SAMPLES)}"
        ) from None


def sample_text(name: str) -> str:
    """The text of a sample, exactly as the kernel printed it."""
    return sample_path(name).read_text()
