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
    computed by one thread while the others that ask for the same arguments wait; ``maxsize``
    None: no limit.

    The decorated function keeps ``__wrapped__``, ``cache_info()`` and ``cache_clear()``.
    A thread waits only for the arguments it asked for: one lock per value being computed,
    never one per function, since some of these functions read a student's answer (its syntax
    tree, its shingles) and one student's huge cell must not hold up every other student's
    grading.  A hit takes a lock only to be counted.
    """

    def decorate(function: F) -> F:
        values: dict[Hashable, Any] = {}
        computing: dict[Hashable, threading.RLock] = {}  # re-entrant: a value may need itself
        guard = threading.Lock()  # over ``computing`` and the counts, held only briefly
        counts = [0, 0]  # hits, misses

        def done(key: Hashable, lock: threading.RLock) -> None:
            if computing.get(key) is lock:
                del computing[key]

        def hit(value: Any) -> Any:
            with guard:
                counts[0] += 1
            return value

        @functools.wraps(function)
        def cached(*args: Any, **kwargs: Any) -> Any:
            key: Hashable = (args, tuple(sorted(kwargs.items()))) if kwargs else args
            try:
                return hit(values[key])
            except KeyError:
                pass
            with guard:
                lock = computing.setdefault(key, threading.RLock())
            with lock:
                try:
                    return hit(values[key])  # another thread computed it while this one waited
                except KeyError:
                    pass
                with guard:
                    counts[1] += 1
                try:
                    value = function(*args, **kwargs)
                except BaseException:  # not kept: the next call tries again
                    with guard:
                        done(key, lock)
                    raise
                with guard:  # kept before its lock goes, so a thread arriving now finds it
                    if maxsize is not None and len(values) >= maxsize and key not in values:
                        del values[next(iter(values))]
                    values[key] = value
                    done(key, lock)
                return value

        def cache_info() -> CacheInfo:
            return CacheInfo(counts[0], counts[1], maxsize, len(values))

        def cache_clear() -> None:
            with guard:
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
