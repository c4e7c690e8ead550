"""Reference answers the test cells compare against, computed by running the simulator.

The exercises ask students to write small pieces of the allocator (the split step, the merge
step, ``make_alloc_exact`` ...).  The expected values are never typed into the notebooks: they
come from the kit's own Zone, watched through its events, on seeded cases, so the exercises and
the simulator cannot drift apart.

One module per job: :mod:`.buddy` (split and merge), :mod:`.exact` (the exact allocator),
:mod:`.placement` (head or tail), :mod:`.pcp` (per-CPU lists), :mod:`.misconceptions` (known
wrong answers of the arithmetic exercises), :mod:`.procfs` (/proc files), :mod:`.traces` (which
kernel wrote a trace), :mod:`.kerneltrace` (a real kernel's trace and zoneinfo),
:mod:`.workloads` (figures after a seeded workload, kept for the class) and :mod:`.zones`
(what several share).  The check cells use them as
``harness.<name>``, so every public name is re-exported here.
"""

from kit.grading.boundary import checks as _checks
from kit.teaching.progress import record_exercise

from .buddy import (
    MergeCase,
    expand_by_zone,
    expand_misconceptions,
    merge_cases,
    merge_misconceptions,
    split_cases,
)
from .exact import (
    EXACT_PRESET,
    ExactCase,
    after_alloc_pages_exact,
    after_free_pages_exact,
    after_make_alloc_exact,
    exact_cases,
    exact_misconceptions,
    zone_state,
)
from .kerneltrace import (
    alloc_fields,
    biggest_fallback,
    extfrag_lines,
    page_event_stream,
    pages_before_kswapd,
    pcp_served,
    shipped_lines,
    zoneinfo_text,
)
from .misconceptions import (
    buddy_misconceptions,
    get_order_misconceptions,
    kmalloc_misconceptions,
    merged_start_misconceptions,
    page_align_misconceptions,
    pages_for_misconceptions,
    pages_returned_misconceptions,
    unusable_misconceptions,
    waste_misconceptions,
)
from .pcp import (
    PCP_PRESET,
    PcpCase,
    after_pcp_run,
    pcp_after_frees,
    pcp_cases,
    pcp_most_held,
    pcp_reference,
)
from .placement import (
    PRESETS_ORDER,
    PlacementCase,
    free_lists_of,
    placement_cases,
)
from .procfs import (
    buddyinfo_misconceptions,
    buddyinfo_rows,
    format_pagetypeinfo,
    free_pages_by_zone,
    pagetypeinfo_summary,
    random_buddyinfo,
    random_pagetypeinfo,
)
from .traces import (
    anonymous_trace,
    consistent_presets,
    trace_cases,
)
from .workloads import (
    fragmentation_measure,
    more_blocks_reference,
    pcp_measure,
)

# The exercise notebooks import this module: their self-checks then record the student's
# progress (only in a kernel a Jupyter server started; see kit.teaching.progress).
_checks.on_finished = record_exercise

__all__ = [
    "EXACT_PRESET",
    "PCP_PRESET",
    "PRESETS_ORDER",
    "ExactCase",
    "MergeCase",
    "PcpCase",
    "PlacementCase",
    "after_alloc_pages_exact",
    "after_free_pages_exact",
    "after_make_alloc_exact",
    "after_pcp_run",
    "alloc_fields",
    "anonymous_trace",
    "biggest_fallback",
    "buddy_misconceptions",
    "buddyinfo_misconceptions",
    "buddyinfo_rows",
    "consistent_presets",
    "exact_cases",
    "exact_misconceptions",
    "expand_by_zone",
    "expand_misconceptions",
    "extfrag_lines",
    "format_pagetypeinfo",
    "fragmentation_measure",
    "free_lists_of",
    "free_pages_by_zone",
    "get_order_misconceptions",
    "kmalloc_misconceptions",
    "merge_cases",
    "merge_misconceptions",
    "merged_start_misconceptions",
    "more_blocks_reference",
    "page_align_misconceptions",
    "page_event_stream",
    "pages_before_kswapd",
    "pages_for_misconceptions",
    "pages_returned_misconceptions",
    "pagetypeinfo_summary",
    "pcp_after_frees",
    "pcp_cases",
    "pcp_measure",
    "pcp_most_held",
    "pcp_reference",
    "pcp_served",
    "placement_cases",
    "random_buddyinfo",
    "random_pagetypeinfo",
    "shipped_lines",
    "split_cases",
    "trace_cases",
    "unusable_misconceptions",
    "waste_misconceptions",
    "zone_state",
    "zoneinfo_text",
]
