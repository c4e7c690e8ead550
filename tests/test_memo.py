"""The grader's shared caches: a value missing for several grading threads at once is
computed by one of them (kit.grading.trusted.memo)."""

from __future__ import annotations

import ast
import threading
import time
from typing import Any

import pytest

from kit.core.orders import get_order
from kit.grading.boundary import wire
from kit.grading.trusted import harness
from kit.grading.trusted.harness import kerneltrace
from kit.grading.trusted.memo import (
    class_cache,
    plain_key,
    syntax_nodes,
    syntax_tree,
    trusted_key,
)
from kit.grading.trusted.remote import CallContext, RemoteFunction


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


def test_an_answer_cell_is_walked_once_in_walk_order() -> None:
    source = "import kit\n\ndef f(x):\n    return kit.get_order(x) + g(x)\n"
    nodes = syntax_nodes(source)
    assert nodes is syntax_nodes(source)
    assert [ast.dump(n) for n in nodes] == [ast.dump(n) for n in ast.walk(ast.parse(source))]
    with pytest.raises(SyntaxError):
        syntax_nodes("def f(:\n")


# ------------------------------------------------------------------ trusted values of the class
def _compiled(source: str, filename: str) -> dict[str, Any]:
    namespace: dict[str, Any] = {}
    exec(compile(source, filename, "exec"), namespace)
    return namespace


REFERENCE = ("def kit_make(zone, addr, order, size):\n"
             "    return zone.make_alloc_exact(addr, order, size)\n")


def test_a_reference_reading_only_its_arguments_is_keyed_by_its_code() -> None:
    """The test cell's own reference, compiled by the reference check and again for every
    student (another file name), gets one key: its value is computed once for the class."""
    mine = _compiled(REFERENCE, "<test exact-make-tests>")["kit_make"]
    theirs = _compiled("\n\n" + REFERENCE, "<solutions/04-exact.ipynb cell 7>")["kit_make"]
    case = harness.ExactCase(11, 5000)
    assert trusted_key(case, mine) is not None
    assert trusted_key(case, mine) == trusted_key(case, theirs)
    assert trusted_key(harness.ExactCase(12, 5000), mine) != trusted_key(case, mine)


@pytest.mark.parametrize("source", [
    "def f(zone, addr, order, size):\n    return my_make(zone, addr, order, size)\n",  # a global
    "def f(zone, addr, order, size):\n    return len(zone)\n",  # a builtin is a global too
    "def f(zone, addr, order, size, k=[]):\n    return k\n",  # a default
    "def f(zone, addr, order, size):\n    import random\n    return random.random()\n",
    "def f(zone, addr, order, size):\n    yield addr\n",  # a generator
    "def f(zone, addr, order, size):\n    g = lambda: my_make\n    return g()\n",  # nested
])
def test_a_function_reaching_anything_but_its_arguments_is_not_kept(source: str) -> None:
    function = _compiled(source, "<test cell>")["f"]
    assert trusted_key(harness.ExactCase(1, 1), function) is None


def test_a_closure_and_anything_but_plain_data_is_not_kept() -> None:
    def outer(student: object) -> object:
        def f(zone: object) -> object:
            return student
        return f

    assert trusted_key(outer(print)) is None
    assert trusted_key(harness.ExactCase(1, 1), object()) is None  # an object it cannot see into
    assert trusted_key([1, 2]) is None  # mutable
    assert plain_key(True) != plain_key(1) and plain_key(1.0) != plain_key(1)  # types kept
    assert plain_key((1, "a", None), harness.ExactCase(3, 4)) is not None


class _Worker:
    """Stands in for a sandbox whose student function returns something else each call."""

    def __init__(self, replies: list[object]) -> None:
        self.replies = replies
        self.requests = 0

    def request(self, message: dict[str, object], timeout: float) -> dict[str, object]:
        self.requests += 1
        return {"ok": True, "id": self.requests, "value": wire.encode(self.replies.pop(0))}


def test_a_value_that_uses_the_students_reply_is_computed_for_every_call() -> None:
    """``run(case, my_make_alloc_exact)``: the student's function is a proxy into the sandbox,
    so every call asks the sandbox again and its reply is what the check sees."""
    case = harness.exact_cases(11, 1)[0]
    addr = case.zone().get_free_pages(get_order(case.size))
    worker = _Worker([None, addr])
    student = RemoteFunction("my_make_alloc_exact", lambda: worker,  # type: ignore[arg-type, return-value]
                             CallContext(frozenset(), lambda: 5.0))
    first = harness.after_make_alloc_exact(case, student)
    second = harness.after_make_alloc_exact(case, student)
    assert worker.requests == 2
    assert first["returned pfn"] is None and second["returned pfn"] is not None
    # ... and a lambda naming the student's function (a global of the test cell) is not kept
    namespace = _compiled("def via(zone, addr, order, size):\n"
                          "    return my_make_alloc_exact(zone, addr, order, size)\n", "<test>")
    namespace["my_make_alloc_exact"] = student
    worker.replies += [None, addr]
    assert harness.after_make_alloc_exact(case, namespace["via"])["returned pfn"] is None
    assert harness.after_make_alloc_exact(case, namespace["via"])["returned pfn"] is not None
    assert worker.requests == 4


def test_the_test_cells_reference_is_computed_once_for_the_class() -> None:
    reference = _compiled(REFERENCE, "<test exact-make-tests>")["kit_make"]
    again = _compiled(REFERENCE, "<test exact-make-tests>")["kit_make"]  # the next student's
    case = harness.exact_cases(11, 1)[0]
    harness.after_make_alloc_exact.cache_clear()  # type: ignore[attr-defined]
    value = harness.after_make_alloc_exact(case, reference)
    assert harness.after_make_alloc_exact(case, again) is value
    assert harness.after_make_alloc_exact.cache_info().misses == 1  # type: ignore[attr-defined]
    assert value == harness.after_make_alloc_exact.__wrapped__(case, reference)  # type: ignore[attr-defined]


def test_seeded_cases_are_made_once_and_each_caller_gets_its_own_list() -> None:
    """A notebook hands the stream to the student's function, which may change it: the next
    check (and the next student) must still get the seeded one."""
    for make in (lambda: harness.page_event_stream(3), lambda: harness.extfrag_lines(5),
                 lambda: harness.trace_cases(24, 2)):
        first = make()
        kept = list(first)
        first.clear()
        assert make() == kept and kept
    harness.random_pagetypeinfo(7)
    assert harness.random_pagetypeinfo(7) is harness.random_pagetypeinfo(7)
