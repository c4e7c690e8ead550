"""Delegation is refused by what the code is, not by its name (issue 24, item 1).

The worker's guard is tried with each way round the old name-based refusal, and with honest
answers that must pass: a function of the student's own called like a kit helper, numpy, a
namedtuple, a dataclass, deep recursion.  The grader's source checks are tried both ways too.
"""

from __future__ import annotations

import contextlib
import inspect
import io
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import kit
from kit.grading.boundary import checks
from kit.grading.trusted import delegation
from kit.grading.trusted import notebooks as nbs
from kit.grading.trusted.bwrap import Limits, Worker, open_sandbox
from kit.grading.trusted.grading import GradingRun, grade, load_source, request_forbids
from kit.grading.trusted.remote import ProtocolViolation, read_reply

SOLUTIONS = Path(__file__).resolve().parents[1] / "solutions"
FORBID = ["get_order", "get_order_misconceptions"]
HONEST = "def f(size, page_size=4096):\n    return ((size - 1) >> 12).bit_length()\n"


@pytest.fixture(scope="module")
def sandbox() -> object:
    return open_sandbox()


@pytest.fixture
def worker(sandbox: object) -> Iterator[Worker]:
    started = Worker(sandbox, Limits())  # type: ignore[arg-type]
    try:
        yield started
    finally:
        started.close()


def answer(worker: Worker, source: str, *args: object,
           forbid: list[str] = FORBID) -> dict[str, object]:
    """Run an answer cell defining ``f`` under ``forbid``, then call ``f(*args)``."""
    reply = worker.request({"op": "run", "cell": "a", "source": source, "forbid": forbid}, 20)
    if reply.get("ok") is not True:
        return reply
    return worker.request({"op": "call", "name": "f", "args": list(args), "forbid": forbid}, 20)


def refused(reply: dict[str, object]) -> bool:
    return reply.get("exc") == "ForbiddenCall"


@pytest.mark.parametrize("source", [
    pytest.param("import kit\ndef f(s):\n    return kit.get_order(s)\n", id="direct"),
    pytest.param("import kit\nKEPT = {'g': kit.get_order}\n\ndef f(s):\n"
                 "    return KEPT['g'](s)\n", id="kept-in-a-variable"),
    pytest.param("import kit\ndef f(s):\n    try:\n        kit.get_order(s)\n"
                 "    except BaseException:\n        pass\n    return kit.get_order(s)\n",
                 id="refusal-caught-and-tried-again"),
    pytest.param("import kit\ndef f(s):\n    return list(map(kit.get_order, [s]))[0]\n",
                 id="called-from-c"),
    pytest.param("import kit.core.orders as o\ndef f(s):\n"
                 "    return o.__dict__['get_' + 'order'](s)\n",
                 id="module-dict"),
    pytest.param("import sys, kit\ndef f(s):\n    try:\n        sys.setprofile(None)\n"
                 "    except BaseException:\n        pass\n    return kit.get_order(s)\n",
                 id="profile-switched-off"),
])
def test_a_call_into_the_kits_code_is_refused_however_it_is_reached(
        worker: Worker, source: str) -> None:
    reply = answer(worker, source, 4097)
    assert refused(reply), reply
    # the grader believes it (an index into what it forbade) and words it itself
    assert read_reply(reply, sorted(FORBID)).refused.startswith("write get_order yourself")


@pytest.mark.parametrize("source", [
    pytest.param("import kit\nns = {}\nexec(compile(open(kit.core.orders.__file__).read(), "
                 "'kit/orders.py', 'exec'), ns)\ndef f(s):\n    return ns['get_order'](s)\n",
                 id="source-executed-again"),
    pytest.param("import importlib, kit.core.orders\nm = importlib.reload(kit.core.orders)\n"
                 "def f(s):\n    return m.get_order(s)\n", id="reload"),
    pytest.param("import kit, types\ndef f(s):\n    return types.FunctionType("
                 "kit.get_order.__code__, vars(kit.core.orders))(s)\n", id="code-object"),
    pytest.param("import subprocess, sys\ndef f(s):\n    return int(subprocess.check_output("
                 "[sys.executable, '-c', f'import kit; print(kit.get_order({s}))']))\n",
                 id="another-interpreter"),
    pytest.param("import threading, kit\ndef f(s):\n    out = []\n"
                 "    t = threading.Thread(target=lambda: out.append(kit.get_order(s)))\n"
                 "    t.start()\n    t.join()\n    return out[0]\n", id="thread"),
    pytest.param("import _thread, kit\ndef f(s):\n    out = []\n"
                 "    _thread.start_new_thread(lambda: out.append(kit.get_order(s)), ())\n"
                 "    while not out:\n        pass\n    return out[0]\n", id="bare-thread"),
    pytest.param("from kit.grading.trusted import harness\ndef f(s):\n"
                 "    return harness.get_order(s)\n",
                 id="harness"),
])
def test_the_ways_round_a_refusal_fail(worker: Worker, source: str) -> None:
    reply = answer(worker, source, 4097)
    assert reply.get("ok") is not True, reply
    assert reply.get("value") != 1


