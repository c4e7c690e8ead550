#!/usr/bin/env bash
# Re-record the kit's shipped kernel trace (kit/core/data/trace-6.18-x86_64) as root on Linux:
# the page-allocator tracepoints during scripts/trace-workload.sh, with /proc/zoneinfo, vmstat,
# buddyinfo and pagetypeinfo before and after. Only the workload and its children are traced
# (python3 is whatever PATH finds: on the recording machine a pyenv shim, whose helper processes
# show up too). The shipped copy: 274,647 events in 7.09 s on Linux 6.18, 2 CPUs, 23.5 GiB (24,105 MiB).
# Fallback (extfrag) counts depend on the machine's state: pageblocks an earlier run stole
# stay unmovable, so a second run right after the first steals fewer.
# Tests pin some figures of the shipped trace: re-run them after this.
set -euo pipefail
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO_ROOT"
OUT="${1:-kit/core/data/trace-6.18-x86_64}"
.venv/bin/python -m kit trace record --out "$OUT" --seconds 30 --max-events 400000 \
    --workload "dd of 20 MiB into a tmpfs file; python3 filling 256 pipes with 1 MiB each; \
python3 allocating and freeing 32 x 1 MiB of anonymous memory 4 times; rm of the tmpfs file \
(scripts/trace-workload.sh)" \
    --only-command -- bash scripts/trace-workload.sh
