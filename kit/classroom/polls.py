"""The rules of a peer-instruction poll, as plain functions the service and its tests share.

Peer instruction runs a concept question twice: everyone votes alone (round 1), neighbours who
answered differently discuss, everyone votes again (round 2), then the instructor debriefs.  So
a poll has at most ``MAX_ROUNDS`` rounds, one open at a time; a student may change their vote
until the round closes (the last vote counts); round 1's histogram is hidden from students by
default, so that the discussion is about reasons, not about what the majority said.

A poll is one of the lessons' questions (``kit.teaching.quiz_bank``), by id: the service knows
how many choices it has without trusting a client, and the presenter can mark the right one.
Choices travel as their position in the question's authored order (a student's shuffled order
is only on their screen).
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from ..core.errors import KitError
from ..teaching.quiz import Question, QuizError
from ..teaching.quiz_bank import question

__all__ = [
    "MAX_ROUNDS",
    "Conflict",
    "InvalidRequest",
    "PollError",
    "Pairing",
    "UnknownPoll",
    "choice_index",
    "histogram",
    "poll_question",
    "reveal_by_default",
    "suggest_pairs",
]

#: Vote alone, then vote again after discussing: two rounds.
MAX_ROUNDS = 2


class PollError(KitError):
    """A request the poll's rules refuse; ``status`` is the HTTP status the service answers."""

    status = 400


class InvalidRequest(PollError):
    """A malformed request or a choice the question does not offer (HTTP 400)."""

    status = 400


class UnknownPoll(PollError):
    """No question of the bank has this id (HTTP 404)."""

    status = 404


class Conflict(PollError):
    """The request does not fit the poll's state: no round open, a round already open (409)."""

    status = 409


def poll_question(poll_id: str) -> Question:
    """The bank's question a poll asks; ``UnknownPoll`` when there is none with that id."""
    try:
        return question(poll_id)
    except QuizError:
        raise UnknownPoll(f"no poll named {poll_id!r}: polls are the lessons' question ids"
                          ) from None


def choice_index(value: object, n_choices: int) -> int:
    """A vote's choice checked: an integer position among the question's ``n_choices``."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidRequest(f"'choice' must be an integer position, not {value!r}")
    if not 0 <= value < n_choices:
        raise InvalidRequest(f"'choice' must be between 0 and {n_choices - 1}, not {value}")
    return value


def reveal_by_default(round_number: int) -> bool:
    """Whether students see a round's histogram unless the instructor says otherwise.

    Round 1's is hidden (students would otherwise discuss the majority, not the reasons);
    round 2's is shown, it is the debrief.
    """
    return round_number > 1


def histogram(choices: Iterable[int], n_choices: int) -> list[int]:
    """How many votes each choice got, in the question's authored order."""
    counts = [0] * n_choices
    for choice in choices:
        counts[choice] += 1
    return counts


@dataclass(frozen=True)
class Pairing:
    """Suggested discussion pairs (students who answered differently) and who is left over."""

    pairs: tuple[tuple[str, str], ...]
    unpaired: tuple[str, ...]


def suggest_pairs(votes: Mapping[str, int]) -> Pairing:
    """Pair students who answered differently, as many pairs as the answers allow.

    Each pair takes one student of the largest remaining answer group and one of the next
    largest, which pairs everyone when no answer has more than half of the votes; the rest of a
    larger group is left unpaired (they join a pair in the room).  Names are taken in sorted
    order, so the same votes always give the same pairs.
    """
    groups: dict[int, list[str]] = {}
    for name in sorted(votes):
        groups.setdefault(votes[name], []).append(name)
    # Max-heap on group size; the choice breaks ties so the order is deterministic.
    heap = [(-len(names), choice) for choice, names in groups.items()]
    heapq.heapify(heap)
    pairs: list[tuple[str, str]] = []
    while len(heap) >= 2:
        size_a, choice_a = heapq.heappop(heap)
        size_b, choice_b = heapq.heappop(heap)
        pairs.append((groups[choice_a].pop(0), groups[choice_b].pop(0)))
        for size, choice in ((size_a + 1, choice_a), (size_b + 1, choice_b)):
            if size < 0:
                heapq.heappush(heap, (size, choice))
    unpaired = tuple(name for _, choice in heap for name in groups[choice])
    return Pairing(tuple(pairs), unpaired)
