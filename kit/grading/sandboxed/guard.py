"""UNTRUSTED side: refuse a call into a forbidden kit function by what its code *is*.

An exercise asks the student to write, say, ``get_order``; its test cell forbids the kit's own.
A refusal keyed on names or module attributes is easy to walk around (a reference kept from an
earlier cell, a wrapper's ``__closure__``, the kit's source executed again under another file
name, ``importlib.reload``, the kit's method run on a scratch zone).  So the guard watches what
runs, not how it was reached:

* at start-up, before any student code, every function and method of the kit is indexed by its
  code object and by a **fingerprint** of that code (its bytecode, constants, names and
  signature, not its file or line numbers), so a copy made by re-executing the kit's source is
  recognised as well as the original;
* for the length of a request, every forbidden kit function's **code is swapped** for one that
  refuses: the function object is the same wherever it is referenced from (a variable kept
  from an earlier cell, a class's method run on a scratch zone, another thread), so every call
  into it refuses, and the request is marked as delegated even if the student's code catches
  the exception.  No other call pays anything for it;
* a copy of a forbidden function made from the kit's source (``exec``, ``FunctionType``) is
  refused when it is made, by its fingerprint;
* a forbidden *private* helper (``_rmqueue_pcplist``) stays usable by the kit itself, so its
  code is swapped for one that asks the audit hook who called it (the kit's own code may, an
  answer may not) and then runs the helper's own code: the check costs one audit event per
  call of the helper, and nothing else runs slower.  A *copy* of a private helper (its
  fingerprint, made in a request that did not forbid it) runs no swapped code, so once one
  exists the process falls back to watching every call with a trace function
  (``sys.settrace``) for the requests that forbid a private helper, as it does for a helper
  that is a generator; tracing makes every Python call ~3 times slower, which is why it is
  the fallback only;
* the decision and its record live in an **audit hook** (``sys.addaudithook``), which Python
  code can neither remove nor reach; the same hook refuses the ways to switch the guard off or
  to go round it: changing the kit's functions or the trace function, reading the kit's
  source or code objects, ``gc``'s object walks, ``ctypes``, starting threads (the call that
  does it is removed), and starting programs or processes (a fresh interpreter has no guard).

What is not enforced here (and why the grader also checks the answer's source): code that walks
the worker's frames to reach the guard's own objects (the hook's state, or a private helper's
own function in its checker's constants), or Python's memory through /proc, is out of reach of
any guard in the same process; the seccomp filter and the grader's similarity check against the
kit are the other layers.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import os
import pkgutil
import sys
import threading  # noqa: F401 - loaded now, so that its thread start can be removed
from collections.abc import Callable, Iterable, Mapping
from types import CodeType, FrameType, FunctionType, MappingProxyType
from typing import Any

import kit
from kit.grading.boundary.wire import refused_name

#: Kit packages the worker never loads (the grader's own side, the command line, widgets).
NOT_LOADED = ("kit.exercises", "kit.grading", "kit.cli", "kit.widgets", "kit.classroom",
              "kit.present", "kit.presenter", "kit.practice_cli", "kit.__main__")
#: Audit events that start another program or process: a fresh interpreter has no guard.
PROCESS_EVENTS = frozenset({"subprocess.Popen", "os.exec", "os.posix_spawn", "os.spawn",
                            "os.system", "os.fork", "os.forkpty", "pty.spawn"})
#: Audit events that reach into the interpreter's memory or its object graph.
INTROSPECTION_EVENTS = frozenset({"gc.get_objects", "gc.get_referrers", "gc.get_referents",
                                  "ctypes.dlopen", "ctypes.dlsym", "ctypes.dlsym/handle",
                                  "ctypes.cdata", "ctypes.cdata/buffer", "ctypes.addressof",
                                  "ctypes.string_at", "ctypes.wstring_at",
                                  "ctypes.call_function", "sys._current_frames"})
#: Audit events the guard lets pass at once: ``sys._getframe`` (the guard reads frames itself)
#: and ``builtins.id``.  They are its most frequent events, with ``object.__getattr__``.
QUIET_EVENTS = frozenset({"sys._getframe", "builtins.id"})
#: Where the interpreter keeps the call that starts a thread: removed once the guard is armed,
#: as a thread would run without the trace function.
THREAD_STARTS = (("_thread", "start_new_thread"), ("_thread", "start_new"),
                 ("threading", "_start_new_thread"))


class ForbiddenCall(Exception):
    """The student's code called a kit function that the exercise asks them to write."""

    def __init__(self, name: str, text: str) -> None:
        super().__init__(text)
        self.name = name


