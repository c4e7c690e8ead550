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

Some of the test cells' expected values are the same for the whole class too: a reference run
on a seeded case (notebook 04 replays ~45 zone runs per exercise for every student).  Those are
kept only by the rule of :func:`trusted_key`: a value is shared only when it provably depends on
nothing a student's code can reach.
"""

from __future__ import annotations

import ast
import dataclasses
import dis
import functools
import inspect
import threading
from collections.abc import Callable, Hashable
from types import CodeType, FunctionType
from typing import Any, NamedTuple, TypeVar

F = TypeVar("F", bound=Callable[..., Any])


class CacheInfo(NamedTuple):
    """What ``functools.lru_cache``'s ``cache_info()`` gives, for the same uses."""

    hits: int
    misses: int
    maxsize: int | None
    currsize: int


def class_cache(maxsize: int | None = None,
                key: Callable[..., Hashable | None] | None = None) -> Callable[[F], F]:
    """Remember ``function``'s values by its arguments (hashable, as for ``lru_cache``), each
    computed by one thread while the others that ask for the same arguments wait; ``maxsize``
    None: no limit.  ``key``, when given, makes the key from the arguments instead; when it
    gives None the value is computed and not kept (nor counted).

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
            if key is None:
                made: Hashable = (args, tuple(sorted(kwargs.items()))) if kwargs else args
            else:
                made = key(*args, **kwargs)
                if made is None:
                    return function(*args, **kwargs)
            return lookup(made, args, kwargs)

        def lookup(made: Hashable, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
            try:
                return hit(values[made])
            except KeyError:
                pass
            with guard:
                lock = computing.setdefault(made, threading.RLock())
            with lock:
                try:
                    return hit(values[made])  # another thread computed it while this one waited
                except KeyError:
                    pass
                with guard:
                    counts[1] += 1
                try:
                    value = function(*args, **kwargs)
                except BaseException:  # not kept: the next call tries again
                    with guard:
                        done(made, lock)
                    raise
                with guard:  # kept before its lock goes, so a thread arriving now finds it
                    if maxsize is not None and len(values) >= maxsize and made not in values:
                        del values[next(iter(values))]
                    values[made] = value
                    done(made, lock)
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


@class_cache(maxsize=256)
def syntax_nodes(source: str) -> tuple[ast.AST, ...]:
    """Every node of ``syntax_tree(source)`` in ``ast.walk``'s order, kept: the grader looks
    through an answer cell's whole tree twice (the functions it defines, the names it uses),
    and walking it is most of what each look costs.  Read them, never change them."""
    return tuple(ast.walk(syntax_tree(source)))


# ------------------------------------------------------------------ trusted values of the class
#: Types of the plain values a trusted key is made of (a bool is not taken for an int: the key
#: keeps each value's type).
_PLAIN = (int, str, float, bool, type(None))
#: Instructions that read or write something other than the function's own arguments and
#: locals: a global or builtin name, a closure cell, an import.
_OUTSIDE = frozenset({"LOAD_GLOBAL", "LOAD_NAME", "STORE_GLOBAL", "STORE_NAME",
                      "DELETE_GLOBAL", "DELETE_NAME", "LOAD_DEREF", "LOAD_CLASSDEREF",
                      "LOAD_CLOSURE", "STORE_DEREF", "DELETE_DEREF", "IMPORT_NAME",
                      "IMPORT_FROM", "IMPORT_STAR", "MAKE_CELL", "COPY_FREE_VARS"})
#: Code that returns before it is done (a generator): its value is not a value to share.
_RESUMABLE = inspect.CO_GENERATOR | inspect.CO_COROUTINE | inspect.CO_ASYNC_GENERATOR


def plain_key(*args: Any) -> Hashable | None:
    """A key for arguments that are plain immutable data only -- numbers, strings, None, and
    tuples and frozen dataclasses of them -- each with its type; None for anything else.

    Such arguments carry nothing but their values: a function of the trusted kit or harness
    called with them gives the same value every time, whoever asks (see :func:`trusted_key`).
    """
    return _key(args, _plain)


def _key(args: tuple[Any, ...], part: Callable[[Any], Hashable | None]) -> Hashable | None:
    """The tuple of each argument's ``part``, or None when any of them has none."""
    parts = []
    for value in args:
        made = part(value)
        if made is None:
            return None
        parts.append(made)
    return tuple(parts)


def _plain(value: Any) -> Hashable | None:
    kind = type(value)
    if kind in _PLAIN:
        return (kind, value)
    if kind is tuple:
        parts = [_plain(item) for item in value]
        return None if any(p is None for p in parts) else (tuple, tuple(parts))
    params = getattr(kind, "__dataclass_params__", None)
    if params is not None and params.frozen:
        fields = [_plain(getattr(value, f.name)) for f in dataclasses.fields(value)]
        return None if any(f is None for f in fields) else (kind, tuple(fields))
    return None


def trusted_key(*args: Any) -> Hashable | None:
    """The class-wide key of a trusted reference value computed from ``args``, or None when
    the value must be computed for each caller.

    The rule, and why it holds: in the grader, a student's function is never a Python function
    (the test cells get :class:`~kit.grading.trusted.remote.RemoteFunction` proxies: every call
    goes to the sandbox and its reply is data), and the seeds of the class's hidden cases come
    from the instructor's secret.  So a value computed in the grader by the kit or the harness
    from arguments that are each

    * plain immutable data (:func:`plain_key`: a seeded case, a size), or
    * a Python function that reads nothing but its own arguments (no global or builtin name,
      no closure cell, no default, no import; not a generator) -- the reference a test cell
      defines, ``def kit_make_alloc_exact(zone, addr, order, size): return zone.make_...`` --

    depends on those values and the trusted code alone, never on a reply of the sandbox: it is
    the same for every student, and computing it once for the class changes nothing.  Anything
    else -- a proxy of the student's function, a lambda that names one (``lambda c: run(c,
    my_fn)`` reads the global ``my_fn``), an object the key cannot see into -- gives None:
    computed for each caller.  A function is keyed by what its code is (bytecode, constants,
    names), not by where it was compiled, so the reference check's run of a solution and every
    student's test cell share the values.  The values are shared: read them, never change them.
    """
    return _key(args, _trusted_part)


def _trusted_part(value: Any) -> Hashable | None:
    if type(value) is not FunctionType:
        return _plain(value)
    if value.__closure__ or value.__defaults__ or value.__kwdefaults__:
        return None
    return _code_key(value.__code__)


@functools.lru_cache(maxsize=1024)
def _code_key(code: CodeType) -> Hashable | None:
    """What ``code`` is (bytecode, constants, names, signature) when it reads nothing but its
    arguments and locals, else None; read once per code object (a test cell's code is compiled
    once for the run, so every student's reference function runs the same one)."""
    if code.co_flags & _RESUMABLE or code.co_freevars or code.co_cellvars:
        return None
    if any(instruction.opname in _OUTSIDE for instruction in dis.get_instructions(code)):
        return None
    constants = []
    for constant in code.co_consts:
        if isinstance(constant, CodeType):
            nested = _code_key(constant)
            if nested is None:
                return None
            constants.append(("code", nested))
        else:
            constants.append((type(constant).__name__, repr(constant)))
    return (FunctionType, code.co_code, tuple(constants), code.co_names, code.co_varnames,
            code.co_argcount, code.co_posonlyargcount, code.co_kwonlyargcount, code.co_flags)
