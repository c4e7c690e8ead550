"""Waiting in tests for what another thread does: ask until a condition holds or time is up."""

from __future__ import annotations

import time
from collections.abc import Callable


def eventually(check: Callable[[], object], timeout: float = 10.0, every: float = 0.02) -> bool:
    """Whether ``check()`` became true within ``timeout`` seconds (asked every ``every`` s)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(every)
    return False
