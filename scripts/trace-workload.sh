#!/usr/bin/env bash
# The workload of the kit's shipped kernel trace (kit/core/data/trace-6.18-x86_64), run under
# `kit trace record` by scripts/record-shipped-trace.sh. Three kinds of page allocations, each
# from a process of its own so a summary can tell them apart by comm:
#   1. dd writes 20 MiB into a tmpfs file: page cache, movable (GFP_HIGHUSER_MOVABLE), order 0;
#   2. python3 fills 256 pipes of 1 MiB each (256 MiB of pipe buffers: unmovable kernel pages,
#      GFP_KERNEL_ACCOUNT, enough to make unmovable allocations fall back to other
#      migratetypes' pageblocks), then closes them;
#   3. python3 allocates and touches 32 x 1 MiB of anonymous memory four times over, freeing
#      it each time (movable; large allocations go to mmap, so freeing returns pages at once);
# then rm frees the tmpfs file's 20 MiB.
set -euo pipefail
# PYTHON: the interpreter to run (python3 by default; the recording script passes a real
# binary so that no launcher shim's processes appear in the trace).
FILE="${TMPDIR_TMPFS:-/dev/shm}/kit-trace-workload-$$"
trap 'rm -f "$FILE"' EXIT
dd if=/dev/zero of="$FILE" bs=1M count=20 status=none
"${PYTHON:-python3}" - <<'PY'
import fcntl
import os
pipes = [os.pipe() for _ in range(256)]
for read_end, write_end in pipes:
    fcntl.fcntl(write_end, fcntl.F_SETPIPE_SZ, 1 << 20)
    os.set_blocking(write_end, False)
    os.write(write_end, b"x" * (1 << 20))
for read_end, write_end in pipes:
    os.close(read_end)
    os.close(write_end)
for _ in range(4):
    blocks = [bytearray(1 << 20) for _ in range(32)]
    for block in blocks:
        block[::4096] = b"y" * 256
    del blocks
PY
rm -f "$FILE"