def fingerprint(code: CodeType) -> tuple[Any, ...]:
    """What a function's code does, without where it was compiled (file, lines, qualname)."""
    return (code.co_name, code.co_code, code.co_names, code.co_varnames, code.co_argcount,
            code.co_posonlyargcount, code.co_kwonlyargcount, code.co_flags,
            tuple(_constant(c) for c in code.co_consts))


def _constant(value: object) -> Any:
    if isinstance(value, CodeType):
        return ("code", fingerprint(value))
    if isinstance(value, tuple):
        return ("tuple", tuple(_constant(v) for v in value))
    if isinstance(value, frozenset):
        return ("frozenset", tuple(sorted(repr(v) for v in value)))
    return (type(value).__name__, repr(value))


def preload() -> None:
    """Import the kit's core (what ``import kit`` offers), while reading the kit is allowed.

    Only the core: the teaching tools, widgets and the grader are no student answer's
    business, and after the first request nothing more of the kit can be read.
    """
    core = importlib.import_module("kit")
    if importlib.util.find_spec("kit.core") is not None:
        core = importlib.import_module("kit.core")
        for info in pkgutil.iter_modules(core.__path__, "kit.core."):
            importlib.import_module(info.name)
    import ctypes  # noqa: F401 - loaded now, so that importing numpy later needs no new dlopen


