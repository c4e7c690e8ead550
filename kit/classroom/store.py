"""Where the classroom keeps rounds, votes and the follow state: one SQL database.

SQLite in WAL mode is the default (one file beside the Hub; readers never wait for the writer);
any SQLAlchemy database URL works too, e.g. ``postgresql+psycopg://...`` for a Hub on
Kubernetes whose service may be restarted on another node.  Every change is one transaction, so
a vote either counts whole or not at all, and a vote that arrives as the round closes is
refused, never half-counted.  The service calls these methods from its event loop; each is a
few small statements.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine

from .polls import MAX_ROUNDS, Conflict, reveal_by_default

__all__ = ["Round", "Store", "Vote"]

_meta = sa.MetaData()

rounds_table = sa.Table(
    "rounds", _meta,
    sa.Column("poll", sa.String(200), primary_key=True),
    sa.Column("number", sa.Integer, primary_key=True),
    sa.Column("opened", sa.Float, nullable=False),
    sa.Column("closed", sa.Float, nullable=True),
    sa.Column("reveal", sa.Boolean, nullable=False),
)

votes_table = sa.Table(
    "votes", _meta,
    sa.Column("poll", sa.String(200), primary_key=True),
    sa.Column("round", sa.Integer, primary_key=True),
    sa.Column("user", sa.String(255), primary_key=True),
    sa.Column("choice", sa.Integer, nullable=False),
    sa.Column("changes", sa.Integer, nullable=False, default=0),
    sa.Column("at", sa.Float, nullable=False),
)

follow_table = sa.Table(
    "follow", _meta,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("state", sa.Text, nullable=False),
    sa.Column("at", sa.Float, nullable=False),
)


@dataclass(frozen=True)
class Round:
    """One round of a poll: its number (1 or 2), when it opened and closed, who sees results."""

    number: int
    opened: float
    closed: float | None
    reveal: bool

    @property
    def open(self) -> bool:
        return self.closed is None

    def to_json(self) -> dict[str, Any]:
        return {"number": self.number, "open": self.open, "reveal": self.reveal}


@dataclass(frozen=True)
class Vote:
    """A student's last vote in one round, and how often they changed it."""

    poll: str
    round: int
    user: str
    choice: int
    changes: int
    at: float