def test_the_kits_source_run_from_a_copy_is_refused_by_its_fingerprint(worker: Worker) -> None:
    """Not read from the file (that is refused) but pasted: the code is the kit's all the same."""
    pasted = inspect.getsource(kit.core.orders).replace("from .errors", "from kit.core.errors")
    source = f"ns = {{}}\nexec({pasted!r}, ns)\ndef f(s):\n    return ns['get_order'](s)\n"
    assert refused(answer(worker, source, 4097))


def test_a_kit_method_run_on_a_scratch_zone_is_refused(worker: Worker) -> None:
    source = ("import kit\ndef f(size):\n    scratch = kit.Zone(64)\n"
              "    return scratch.alloc_pages_exact(size)\n")
    reply = answer(worker, source, 5000, forbid=["alloc_pages_exact", "make_alloc_exact"])
    forbid = sorted(["alloc_pages_exact", "make_alloc_exact"])
    assert refused(reply) and forbid[reply["forbidden"]] == "alloc_pages_exact"  # type: ignore[index]


def test_a_refusal_in_one_request_does_not_spill_into_the_next(worker: Worker) -> None:
    assert refused(answer(worker, "import kit\ndef f(s):\n    return kit.get_order(s)\n", 1))
    reply = worker.request({"op": "call", "name": "f", "args": [4097], "forbid": []}, 20)
    assert reply == {"ok": True, "value": 1, "logs": {}, "id": 3}


def test_a_forbid_list_refuses_again_after_another_list(worker: Worker) -> None:
    """The guard computes what a list of names refuses once per process and reuses it: the
    first list refuses as before after a request with another, and that one's refusals stay
    its own (the private helper is watched only while a list names it)."""
    source = "import kit\ndef f(s):\n    return kit.get_order(s)\n"
    private = ["_rmqueue_pcplist", "pages_for"]
    for _ in range(2):
        assert refused(answer(worker, source, 4097))
        reply = worker.request({"op": "call", "name": "f", "args": [4097], "forbid": private}, 20)
        assert reply.get("ok") is True and reply.get("value") == 1, reply


def test_what_a_forbid_list_refuses_is_computed_once_and_read_only() -> None:
    from kit.grading.sandboxed import guard

    guard.preload()
    index = guard.CodeIndex(guard.kit_folder())
    first = index.forbidden(["get_order", "Zone.__init__"])
    assert index.forbidden(("Zone.__init__", "get_order")) is first  # order does not matter
    assert set(first[1].values()) == {"get_order", "Zone"}  # as refusals name them
    assert first == tuple(index._find(frozenset({"get_order", "Zone.__init__"})))
    with pytest.raises(TypeError):
        first[1][0] = "changed"  # type: ignore[index]


@pytest.mark.parametrize(("source", "value"), [
    pytest.param(HONEST, 1, id="honest"),
    pytest.param("def pages_for(size):\n    return (size + 4095) // 4096\n\n"
                 "def f(size):\n    return pages_for(size)\n", 2, id="own-pages_for"),
    pytest.param("def get_order(size):\n    return ((size - 1) >> 12).bit_length()\n\n"
                 "f = get_order\n", 1, id="own-get_order"),
    pytest.param("import numpy as np\ndef f(size):\n"
                 "    return int(np.int64(size - 1) >> 12).bit_length()\n", 1, id="numpy"),
    pytest.param("from collections import namedtuple\nfrom dataclasses import dataclass\n"
                 "P = namedtuple('P', 'a b')\n\n@dataclass\nclass D:\n    x: int\n\n"
                 "def f(size):\n    return len(repr(P(1, 2))) * 0 + D(1).x\n", 1,
                 id="namedtuple-dataclass"),
    pytest.param("import kit\ndef f(size):\n    return kit.pages_for(size)\n", 2,
                 id="an-allowed-kit-function"),
])
def test_honest_answers_are_not_refused(worker: Worker, source: str, value: int) -> None:
    assert answer(worker, source, 4097) == {"ok": True, "value": value, "logs": {}, "id": 2}