class CodeIndex:
    """Every function and method of the loaded kit, by the names a ``forbid=`` may give.

    A class's name stands for all its methods (and ``Class.__init__`` for its constructor
    alone).  Code compiled from the kit's files is matched by fingerprint as well as identity,
    so a copy made from the kit's source is caught; code generated at run time (a dataclass's
    ``__init__``) only by identity, as another class's generated code may be byte-identical.

    The worker's zygote builds it once, before it forks: each notebook's process inherits
    it instead of indexing the kit again.
    """

    def __init__(self, kit_root: str) -> None:
        self.kit_root = kit_root
        # names -> what forbidden() gives for them: a request refuses the same few lists again
        # and again (every call of an expect_each), and fingerprinting them is most of a call's
        # cost.  Read-only views, never changed once made.
        self._forbidden: dict[frozenset[str], tuple[Mapping[Any, str], Mapping[int, str]]] = {}
        self.by_name: dict[str, list[tuple[CodeType, bool]]] = {}
        self.genuine: dict[int, CodeType] = {}  # id -> code, kept alive so ids stay unique
        self.functions: dict[int, FunctionType] = {}  # the kit's function objects, by id
        self.owners: dict[int, list[FunctionType]] = {}  # code id -> the functions running it
        self._private_prints: frozenset[Any] | None = None  # see copies_private
        # file name -> whether it is the kit's: a few dozen files hold the ~300 functions,
        # and each real path is a walk of lstat calls (a third of the index's time)
        self._kit_files: dict[str, bool] = {}
        for module_name, module in sorted(sys.modules.items()):
            if (module_name == "kit" or module_name.startswith("kit.")) and \
                    not module_name.startswith(NOT_LOADED):
                for name, value in list(vars(module).items()):
                    if getattr(value, "__module__", None) == module_name:
                        self._add(name, value)
        #: The kit's own code of every name a refusal shows as private (``_rmqueue_pcplist``,
        #: a dunder), by bytecode: what :meth:`copies_private` looks for.
        self.private_codes: dict[bytes, list[CodeType]] = {}
        for name, entries in self.by_name.items():
            if refused_name(name).startswith("_"):
                for code, from_kit in entries:
                    if from_kit:
                        self.private_codes.setdefault(code.co_code, []).append(code)

    def _add(self, name: str, value: object) -> None:
        if not isinstance(value, type):
            for function in _functions_of(value):
                self._add_code((name,), function)
            return
        for member_name, member in vars(value).items():
            for function in _functions_of(member):
                self._add_code((member_name, f"{name}.{member_name}", name), function)

    def _add_code(self, names: tuple[str, ...], function: FunctionType) -> None:
        code = function.__code__
        from_kit = self._kit_files.get(code.co_filename)
        if from_kit is None:
            from_kit = os.path.realpath(code.co_filename).startswith(self.kit_root)
            self._kit_files[code.co_filename] = from_kit
        if not from_kit and code.co_name not in ("__init__", "__new__"):
            return  # shared code of the standard library (a namedtuple's _replace, say)
        for name in names:
            self.by_name.setdefault(name, []).append((code, from_kit))
        self.genuine[id(code)] = code
        if id(function) not in self.functions:
            self.owners.setdefault(id(code), []).append(function)
        self.functions[id(function)] = function

    def copies_private(self, code: CodeType) -> bool:
        """Whether ``code`` (or code inside it) is a copy of a private kit function: made
        anew, with the fingerprint of the kit's own.  Such a copy runs no swapped code, so a
        request forbidding its name must watch every call (the trace function)."""
        todo = [code]
        while todo:
            current = todo.pop()
            if current.co_code in self.private_codes and \
                    self.genuine.get(id(current)) is not current:
                if self._private_prints is None:
                    self._private_prints = frozenset(
                        fingerprint(c) for codes in self.private_codes.values() for c in codes)
                if fingerprint(current) in self._private_prints:
                    return True
            todo += [c for c in current.co_consts if isinstance(c, CodeType)]
        return False

    def forbidden(self, names: Iterable[str]) -> tuple[Mapping[Any, str], Mapping[int, str]]:
        """(fingerprint -> name, code id -> name) of the code the names stand for, read-only
        (computed once per set of names: the index does not change)."""
        key = frozenset(names)
        found = self._forbidden.get(key)
        if found is None:
            by_print, by_id = self._find(key)
            found = self._forbidden[key] = (MappingProxyType(by_print), MappingProxyType(by_id))
        return found

    def _find(self, names: frozenset[str]) -> tuple[dict[Any, str], dict[int, str]]:
        by_print: dict[Any, str] = {}
        by_id: dict[int, str] = {}
        for name in sorted(names):
            shown = refused_name(name)
            for code, from_kit in self.by_name.get(name, ()):
                by_id.setdefault(id(code), shown)
                if from_kit:
                    by_print.setdefault(fingerprint(code), shown)
        return by_print, by_id


def _functions_of(value: object) -> list[FunctionType]:
    if isinstance(value, (staticmethod, classmethod)):
        value = value.__func__
    if isinstance(value, property):
        return [f for f in (value.fget, value.fset, value.fdel) if isinstance(f, FunctionType)]
    return [value] if isinstance(value, FunctionType) else []


def refuser_code(name: str, free: int, text: str) -> CodeType:
    """Code that refuses to run, for a forbidden kit function with ``free`` closure cells.

    It tells the audit hook (through the ``sys`` module, held as a constant of the code) and
    raises whatever happens: patching ``sys.audit`` loses the record, never the refusal.
    """
    cells = [f"cell{i}" for i in range(free)]
    body = "\n".join([
        "def outer():",
        *(f"    {c} = None" for c in cells),
        "    def refused(*args, **kwargs):",
        *(f"        {c}" for c in cells),
        f"        'kit.sys'.audit('kit.refused', {name!r})",
        f"        raise RuntimeError({text!r})",
        "    return refused",
    ])
    namespace: dict[str, Any] = {}
    exec(compile(body, f"<kit refusal of {name}>", "exec"), namespace)
    code: CodeType = namespace["outer"]().__code__
    return code.replace(co_consts=tuple(sys if c == "kit.sys" else c for c in code.co_consts))


