"""TRUSTED: the seccomp filter bubblewrap installs in every sandboxed worker (``--seccomp FD``).

The worker may make every system call Python and numpy need, except those that reach kernel
code no answer needs and that have a long record of privilege escalations:

* ``io_uring_setup``, ``io_uring_enter``, ``io_uring_register`` (a second way into the kernel
  that other filters and some limits do not see);
* ``keyctl``, ``add_key``, ``request_key`` (the kernel keyring);
* ``bpf`` (loading programs into the kernel);
* ``unshare`` and ``clone`` with ``CLONE_NEWUSER`` (a nested user namespace would give the
  answer a full set of capabilities inside it);
* ``clone`` with ``CLONE_THREAD``: no thread can start, however it is asked for (``_thread``,
  ``ctypes`` and ``pthread_create``, a C extension).  The guard refuses threads in Python
  (a thread would run without its trace function); this is the layer below it, which no code
  in the process can switch off.  A new process (``fork``: no ``CLONE_THREAD``) passes this
  rule: the guard refuses it in Python, and the pids cgroup caps processes;
* ``clone3`` gets ``ENOSYS``, because its flags sit in memory a filter cannot read, and the C
  library then falls back to ``clone``, where the two rules above apply.

Each fails with ``EPERM`` (``ENOSYS`` for ``clone3``) instead of killing the worker, so an
answer that tries one gets an ``OSError`` (``RuntimeError: can't start new thread`` for a
thread) like any other refusal.  Nothing the worker needs starts a thread: Python, the kit and
IPython's input transformer do not, and numpy's OpenBLAS is told to use one thread
(``OPENBLAS_NUM_THREADS=1`` in the sandbox's environment), so its import starts none.

The filter is compiled to classic BPF by libseccomp (through the ``pyseccomp`` package, a
ctypes binding: the kit's ``grading`` extra installs it), once per grading run; bubblewrap
reads it from a pipe.
"""

from __future__ import annotations

import errno
import functools
import os
import tempfile

#: The calls refused outright.
DENIED = ("io_uring_setup", "io_uring_enter", "io_uring_register", "keyctl", "add_key",
          "request_key", "bpf")
#: The calls refused when their first argument (the flags) has one of these bits: a new user
#: namespace, a thread.
CLONE_NEWUSER = 0x10000000
CLONE_THREAD = 0x00010000
DENIED_WITH_FLAG = (("unshare", CLONE_NEWUSER), ("clone", CLONE_NEWUSER), ("clone", CLONE_THREAD))


class SeccompUnavailable(Exception):
    """libseccomp or its Python binding is missing: say so, never fail the run."""


@functools.lru_cache(maxsize=1)
def program() -> bytes:
    """The compiled filter (a few hundred bytes), built once per process."""
    try:
        import pyseccomp as sc  # type: ignore[import-untyped]
    except Exception as exc:  # ImportError, or OSError/AttributeError without libseccomp.so
        raise SeccompUnavailable(f"seccomp filter not available ({type(exc).__name__}: "
                                 f"{exc}; pip install pyseccomp, apt-get install "
                                 "libseccomp2)") from None
    allow_rest = sc.SyscallFilter(sc.ALLOW)
    for name in DENIED:
        allow_rest.add_rule(sc.ERRNO(errno.EPERM), name)
    for name, flag in DENIED_WITH_FLAG:
        allow_rest.add_rule(sc.ERRNO(errno.EPERM), name, sc.Arg(0, sc.MASKED_EQ, flag, flag))
    allow_rest.add_rule(sc.ERRNO(errno.ENOSYS), "clone3")
    with tempfile.TemporaryFile() as compiled:
        allow_rest.export_bpf(compiled)
        compiled.seek(0)
        return compiled.read()


def filter_fd() -> int:
    """A pipe's read end holding the filter, for one ``bwrap --seccomp FD`` (the caller closes
    it once bwrap has started).  The filter is far below a pipe's buffer size."""
    data = program()
    read_end, write_end = os.pipe()
    try:
        os.write(write_end, data)
    finally:
        os.close(write_end)
    return read_end