def test_deep_recursion_is_an_error_of_the_answer_not_a_refusal(worker: Worker) -> None:
    source = "def deep(n):\n    return deep(n + 1)\n\ndef f(s):\n    return deep(0)\n"
    reply = answer(worker, source, 1)
    assert reply["ok"] is False and reply["exc"] == "RecursionError"


@pytest.mark.parametrize("forged", [
    pytest.param({"forbidden": "get_order"}, id="a-name-not-an-index"),
    pytest.param({"forbidden": 2}, id="an-index-past-the-list"),
    pytest.param({"forbidden": -2}, id="an-index-before-it"),
    pytest.param({"forbidden": True}, id="a-bool"),
    pytest.param({}, id="no-index"),
    pytest.param({"forbidden": 0, "limit": "memory"}, id="an-extra-field"),
])
def test_the_grader_believes_only_refusals_of_names_it_forbade(forged: dict[str, object]) -> None:
    with pytest.raises(ProtocolViolation):
        read_reply({"ok": False, "exc": "ForbiddenCall", **forged}, sorted(FORBID))


def test_a_refusal_is_worded_by_the_grader_from_its_own_list() -> None:
    said = read_reply({"ok": False, "exc": "ForbiddenCall", "forbidden": 0,
                       "error": "# Total: 44 / 44"}, ["Zone.__init__", "get_order"])
    assert said.refused == checks.delegation_message(["Zone"])
    guard = read_reply({"ok": False, "exc": "ForbiddenCall", "forbidden": -1}, FORBID)
    assert guard.refused.startswith("your answer tried to switch off")


# ------------------------------------------------------------------ the grader's source checks
def test_a_function_of_the_students_own_with_a_kit_name_is_no_copy() -> None:
    own = "def pages_for(size):\n    return (size + 4095) // 4096\n\n" \
          "def my_pages_for(size):\n    return pages_for(size)\n"
    assert delegation.copied_from_kit([own], ["pages_for", "page_align"]) is None


#: Two exercises' answers in one cell: f leans on nothing, g on the kit's get_order; both have
#: a local named ``order``, which is no global a reach follows.
TWO_IN_ONE = ("import kit\n\n\ndef f(size):\n    order = size\n    return order\n\n\n"
              "def g(size):\n    order = kit.get_order(size)\n    return order\n")


@pytest.mark.parametrize(("cells", "graded", "reached"), [
    ({"a": TWO_IN_ONE}, "f", set()),
    ({"a": TWO_IN_ONE}, "g", {"get_order"}),
    # a helper of the student's, in a cell they added, a table made there, an alias of it
    ({"a": "def f(size):\n    return helper(size)\n",
      "added-1": "import kit\n\ndef helper(size):\n    return kit.pages_for(size)\n"},
     "f", {"pages_for"}),
    ({"a": "def f(size):\n    return TABLE[size]\n",
      "added-1": "import kit\nTABLE = {s: kit.get_order(s) for s in range(9)}\n"},
     "f", {"get_order"}),
    ({"a": "from kit import get_order as order_of\n\ndef f(size):\n    return order_of(size)\n"},
     "f", {"get_order"}),
    # a name assigned only in a function nested in f is that function's: f's read is global
    ({"a": "def f(size):\n    def inner():\n        helper = 1\n    return helper(size)\n",
      "added-1": "import kit\n\ndef helper(size):\n    return kit.pages_for(size)\n"},
     "f", {"pages_for"}),
    ({"a": "from kit import get_order\nf = get_order\n"}, "f", {"get_order"}),
    # the exercise's own cell runs under its refusals: its top-level code counts in full;
    # an import nothing reached reads is no use
    ({"a": "import kit\nprint(kit.get_order(1))\n\ndef f(size):\n    return 1\n"},
     "f", {"get_order"}),
    ({"a": "from kit import get_order\n\ndef f(size):\n    return 1\n"}, "f", set()),
    # another cell's code that the graded function never reaches
    ({"a": "def f(size):\n    return 1\n", "added-1": "import kit\nX = kit.get_order(1)\n"},
     "f", set()),
])
def test_the_names_checked_are_those_the_graded_function_reaches(
        cells: dict[str, str], graded: str, reached: set[str]) -> None:
    used = delegation.reached_names(cells, {graded}, ["a"], frozenset({"f", "g", "helper"}))
    found = {name for names in used.values() for name in names}
    assert found & {"get_order", "pages_for"} == reached, used