def checker_code(name: str, free: int, audit: Callable[..., None],
                 target: FunctionType) -> CodeType:
    """Code for a forbidden private kit function with ``free`` closure cells: it tells the
    audit hook that ``name`` is being called (the hook refuses unless the caller is the kit's
    own code), then runs ``target``, a function of the helper's own code.

    ``audit`` (``sys.audit`` as the guard found it) and ``target`` are constants of the code:
    patching ``sys.audit`` afterwards changes nothing here, and only this code's frame holds
    them.
    """
    cells = [f"cell{i}" for i in range(free)]
    body = "\n".join([
        "def outer():",
        *(f"    {c} = None" for c in cells),
        "    def checked(*args, **kwargs):",
        *(f"        {c}" for c in cells),
        f"        'kit.audit'.__call__('kit.private', {name!r})",
        "        return 'kit.target'.__call__(*args, **kwargs)",
        "    return checked",
    ])
    namespace: dict[str, Any] = {}
    exec(compile(body, f"<kit check of {name}>", "exec"), namespace)
    code: CodeType = namespace["outer"]().__code__
    constants = {"kit.audit": audit, "kit.target": target}
    return code.replace(co_consts=tuple(constants.get(c, c) if isinstance(c, str) else c
                                        for c in code.co_consts))


def _twin(function: FunctionType, code: CodeType) -> FunctionType:
    """A function of ``code`` like ``function`` (globals, defaults, closure), for its checker
    to run while ``function`` itself runs the checker."""
    twin = FunctionType(code, function.__globals__, function.__name__, function.__defaults__,
                        function.__closure__)
    twin.__kwdefaults__ = function.__kwdefaults__
    twin.__qualname__ = function.__qualname__
    return twin


#: Flags of code that runs again after its call (a generator's next step): a checker sees
#: only its first call, so a private helper of that kind is watched by the trace function.
RESUMABLE = inspect.CO_GENERATOR | inspect.CO_COROUTINE | inspect.CO_ASYNC_GENERATOR

#: A (function, its code, the code swapped in) triple, undone at the end of the request.
Swap = tuple[FunctionType, CodeType, CodeType]
#: What a request refusing a list of names does (see ``install``'s ``plan``): the fingerprints
#: and code ids refused, the public names' refusal swaps, the private helpers' bytecode (what
#: the trace function looks for) and their checker swaps (empty: watch them by tracing).
Plan = tuple[Mapping[Any, str], Mapping[int, str], tuple[Swap, ...], frozenset[bytes],
             tuple[Swap, ...]]


class Guard:
    """The worker's handle on the audit hook: ``begin`` a request, ``end`` it, nothing else;
    ``settle`` closes one call of a request that makes many (``call_each``) and readies the
    next, its refusals still in place.

    The hook accepts them only from the worker's own request handlers (checked by code
    identity), and ``settle`` and ``end`` only with the token ``begin`` gave, so student code
    that calls them, or calls a handler again, cannot switch the guard off.
    """

    def __init__(self, begin: Callable[[Iterable[str]], object],
                 end: Callable[[object], tuple[str, str] | None],
                 settle: Callable[[object], tuple[str, str] | None]) -> None:
        self.begin = begin
        self.end = end
        self.settle = settle


def kit_folder() -> str:
    """The kit's folder, as the guard compares paths (real, ending with a separator)."""
    return os.path.realpath(os.path.dirname(kit.__file__)) + os.sep


