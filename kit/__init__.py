"""pagealloc-kit: the Linux buddy page allocator and Timur Tabi's exact allocator, to explore.

The core (this package minus ``kit.widgets``) is pure Python with no Jupyter import, so it can be
tested, benchmarked and read beside mm/page_alloc.c on its own.  The public names below are the
contract the notebooks, the exercises and the tests rely on.
"""

from .core.errors import (
    BadPageState,
    InvalidArgument,
    KernelBUG,
    KitError,
    ObserverError,
    ProcFileUnavailable,
)
from .core.events import Event
from .core.metrics import (
    compare_wastage,
    fragmentation_index,
    fragmentation_indexes,
    kmalloc_size,
    unusable_index,
    unusable_indexes,
    wastage,
)
from .core.orders import format_size, get_order, page_align, pages_for, parse_size
from .core.presets import PRESETS
from .core.procfs import (
    format_buddyinfo,
    parse_buddyinfo,
    parse_pagetypeinfo,
    read_buddyinfo,
    read_pagetypeinfo,
)
from .core.replay import ReplayMismatch, replay
from .core.workload import free_workload, run_workload
from .core.zone import PAGE_OFFSET, Page, PageAllocWarning, Zone

__all__ = [
    "PAGE_OFFSET",
    "PRESETS",
    "BadPageState",
    "Event",
    "InvalidArgument",
    "KernelBUG",
    "KitError",
    "ObserverError",
    "Page",
    "PageAllocWarning",
    "ProcFileUnavailable",
    "ReplayMismatch",
    "Zone",
    "compare_wastage",
    "format_buddyinfo",
    "format_size",
    "fragmentation_index",
    "fragmentation_indexes",
    "free_workload",
    "get_order",
    "kmalloc_size",
    "page_align",
    "pages_for",
    "parse_buddyinfo",
    "parse_pagetypeinfo",
    "parse_size",
    "read_buddyinfo",
    "read_pagetypeinfo",
    "replay",
    "run_workload",
    "unusable_index",
    "unusable_indexes",
    "wastage",
]