def test_kit_objects_finds_functions_methods_and_classes_and_modules_loaded_later(
        monkeypatch: pytest.MonkeyPatch) -> None:
    import types

    assert kit.core.orders.get_order in delegation.kit_objects("get_order")
    assert kit.Zone in delegation.kit_objects("Zone")
    assert kit.Zone.make_alloc_exact in delegation.kit_objects("make_alloc_exact")
    assert delegation.kit_objects("no_such_kit_name") == ()
    later = types.ModuleType("kit.loaded_later")
    exec("def no_such_kit_name():\n    return 1\n", vars(later))
    monkeypatch.setitem(sys.modules, "kit.loaded_later", later)
    assert delegation.kit_objects("no_such_kit_name") == (vars(later)["no_such_kit_name"],)


def test_pasted_kit_source_is_delegation_even_renamed() -> None:
    pasted = inspect.getsource(kit.core.orders.get_order)
    renamed = pasted.replace("size", "nbytes").replace("shift", "s").replace("get_order", "mine")
    assert delegation.copied_from_kit([pasted], FORBID) == "get_order"
    assert delegation.copied_from_kit(["x = 1\n", renamed], FORBID) == "get_order"
    exact = inspect.getsource(kit.Zone.make_alloc_exact)
    assert delegation.copied_from_kit([exact], ["make_alloc_exact"]) == "make_alloc_exact"


@pytest.mark.parametrize("honest", [
    "def my_pages_for(size):\n    return (size + 4095) // 4096\n",
    "def my_get_order(size, page_size=4096):\n    page_shift = page_size.bit_length() - 1\n"
    "    if size == 0:\n        return 64 - page_shift\n"
    "    return ((size - 1) >> page_shift).bit_length()\n",
])
def test_short_honest_answers_are_never_taken_for_copies(honest: str) -> None:
    assert delegation.copied_from_kit([honest], ["get_order", "pages_for", "page_align"]) is None


def test_no_reference_solution_is_taken_for_delegation() -> None:
    source = load_source(SOLUTIONS)
    for name, nb in source.notebooks.items():
        answers = {nbs.grade_id(c): c.source for c in nb.cells if nbs.is_answer(c)}
        guarded, _ = request_forbids(source, name)
        for exercise in source.exercises[name]:
            assert delegation.copied_from_kit(answers.values(),
                                              guarded[exercise.grade_id]) is None


def test_every_request_refuses_the_notebooks_union_but_what_its_solution_uses() -> None:
    source = load_source(SOLUTIONS)
    guarded, unowned = request_forbids(source, "01-orders.ipynb")
    assert {"get_order", "pages_for", "page_align"} <= guarded["orders-get-order-tests"]
    assert "get_order" not in guarded["orders-fits-tests"]  # its solution calls kit.get_order
    assert {"get_order", "pages_for"} <= guarded["orders-pages-tests"]
    assert "pages_for" in unowned
    guarded, _ = request_forbids(source, "06-placement-and-pcp.ipynb")
    assert "Zone" in guarded["place-pcp-frees-tests"]  # its own forbid: all of Zone
    assert "Zone.__init__" in guarded["place-pcp-run-tests"]  # another's: making one only


