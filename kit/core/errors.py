"""Exceptions raised by the kit.

The kernel reacts to misuse of the page allocator in two ways: a ``Bad page state`` report when
a page being freed is not in the state a free expects, and a ``BUG`` for a broken invariant.  The
kit turns both into Python exceptions that say what was wrong, so a student sees the mistake
instead of a silently corrupted simulation.  Every kit exception derives from ``KitError``.
"""


class KitError(Exception):
    """Base class of every error the kit raises on purpose."""


class InvalidArgument(KitError, ValueError):
    """An argument has the wrong type or value (a negative size, an order that is not an int)."""


class BadPageState(KitError):
    """A free that the kernel would report as ``BUG: Bad page state``.

    Raised for a double free, for freeing a page that was never allocated, or for freeing an
    allocation with a different order than it was allocated with.  The zone is left unchanged.
    """


class KernelBUG(KitError):
    """An operation the kernel would stop with ``BUG()`` / ``VM_BUG_ON`` (an invalid address)."""


class ProcFileUnavailable(KitError):
    """A ``/proc`` file could not be read (absent on macOS and Windows, or not permitted)."""