def install(handlers: tuple[CodeType, ...], message: Callable[[str], str],
            index: CodeIndex | None = None) -> Guard:
    """Start the audit hook and the trace function; return the Guard.

    ``handlers`` is the code of the worker functions allowed to begin and end requests;
    ``message(name)`` is the refusal's text; ``index`` the kit's code, indexed before any
    student code ran (the zygote's, inherited by the fork: the zygote loaded the kit before
    indexing it, so a notebook's process has it all already, and loading it again there cost
    ~2 ms of copied pages per notebook), else the kit is loaded and indexed now.
    """
    if index is None:
        preload()
        index = CodeIndex(kit_folder())
    kit_root = index.kit_root
    audit = sys.audit
    getframe = sys._getframe
    state: dict[str, Any] = {"active": False, "token": None, "by_print": {}, "by_id": {},
                             "verdicts": {}, "refused": None, "refusing": None,
                             "armed": False, "swapped": [], "tracing": False,
                             "private": frozenset(), "checked": frozenset(),
                             "copied": False}
    refusals: dict[tuple[str, int], CodeType] = {}
    checkers: dict[tuple[int, str], CodeType] = {}  # (helper's function id, name) -> checker
    plans: dict[frozenset[str], Plan] = {}

    def tracer(frame: FrameType, event: str, arg: object, _audit: Any = audit,
                _shapes: frozenset[bytes] = frozenset()) -> None:
        """The trace function: runs on every Python call, and only a call whose bytecode is a
        forbidden function's goes on to the hook.  Its state is its defaults, which only
        ``aim`` may replace (the hook refuses anyone else), and holds nothing mutable.
        Returning None asks for no line events: a call costs one cheap test."""
        if frame.f_code.co_code in _shapes:
            _audit("kit.guard", frame, event, arg)

    def set_tracer(on: bool) -> None:
        sys.settrace(tracer if on else None)

    def swap(function: FunctionType, code: CodeType) -> None:
        function.__code__ = code

    def aim(shapes: frozenset[bytes]) -> None:
        tracer.__defaults__ = (audit, shapes)

    set_tracer_code = set_tracer.__code__
    aim_code = aim.__code__
    swap_code = swap.__code__
    own_functions = {id(tracer), id(set_tracer), id(aim), id(swap)}

    def refuse(what: str, text: str) -> None:
        if state["refused"] is None:
            state["refused"] = (what, text)
        state["refusing"] = (what, text)
        raise ForbiddenCall(what, text)

    def on_call(frame: FrameType, event: str, arg: object) -> None:
        code = frame.f_code
        verdicts = state["verdicts"]
        seen = verdicts.get(id(code))
        if seen is None or seen[0] is not code:
            name = state["by_id"].get(id(code)) if index.genuine.get(id(code)) is code \
                else None
            seen = (code, name or state["by_print"].get(fingerprint(code)))
            verdicts[id(code)] = seen
        name = seen[1]
        if name is None:
            return
        caller = frame.f_back
        if name.startswith("_") and caller is not None and id(caller.f_code) in index.genuine \
                and index.genuine[id(caller.f_code)] is caller.f_code:
            return  # the kit's own use of a private helper (only a direct call is refused)
        refuse(name, message(name))

    def copies(code: CodeType) -> str | None:
        """The forbidden name ``code`` (or a function inside it) is a copy of, if any."""
        todo = [code]
        while todo:
            current = todo.pop()
            if index.genuine.get(id(current)) is not current:
                name = state["by_print"].get(fingerprint(current))
                if name is not None:
                    return str(name)
            todo += [c for c in current.co_consts if isinstance(c, CodeType)]
        return None

    def hook(event: str, args: tuple[Any, ...]) -> None:
        # First the events that come by the hundred thousand (the guard's own frame reads
        # among them): each would otherwise be compared with every case below.
        if event in QUIET_EVENTS:
            return
        if event == "object.__getattr__":  # f_code, tb_frame... and the kit's __code__
            if args[1] == "__code__" and state["armed"] and id(args[0]) in index.functions:
                raise PermissionError("reading the kit's code objects is not allowed while "
                                      "grading")
            return
        if event == "object.__setattr__":
            if state["armed"]:
                _check_setattr(args[0])
                if args[1] == "__code__" and id(args[0]) not in index.functions and \
                        isinstance(args[2], CodeType):  # (the kit's: the guard's own swaps)
                    _note_copies(args[2])
            return
        if event == "kit.guard":
            if state["active"]:
                on_call(*args)
            return
        if event == "kit.refused":  # a swapped-in refusal ran
            if state["active"] and isinstance(args[0], str):
                refuse(args[0], message(args[0]))
            return
        if event == "kit.private":  # a private helper's checker: who is calling it?
            if state["active"] and args[0] in state["checked"]:
                caller = getframe(2)  # 0: the hook, 1: the checker, 2: its caller
                if caller is None or index.genuine.get(id(caller.f_code)) is not caller.f_code:
                    refuse(args[0], message(args[0]))
            return
        if not state["armed"]:
            return
        if event in ("exec", "function.__new__") and isinstance(args[0], CodeType):
            _note_copies(args[0])
        if event in ("exec", "function.__new__") and state["active"] and \
                isinstance(args[0], CodeType):
            copied = copies(args[0])
            if copied is not None:  # the kit's code made again from its source
                refuse(copied, message(copied))
        if event == "sys.settrace":
            # Refused even when Python itself unsets a trace function that raised (a
            # refusal, a RecursionError): the unset then fails and the guard stays on.
            if getframe(1).f_code is set_tracer_code:
                return
            refusing, state["refusing"] = state["refusing"], None
            if refusing is not None:  # the trace function's own refusal, passed on
                raise ForbiddenCall(*refusing)
            raise RecursionError("maximum recursion depth exceeded (or sys.settrace, which "
                                 "is not allowed while grading)")
        if event in INTROSPECTION_EVENTS or (event == "import" and args[0] == "_thread"):
            raise PermissionError(f"{event} is not allowed while grading")
        if event in PROCESS_EVENTS:
            raise PermissionError(f"{event}: answers may not start programs or processes "
                                  "while grading")
        if event == "open":
            _check_open(args[0])

    def _check_setattr(target: object) -> None:
        """An attribute set on ``target`` (the guard's own swaps among them, by the hundred
        per request: the hook sends this event here first)."""
        if id(target) in index.functions:
            if getframe(2).f_code is swap_code:  # 0: here, 1: the hook, 2: who set it
                return
            raise PermissionError("the kit's functions cannot be changed while grading")
        if id(target) in own_functions:
            if target is tracer and getframe(2).f_code is aim_code:
                return
            state["refused"] = ("", "the grader's guard was changed")
            raise PermissionError("the grader's guard cannot be changed")

    def _note_copies(code: CodeType) -> None:
        """Remember for good when a copy of a private kit function is made (see plan)."""
        if not state["copied"] and index.copies_private(code):
            state["copied"] = True

    def _check_open(path: object) -> None:
        if not isinstance(path, (str, bytes, os.PathLike)):
            return  # a file descriptor: opened earlier, so checked then
        text = os.fsdecode(path)
        real = os.path.realpath(text)
        if real.startswith(kit_root) or real + os.sep == kit_root or \
                (real.startswith("/proc/") and real.endswith("/mem")):
            shown = os.path.relpath(real, os.path.dirname(kit_root.rstrip(os.sep)))
            raise PermissionError(f"reading {shown} is not allowed while grading: write the "
                                  "answer yourself")

    def caller_is_handler() -> bool:
        frame = getframe(2)  # 0: this function, 1: begin/end, 2: their caller
        return frame is not None and any(frame.f_code is code for code in handlers)

    def begin(names: Iterable[str]) -> object:
        if state["active"] or not caller_is_handler():
            raise PermissionError("a grading request cannot be started from an answer")
        token = object()
        key = frozenset(names)
        if key not in plans:
            plans[key] = plan(key)
        by_print, by_id, swaps, private, checks = plans[key]
        if not state["armed"]:
            for module, name in THREAD_STARTS:
                sys.modules[module].__dict__.pop(name, None)
        state["armed"] = True
        # Private helpers are checked at their calls, unless a copy of one exists (or one is
        # a generator): then every call is watched, as the checkers would get in the way.
        tracing = bool(private) and (state["copied"] or not checks)
        if private and not tracing:
            swaps += checks
        for function, _, replacement in swaps:
            swap(function, replacement)
        aim(private)
        set_tracer(tracing)  # again each time: an answer may have got round it before
        state.update(active=True, token=token, by_print=by_print, by_id=by_id, verdicts={},
                     refused=None, swapped=swaps, tracing=tracing, private=private,
                     checked=frozenset() if tracing else
                     frozenset(n for n in by_id.values() if n.startswith("_")))
        return token

    def settle(token: object) -> tuple[str, str] | None:
        """One call of a request that makes many is done: what it refused (name, text), or
        None, as ``end`` would say; the next call starts with nothing refused yet and the same
        refusals in place (the code swaps stay, which is what a call of a request refusing a
        whole class spends most on, and the trace function is aimed and set again)."""
        if token is None or token is not state["token"] or not caller_is_handler():
            raise PermissionError("a grading request cannot be ended from an answer")
        refused: tuple[str, str] | None = state["refused"]
        if refused is None and state["tracing"] and sys.gettrace() is not tracer:
            refused = ("", "the grader's delegation check was switched off")
        state.update(refused=None, verdicts={})
        aim(state["private"])
        set_tracer(state["tracing"])
        return refused

    def plan(names: frozenset[str]) -> Plan:
        """What a request refusing ``names`` does, worked out once per list of names.

        Public names: their functions' code is swapped for a refusal, wherever they are
        referenced from, at no cost to any other call: (function, its code, the refusal).
        Private helpers (the kit's own use of them stays allowed): their functions' code is
        swapped for a checker (:func:`checker_code`), and the bytecode the trace function
        looks for is kept for when the process must watch every call instead (a copy of one
        exists, or one is a generator: then no checkers).
        """
        by_print, by_id = index.forbidden(names)
        swaps: list[Swap] = []
        checks: list[Swap] = []
        for code_id, name in by_id.items():
            original = index.genuine[code_id]
            free = len(original.co_freevars)
            functions = index.owners.get(code_id, [])
            if name.startswith("_"):
                for function in functions:  # (the index keeps each function alive)
                    which = (id(function), name)
                    if which not in checkers:
                        checkers[which] = checker_code(name, free, audit,
                                                       _twin(function, original))
                    checks.append((function, original, checkers[which]))
                continue
            key = (name, free)
            if key not in refusals:
                refusals[key] = refuser_code(name, key[1], message(name))
            swaps += [(function, original, refusals[key]) for function in functions]
        private = {p[1] for p, n in by_print.items() if n.startswith("_")} | \
            {index.genuine[i].co_code for i, n in by_id.items() if n.startswith("_")}
        if any(index.genuine[i].co_flags & RESUMABLE for i, n in by_id.items()
               if n.startswith("_")):
            checks = []
        return by_print, by_id, tuple(swaps), frozenset(private), tuple(checks)

    def end(token: object) -> tuple[str, str] | None:
        """Close the request; what was refused in it (name, text), or None."""
        if token is None or token is not state["token"] or not caller_is_handler():
            raise PermissionError("a grading request cannot be ended from an answer")
        for function, code, _ in state["swapped"]:
            swap(function, code)
        tracing = state["tracing"]
        state.update(active=False, token=None, by_print={}, by_id={}, verdicts={}, swapped=[],
                     checked=frozenset())
        refused: tuple[str, str] | None = state["refused"]
        if refused is None and tracing and sys.gettrace() is not tracer:
            refused = ("", "the grader's delegation check was switched off")
        return refused

    sys.addaudithook(hook)
    return Guard(begin, end, settle)