def test_the_sandbox_shows_the_worker_no_part_of_the_graders_side(worker: Worker) -> None:
    if worker.sandbox.bwrap is None:
        pytest.skip("no sandbox on this machine: " + worker.sandbox.describe())
    source = ("import os, kit\nroot = os.path.dirname(kit.__file__)\n"
              "def f():\n    return (sorted(os.listdir(os.path.join(root, 'grading'))),\n"
              "            os.listdir(os.path.join(root, 'grading', 'trusted')),\n"
              "            os.listdir(os.path.join(root, 'cli')))\n")
    reply = worker.request({"op": "run", "cell": "a", "source": source, "forbid": []}, 20)
    assert reply["ok"] is True
    reply = worker.request({"op": "call", "name": "f", "args": [], "forbid": []}, 20)
    grading, trusted, cli = reply["value"]["t"]
    assert "sandboxed" in grading and "boundary" in grading
    assert trusted == [] and cli == []


def test_a_private_helper_is_refused_to_the_answer_but_not_to_the_kit(worker: Worker) -> None:
    forbid = ["_rmqueue_pcplist", "drain_pages"]
    zone = "kit.Zone(64, preset='5.10', pcp=True, pcp_batch=2, pcp_high=4)"
    honest = f"import kit\ndef f():\n    zone = {zone}\n    return zone.alloc_pages(0).pfn\n"
    assert answer(worker, honest, forbid=forbid)["ok"] is True
    direct = f"import kit\ndef f():\n    zone = {zone}\n    return zone._rmqueue_pcplist(0)\n"
    assert refused(answer(worker, direct, forbid=forbid))


PCP_ZONE = "kit.Zone(64, preset='5.10', pcp=True, pcp_batch=2, pcp_high=4)"


@pytest.mark.parametrize("source", [
    pytest.param(f"import kit\ndef f():\n    zone = {PCP_ZONE}\n"
                 "    return [zone.alloc_pages(0).pfn, zone._rmqueue_pcplist(0)]\n",
                 id="after-the-kits-own-use"),
    pytest.param(f"import kit\ndef f():\n    zone = {PCP_ZONE}\n    seen = []\n"
                 "    zone.subscribe(lambda event: seen or seen.append(zone._rmqueue_pcplist(0)))\n"
                 "    zone.alloc_pages(0)\n    return seen\n",
                 id="from-a-callback-inside-the-kits-own-use"),
    pytest.param(f"import kit, sys\ndef f():\n    zone = {PCP_ZONE}\n"
                 "    sys.audit = lambda *args: None\n    return zone._rmqueue_pcplist(0)\n",
                 id="sys-audit-patched"),
    pytest.param(f"import kit, functools\ndef f():\n    zone = {PCP_ZONE}\n"
                 "    return functools.partial(kit.Zone._rmqueue_pcplist, zone)(0)\n",
                 id="called-from-c"),
])
def test_a_private_helper_is_refused_at_its_call_however_it_is_reached(
        worker: Worker, source: str) -> None:
    """A forbidden private helper's code asks who calls it: the answer, directly or from a
    callback the kit's own call of it runs, is refused, and patching sys.audit does not help."""
    assert refused(answer(worker, source, forbid=["_rmqueue_pcplist"]))


TRACED = "import sys\ndef traced():\n    return sys.gettrace() is not None\n"


def test_a_private_helper_is_checked_at_its_calls_without_tracing_every_call(
        worker: Worker) -> None:
    """Tracing every call makes a request's Python ~3 times slower: a request forbidding a
    private helper checks the helper's own calls instead, and the kit's use of it works."""
    forbid = ["_rmqueue_pcplist", "_free_unref_page", "_free_pcppages_bulk"]
    honest = (f"import kit\ndef f():\n    zone = {PCP_ZONE}\n"
              "    pages = [zone.alloc_pages(0) for _ in range(5)]\n"
              "    for page in pages:\n        zone.free_pages(zone.pfn_to_virt(page.pfn), 0)\n"
              "    return [zone.pcp_count, zone.free_pages_count]\n" + TRACED)
    here: dict[str, object] = {}
    exec(honest, here)
    reply = answer(worker, honest, forbid=forbid)
    assert reply.get("ok") is True and reply["value"] == here["f"](), reply  # type: ignore[operator]
    traced = worker.request({"op": "call", "name": "traced", "args": [], "forbid": forbid}, 20)
    assert traced.get("value") is False, traced


