"""The grader's shared caches: a value missing for several grading threads at once is
computed by one of them (kit.grading.trusted.memo)."""

from __future__ import annotations

import ast
import threading
import time

import pytest

from kit.grading.trusted.harness import kerneltrace
from kit.grading.trusted.memo import class_cache, syntax_tree


def test_threads_missing_the_same_value_compute_it_once() -> None:
    calls: list[int] = []

    @class_cache()
    def slow(seed: int) -> list[int]:
        calls.append(seed)
        time.sleep(0.2)  # long enough for every thread to arrive while it is computed
        return [seed * 2]

    results: list[list[int]] = []
    threads = [threading.Thread(target=lambda: results.append(slow(7))) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert calls == [7]
    assert len(results) == 6 and all(r is results[0] for r in results) and results[0] == [14]
    assert slow.cache_info().hits == 5 and slow.cache_info().misses == 1  # type: ignore[attr-defined]


def test_a_value_being_computed_holds_up_only_the_threads_that_asked_for_it() -> None:
    """One student's cell that is slow to read must not stall the others' grading."""
    started, release = threading.Event(), threading.Event()

    @class_cache()
    def read(source: str) -> str:
        if source == "huge":
            started.set()
            release.wait(10)
        return source.upper()

    slow = threading.Thread(target=read, args=("huge",))
    slow.start()
    try:
        assert started.wait(10)
        quick = threading.Thread(target=read, args=("small",))
        quick.start()
        quick.join(5)
        assert not quick.is_alive(), "another student's value waited for the slow one"
        assert read("small") == "SMALL"
    finally:
        release.set()
        slow.join()
    assert read("huge") == "HUGE"
    assert read.cache_info().misses == 2  # type: ignore[attr-defined]


def test_values_by_arguments_oldest_dropped_first_errors_not_kept() -> None:
    calls: list[tuple[int, int]] = []

    @class_cache(maxsize=2)
    def add(a: int, b: int = 0) -> int:
        calls.append((a, b))
        if a < 0:
            raise ValueError("negative")
        return a + b

    assert [add(1), add(1, b=2), add(1), add(1, b=2)] == [1, 3, 1, 3]
    assert calls == [(1, 0), (1, 2)]
    add(5)  # a third value: the oldest (add(1)) goes
    assert add.cache_info().currsize == 2  # type: ignore[attr-defined]
    add(1)
    assert calls[-1] == (1, 0)
    for _ in range(2):
        with pytest.raises(ValueError):
            add(-1)
    assert calls.count((-1, 0)) == 2
    assert add.__wrapped__(2, 2) == 4  # type: ignore[attr-defined]
    add.cache_clear()  # type: ignore[attr-defined]
    assert add.cache_info().currsize == 0  # type: ignore[attr-defined]


def test_the_shipped_trace_is_read_once_by_racing_threads() -> None:
    kerneltrace._shipped_lines.cache_clear()  # type: ignore[attr-defined]
    kerneltrace._event_lines.cache_clear()  # type: ignore[attr-defined]
    threads = [threading.Thread(target=kerneltrace.shipped_lines,
                                args=("mm_page_alloc", 3, seed)) for seed in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert kerneltrace._shipped_lines.cache_info().misses == 1  # type: ignore[attr-defined]
    assert kerneltrace._event_lines.cache_info().misses == 1  # type: ignore[attr-defined]


def test_an_answer_cell_is_parsed_once() -> None:
    source = "def f(x):\n    return x + 1\n"
    assert syntax_tree(source) is syntax_tree(source)
    assert ast.dump(syntax_tree(source)) == ast.dump(ast.parse(source))
    for _ in range(2):  # a cell that does not parse says so every time it is asked
        with pytest.raises(SyntaxError):
            syntax_tree("def f(:\n")