def _sqlite_wal(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")  # durable at each checkpoint; WAL keeps it safe
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()


class Store:
    """The classroom's database: ``Store("sqlite:////path/classroom.sqlite")`` or any URL."""

    def __init__(self, url: str) -> None:
        self.engine: Engine = sa.create_engine(url)
        if self.engine.dialect.name == "sqlite":
            sa.event.listen(self.engine, "connect", _sqlite_wal)
        _meta.create_all(self.engine)
        # A vote is the service's hot path: its two statements are built once, not per vote
        # (building the upsert took more CPU than running it; bench/bench_classroom.py).
        insert = (postgresql.insert if self.engine.dialect.name == "postgresql"
                  else sqlite.insert)(votes_table)
        self._upsert_vote = insert.on_conflict_do_update(
            index_elements=["poll", "round", "user"],
            set_={"choice": insert.excluded.choice, "at": insert.excluded.at,
                  "changes": votes_table.c.changes + 1})
        self._last_round = (
            sa.select(rounds_table.c.number, rounds_table.c.closed)
            .where(rounds_table.c.poll == sa.bindparam("poll"))
            .order_by(rounds_table.c.number.desc()).limit(1))

    def close(self) -> None:
        self.engine.dispose()

    # -- rounds ---------------------------------------------------------------------------

    def rounds(self, poll: str) -> list[Round]:
        """The poll's rounds so far, in order."""
        with self.engine.connect() as conn:
            return self._rounds(conn, poll)

    @staticmethod
    def _rounds(conn: Connection, poll: str) -> list[Round]:
        rows = conn.execute(
            sa.select(rounds_table).where(rounds_table.c.poll == poll)
            .order_by(rounds_table.c.number)
        )
        return [Round(r.number, r.opened, r.closed, bool(r.reveal)) for r in rows]

    def open_round(self, poll: str, reveal: bool | None = None) -> Round:
        """Open the poll's next round; ``Conflict`` while one is open or after the last one."""
        with self.engine.begin() as conn:
            done = self._rounds(conn, poll)
            if done and done[-1].open:
                raise Conflict(f"round {done[-1].number} of {poll!r} is still open: close it "
                               "first")
            if len(done) >= MAX_ROUNDS:
                raise Conflict(f"{poll!r} has had its {MAX_ROUNDS} rounds: reset it to run it "
                               "again")
            number = len(done) + 1
            shown = reveal_by_default(number) if reveal is None else reveal
            new = Round(number, time.time(), None, shown)
            conn.execute(rounds_table.insert().values(
                poll=poll, number=number, opened=new.opened, closed=None, reveal=shown))
            return new

    def close_round(self, poll: str) -> Round:
        """Close the poll's open round; ``Conflict`` when none is open."""
        with self.engine.begin() as conn:
            current = self._open_round(conn, poll)
            closed = time.time()
            conn.execute(rounds_table.update()
                         .where(rounds_table.c.poll == poll,
                                rounds_table.c.number == current.number)
                         .values(closed=closed))
            return Round(current.number, current.opened, closed, current.reveal)

    def set_reveal(self, poll: str, number: int, reveal: bool) -> Round:
        """Show or hide one round's histogram to students."""
        with self.engine.begin() as conn:
            found = [r for r in self._rounds(conn, poll) if r.number == number]
            if not found:
                raise Conflict(f"{poll!r} has no round {number} yet")
            conn.execute(rounds_table.update()
                         .where(rounds_table.c.poll == poll, rounds_table.c.number == number)
                         .values(reveal=reveal))
            old = found[0]
            return Round(old.number, old.opened, old.closed, reveal)

    def reset(self, poll: str) -> None:
        """Forget the poll's rounds and votes (export them first), to run it with a new class."""
        with self.engine.begin() as conn:
            conn.execute(votes_table.delete().where(votes_table.c.poll == poll))
            conn.execute(rounds_table.delete().where(rounds_table.c.poll == poll))

    def _open_round(self, conn: Connection, poll: str) -> Round:
        done = self._rounds(conn, poll)
        if not done or not done[-1].open:
            raise Conflict(f"no round of {poll!r} is open")
        return done[-1]

    # -- votes ----------------------------------------------------------------------------

    def vote(self, poll: str, user: str, choice: int) -> int:
        """Record ``user``'s vote in the open round (a new vote replaces theirs); its number."""
        with self.engine.begin() as conn:
            last = conn.execute(self._last_round, {"poll": poll}).first()
            if last is None or last.closed is not None:
                raise Conflict(f"no round of {poll!r} is open")
            conn.execute(self._upsert_vote, {"poll": poll, "round": last.number, "user": user,
                                             "choice": choice, "changes": 0, "at": time.time()})
            return int(last.number)

    def votes(self, poll: str | None = None, user: str | None = None) -> list[Vote]:
        """Votes, of one poll and/or one user, ordered by poll, round and user."""
        query = sa.select(votes_table)
        if poll is not None:
            query = query.where(votes_table.c.poll == poll)
        if user is not None:
            query = query.where(votes_table.c.user == user)
        query = query.order_by(votes_table.c.poll, votes_table.c.round, votes_table.c.user)
        with self.engine.connect() as conn:
            return [Vote(r.poll, r.round, r.user, r.choice, r.changes, r.at)
                    for r in conn.execute(query)]

    # -- follow the instructor ------------------------------------------------------------

    def follow_state(self) -> tuple[int, dict[str, Any]]:
        """The presenter's last published position and its version (0 and {} before any)."""
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(follow_table).where(follow_table.c.id == 1)).first()
        if row is None:
            return 0, {}
        return row.version, json.loads(row.state)

    def publish_follow(self, state: dict[str, Any]) -> int:
        """Store the presenter's new position; its version, one more than the last."""
        with self.engine.begin() as conn:
            row = conn.execute(sa.select(follow_table.c.version)
                               .where(follow_table.c.id == 1)).first()
            version = 1 if row is None else row.version + 1
            values = {"version": version, "state": json.dumps(state), "at": time.time()}
            if row is None:
                conn.execute(follow_table.insert().values(id=1, **values))
            else:
                conn.execute(follow_table.update().where(follow_table.c.id == 1).values(**values))
            return version