def test_a_copy_of_a_private_helper_is_refused_where_it_is_forbidden(worker: Worker) -> None:
    """A copy of a private helper (its source pasted, made where it was not forbidden) runs
    no checker: from then on the process watches every call, and calling the copy in a
    request that forbids the helper is refused as before."""
    pasted = inspect.getsource(kit.Zone._rmqueue_pcplist).replace("\n    ", "\n").strip()
    source = (f"import kit\nfrom kit.core import events as ev\n{pasted}\n\n"
              f"def f():\n    zone = {PCP_ZONE}\n"
              "    return _rmqueue_pcplist(zone, 0)\n" + TRACED)
    reply = answer(worker, source, forbid=[])
    assert reply.get("ok") is True and reply["value"] == 0, reply
    forbid = ["_rmqueue_pcplist"]
    assert refused(worker.request({"op": "call", "name": "f", "args": [], "forbid": forbid}, 20))
    traced = worker.request({"op": "call", "name": "traced", "args": [], "forbid": forbid}, 20)
    assert traced.get("value") is True, traced
    honest = f"import kit\ndef f():\n    return {PCP_ZONE}.alloc_pages(0).pfn\n"
    assert answer(worker, honest, forbid=forbid).get("ok") is True


# ------------------------------------------------- one verdict: self-check and kit grade agree
ORDERS = "01-orders.ipynb"
#: A right get_order that leans on kit.pages_for, which exercise 2 of the notebook asks for.
LEANS_ON_PAGES_FOR = ("import kit\n\n\ndef my_get_order(size, page_size=4096):\n"
                      "    if size == 0:\n        return 64 - (page_size.bit_length() - 1)\n"
                      "    return (kit.pages_for(size, page_size) - 1).bit_length()\n")
#: The same, with only what the check cell allows.
OWN_ARITHMETIC = ("def my_get_order(size, page_size=4096):\n"
                  "    page_shift = page_size.bit_length() - 1\n"
                  "    if size == 0:\n        return 64 - page_shift\n"
                  "    return ((size - 1) >> page_shift).bit_length()\n")


def with_get_order(answer: str) -> object:
    """The released 01-orders with ``answer`` typed into the get_order cell."""
    nb = nbs.read_notebook(SOLUTIONS.parent / "exercises" / ORDERS)
    next(c for c in nb.cells if nbs.grade_id(c) == "orders-get-order").source = answer
    return nb


def self_check(nb: object) -> str:
    """What the student's own kernel prints for the get_order check cell (set-up, answer, test)."""
    namespace: dict[str, object] = {"__name__": "__main__"}
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        for gid in ("orders-setup", "orders-get-order", "orders-get-order-tests"):
            cell = next(c for c in nb.cells if nbs.grade_id(c) == gid)  # type: ignore[attr-defined]
            try:
                exec(compile(cell.source, gid, "exec"), namespace)
            except checks.CheckFailed:
                pass  # the failed check's lines are printed above it
    return printed.getvalue()


def test_the_self_check_and_kit_grade_give_one_verdict_on_a_call_another_exercise_forbids(
        tmp_path: Path, sandbox: object) -> None:
    if sandbox.bwrap is None:  # type: ignore[attr-defined]
        pytest.skip("no sandbox on this machine: " + sandbox.describe())  # type: ignore[attr-defined]
    leaning, honest = with_get_order(LEANS_ON_PAGES_FOR), with_get_order(OWN_ARITHMETIC)
    said = self_check(leaning)
    assert "write pages_for yourself" in said and "all" not in said.splitlines()[-1]
    assert self_check(honest).splitlines()[-1].startswith("✔ get_order: all")
    nbs.write_notebook(leaning, tmp_path / "class" / "leaning" / ORDERS)
    nbs.write_notebook(honest, tmp_path / "class" / "honest" / ORDERS)
    book = grade([tmp_path / "class"], SOLUTIONS, tmp_path / "out",
                 GradingRun(jobs=1, notebooks=[ORDERS], log=lambda line: None))
    rows = {r.student: r for r in book.rows if r.exercise == "orders-get-order-tests"}
    assert (rows["leaning"].status, rows["leaning"].points) == ("delegated", 0.0)
    assert "pages_for" in rows["leaning"].reason
    assert (rows["honest"].status, rows["honest"].points) == ("passed",
                                                              rows["honest"].max_points)
