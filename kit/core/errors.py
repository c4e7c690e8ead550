"""Exceptions raised by the kit.

The kernel reacts to misuse of the page allocator in two ways: a ``Bad page state`` report when
a page being freed is not in the state a free expects, and a ``BUG`` for a broken invariant.  The
kit turns both into Python exceptions that say what was wrong, so a student sees the mistake
instead of a silently corrupted simulation.  Every kit exception derives from ``KitError``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from .events import Event


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


class ObserverFailure(NamedTuple):
    """An observer's first exception during one zone operation, and how often it raised."""

    observer: Callable[[Event], None]
    event: Event
    error: BaseException
    times: int


class ObserverError(KitError):
    """An observer (``Zone.subscribe``) raised; the zone operation completed all the same.

    Raised once the operation has finished, so the zone is as it would be without observers
    and every other observer saw every event.  The first failure is the ``__cause__``;
    ``failures`` holds the first exception of each observer that raised during the operation.
    """

    def __init__(self, operation: str, failures: Sequence[ObserverFailure]) -> None:
        first = failures[0]
        name = getattr(first.observer, "__qualname__", None) or repr(first.observer)
        more = sum(failure.times for failure in failures) - 1
        others = f"; {more} more observer failure(s) in this call (see .failures)" if more else ""
        super().__init__(
            f"observer {name} raised {first.error!r} during {operation}, at its "
            f"{first.event.kind} event ({first.event.describe()}); {operation} completed all "
            f"the same and every observer saw every event{others}"
        )
        self.operation = operation
        self.failures = tuple(failures)
