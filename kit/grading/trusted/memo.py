"""TRUSTED: caches the grading threads share, each value computed by one thread only.

The grader keeps class-wide values (a seed's cases, the shipped trace's lines, the kit's
source shingles) in caches, since every student's test cell asks for the same ones.
``functools.lru_cache`` does not stop two threads from computing the same missing value at
once, and ``kit grade`` starts ``--jobs`` students together: they reach the same test cell
within milliseconds of each other, so each missing value was computed once per grading
thread (the shipped trace's 270,000 lines, 0.35 CPU-s, six times at ``--jobs 6``).  Here the
first thread to miss computes the value and the others wait for it.

A value is kept until ``maxsize`` newer ones push it out (oldest first); an exception is not
kept, so the next call tries again, as with ``functools.lru_cache``.
"""

from __future__ import annotations

import ast
import functools
import threading
from collections.abc import Callable, Hashable
from typing import Any, NamedTuple, TypeVar

F = TypeVar("F", bound=Callable[..., Any])


class CacheInfo(NamedTuple):
    """What ``functools.lru_cache``'s ``cache_info()`` gives, for the same uses."""

    hits: int
    misses: int
    maxsize: int | None
    currsize: int


def class_cache(maxsize: int | None = None) -> Callable[[F], F]:
    """Remember ``function``'s values by its arguments (hashable, as for ``lru_cache``), each
    computed by one thread while the others that ask for it wait; ``maxsize`` None: no limit.

    The decorated function keeps ``__wrapped__``, ``cache_info()`` and ``cache_clear()``.
    One lock per function: computations of the same function never run at once (they hold
    the interpreter's lock anyway, being pure Python), while a hit takes no lock at all.
    """

    def decorate(function: F) -> F:
        values: dict[Hashable, Any] = {}
        lock = threading.RLock()  # re-entrant: a value may ask for another of the same function
        counts = [0, 0]  # hits, misses

        @functools.wraps(function)
        def cached(*args: Any, **kwargs: Any) -> Any:
            key: Hashable = (args, tuple(sorted(kwargs.items()))) if kwargs else args
            try:
                value = values[key]
            except KeyError:
                pass
            else:
                counts[0] += 1
                return value
            with lock:
                if key in values:  # another thread computed it while this one waited
                    counts[0] += 1
                    return values[key]
                counts[1] += 1
                value = function(*args, **kwargs)
                if maxsize is not None and len(values) >= maxsize:
                    del values[next(iter(values))]
                values[key] = value
                return value

        def cache_info() -> CacheInfo:
            return CacheInfo(counts[0], counts[1], maxsize, len(values))

        def cache_clear() -> None:
            with lock:
                values.clear()
                counts[:] = [0, 0]

        cached.cache_info = cache_info  # type: ignore[attr-defined]
        cached.cache_clear = cache_clear  # type: ignore[attr-defined]
        return cached  # type: ignore[return-value]

    return decorate


@class_cache(maxsize=256)
def syntax_tree(source: str) -> ast.Module:
    """``ast.parse(source)``, kept: the grader reads each answer cell's tree four times (is it
    plain Python, what it defines, which stubs it leaves, which names it uses).  The tree is
    shared by every reader: read it, never change it."""
    return ast.parse(source)
