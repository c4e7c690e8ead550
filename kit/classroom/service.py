"""The classroom service: a Tornado app the Hub starts, proxies at ``/services/<name>/`` and
restarts.

Who calls is always the owner of the Hub token (``Authorization: token ...``, what a kernel
sends with its ``$JUPYTERHUB_API_TOKEN``) or of the HubOAuth cookie (a browser); never a name in
the body.  The token must carry the service's access scope; instructor calls (open and close
rounds, results, export, publish the follow state) need the service's custom admin scope,
which the Hub grants to the ``instructors`` group only (``kit.classroom.hubconfig``).  Changes
(PUT, POST) must come with a token, not a cookie, so another site cannot make a browser vote.

Errors are JSON ``{"status": ..., "message": ...}``: 401 no or unknown credentials, 403 no
access or not an instructor, 404 unknown poll or route, 409 no open round / a round still open,
400 malformed request or invalid choice, 413 a body over ``MAX_BODY`` bytes.

The Hub's answer to each token is cached for at most 60 s (``HubAuth.cache_max_age``; the
stock 300 s would let a revoked token vote for five minutes) and asked asynchronously: the
stock ``HubAuthenticated`` check blocks the event loop while the Hub answers, which stalls every
student behind one unseen token.

Run by the Hub as ``python -m kit.classroom.service --db URL`` (its environment, set by the Hub,
holds the API token, the Hub's URL and the service prefix).
"""

from __future__ import annotations

from ..core.extras import require_extra

require_extra("classroom", "kit.classroom.service")

import argparse
import csv
import html
import io
import json
import logging
import os
import time
from collections.abc import Sequence
from typing import Any

from jupyterhub.services.auth import HubOAuth, HubOAuthCallbackHandler, HubOAuthenticated
from tornado import httpserver, ioloop, locks, web

from .polls import (
    PollError,
    choice_index,
    histogram,
    poll_question,
    suggest_pairs,
)
from .store import Store

__all__ = ["MAX_BODY", "MAX_CACHE_AGE", "PRESENT_SECONDS", "make_app", "main"]

#: Largest request body accepted (a vote is ~15 bytes; a follow state a few hundred).
MAX_BODY = 16 * 1024
#: Longest time the Hub's answer for a token is trusted before asking again.
MAX_CACHE_AGE = 60
#: A student counts as present when the service heard from them this recently.
PRESENT_SECONDS = 300
#: Longest a "follow" long-poll is held (below every proxy's idle timeout).
MAX_FOLLOW_WAIT = 30.0

log = logging.getLogger("kit.classroom")


class Classroom:
    """The service's state: the store, who was seen when, and the follow listeners."""

    def __init__(self, store: Store, name: str) -> None:
        self.store = store
        self.name = name
        self.admin_scope = f"custom:{name}:admin"
        self.seen: dict[str, float] = {}
        self.follow_changed = locks.Condition()
        #: Follow long-polls held now (students waiting for the presenter's next move).
        self.followers = 0

    def present(self) -> int:
        horizon = time.time() - PRESENT_SECONDS
        return sum(1 for at in self.seen.values() if at >= horizon)


class ApiError(web.HTTPError):
    """An error answered as JSON with a one-line message."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(status)
        self.message = message


class ApiHandler(HubOAuthenticated, web.RequestHandler):
    """Authenticates every request before it runs and answers errors as JSON."""

    classroom: Classroom
    public = False  # the health route answers without credentials

    def initialize(self, classroom: Classroom) -> None:
        self.classroom = classroom
        self.user: dict[str, Any] = {}
        self.instructor = False

    def check_xsrf_cookie(self) -> None:
        """Changes need a token (checked in ``prepare``), so Tornado's XSRF check is moot."""

    async def prepare(self) -> None:
        length = int(self.request.headers.get("Content-Length") or len(self.request.body or b""))
        if length > MAX_BODY:
            raise ApiError(413, f"request body of {length} bytes is over the {MAX_BODY} limit")
        if self.public:
            return
        model = await self.hub_auth.get_user(self, sync=False)
        if not model:
            raise ApiError(401, "no valid JupyterHub token or login: sign in to the Hub")
        if not self.hub_auth.check_scopes(self.hub_auth.access_scopes, model):
            raise ApiError(403, f"{model['name']} has no access to the {self.classroom.name} "
                                "service")
        if self.request.method not in ("GET", "HEAD") and not getattr(
                self, "_token_authenticated", False):
            raise ApiError(403, "changes need an API token, not a browser cookie")
        self.user = model
        self.current_user = model
        self.instructor = self.classroom.admin_scope in model.get("scopes", ())
        if not self.instructor and model.get("kind", "user") == "user":
            self.classroom.seen[model["name"]] = time.time()

    def require_instructor(self) -> None:
        if not self.instructor:
            raise ApiError(403, f"only an instructor may do this ({self.user['name']} is not "
                                "one)")

    def body(self) -> dict[str, Any]:
        if not self.request.body:
            return {}
        try:
            data = json.loads(self.request.body)
        except ValueError:
            raise ApiError(400, "the request body is not JSON") from None
        if not isinstance(data, dict):
            raise ApiError(400, "the request body must be a JSON object")
        return data

    def send(self, data: Any) -> None:
        self.set_header("Content-Type", "application/json")
        self.set_header("Cache-Control", "no-store")
        self.finish(json.dumps(data))

    def _handle_request_exception(self, e: BaseException) -> None:
        # The poll rules raise PollError with their own status; answer them like ApiError.
        if isinstance(e, PollError):
            e = ApiError(e.status, str(e))
        super()._handle_request_exception(e)

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        error = kwargs.get("exc_info", (None, None, None))[1]
        if isinstance(error, PollError):
            message = str(error)
        else:
            message = getattr(error, "message", None) or self._reason
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps({"status": status_code, "message": message}))


class HealthHandler(ApiHandler):
    public = True

    def get(self) -> None:
        self.send({"ok": True, "service": self.classroom.name})


class MeHandler(ApiHandler):
    def get(self) -> None:
        self.send({"name": self.user["name"], "instructor": self.instructor})


class PollHandler(ApiHandler):
    """The poll as the caller may see it."""

    def get(self, poll_id: str) -> None:
        question = poll_question(poll_id)
        rounds = self.classroom.store.rounds(poll_id)
        votes = self.classroom.store.votes(poll_id)
        mine = {str(v.round): v.choice for v in votes if v.user == self.user["name"]}
        hist = {}
        for r in rounds:
            if r.reveal or self.instructor:
                hist[str(r.number)] = histogram(
                    (v.choice for v in votes if v.round == r.number), len(question.choices))
        open_round = next((r.number for r in rounds if r.open), None)
        self.send({"poll": poll_id, "n_choices": len(question.choices),
                   "rounds": [r.to_json() for r in rounds], "open_round": open_round,
                   "my_votes": mine, "histograms": hist, "instructor": self.instructor})


class VoteHandler(ApiHandler):
    def put(self, poll_id: str) -> None:
        question = poll_question(poll_id)
        choice = choice_index(self.body().get("choice"), len(question.choices))
        number = self.classroom.store.vote(poll_id, self.user["name"], choice)
        self.send({"poll": poll_id, "round": number, "choice": choice})


class RoundHandler(ApiHandler):
    """Instructor actions on a poll: open, close, reveal, reset."""

    def post(self, poll_id: str, action: str) -> None:
        self.require_instructor()
        poll_question(poll_id)
        store = self.classroom.store
        body = self.body()
        if action == "open":
            reveal = body.get("reveal")
            if reveal is not None and not isinstance(reveal, bool):
                raise ApiError(400, "'reveal' must be true or false")
            self.send(store.open_round(poll_id, reveal).to_json())
        elif action == "close":
            self.send(store.close_round(poll_id).to_json())
        elif action == "reveal":
            number, reveal = body.get("round"), body.get("reveal", True)
            if not isinstance(number, int) or not isinstance(reveal, bool):
                raise ApiError(400, "reveal needs {'round': <number>, 'reveal': true|false}")
            self.send(store.set_reveal(poll_id, number, reveal).to_json())
        else:  # reset
            store.reset(poll_id)
            self.send({"poll": poll_id, "reset": True})


class ResultsHandler(ApiHandler):
    """Both rounds' histograms, answered and present, and pairs who answered differently."""

    def get(self, poll_id: str) -> None:
        self.require_instructor()
        question = poll_question(poll_id)
        rounds = self.classroom.store.rounds(poll_id)
        votes = self.classroom.store.votes(poll_id)
        out = []
        for r in rounds:
            chosen = {v.user: v.choice for v in votes if v.round == r.number}
            out.append({**r.to_json(), "answered": len(chosen),
                        "histogram": histogram(chosen.values(), len(question.choices))})
        first = {v.user: v.choice for v in votes if v.round == 1}
        pairing = suggest_pairs(first)
        self.send({"poll": poll_id, "choices": list(question.texts), "answer": question.answer,
                   "present": self.classroom.present(), "rounds": out,
                   "pairs": [list(p) for p in pairing.pairs],
                   "unpaired": list(pairing.unpaired)})


class ExportHandler(ApiHandler):
    """Every vote, one row per student, poll and round; ``?format=csv`` for a spreadsheet."""

    def get(self) -> None:
        self.require_instructor()
        rows = [{"user": v.user, "poll": v.poll, "round": v.round, "choice": v.choice,
                 "correct": v.choice == poll_question(v.poll).answer, "changes": v.changes,
                 "at": round(v.at, 3)}
                for v in self.classroom.store.votes()]
        if self.get_argument("format", "json") == "csv":
            out = io.StringIO()
            writer = csv.DictWriter(out, ["user", "poll", "round", "choice", "correct",
                                          "changes", "at"])
            writer.writeheader()
            writer.writerows(rows)
            self.set_header("Content-Type", "text/csv; charset=utf-8")
            self.set_header("Content-Disposition", 'attachment; filename="classroom-votes.csv"')
            self.finish(out.getvalue())
            return
        self.send({"votes": rows})


class FollowHandler(ApiHandler):
    """Where the presenter is: students long-poll it, the instructor publishes it."""

    async def get(self) -> None:
        try:
            after = int(self.get_argument("after", "0"))
            wait = min(float(self.get_argument("wait", "0")), MAX_FOLLOW_WAIT)
        except ValueError:
            raise ApiError(400, "'after' must be an integer and 'wait' a number") from None
        version, state = self.classroom.store.follow_state()
        if version <= after and wait > 0:
            self.classroom.followers += 1
            try:
                await self.classroom.follow_changed.wait(timeout=time.time() + wait)
            finally:
                self.classroom.followers -= 1
            version, state = self.classroom.store.follow_state()
        answer: dict[str, Any] = {"version": version, "state": state}
        if self.instructor:  # how many students wait for the next move
            answer["followers"] = self.classroom.followers
        self.send(answer)

    def put(self) -> None:
        self.require_instructor()
        state = self.body().get("state")
        if not isinstance(state, dict):
            raise ApiError(400, "publish needs {'state': {...}}")
        version = self.classroom.store.publish_follow(state)
        self.classroom.follow_changed.notify_all()
        self.send({"version": version})


class NotFoundHandler(ApiHandler):
    public = True

    def prepare(self) -> None:  # type: ignore[override]
        raise ApiError(404, f"no such route: {self.request.path}")


class HomeHandler(ApiHandler):
    """A browser's page (HubOAuth login): who you are here and, for instructors, the export."""

    public = True

    async def get(self) -> None:
        model = await self.hub_auth.get_user(self, sync=False)
        if not model:
            self.redirect(self.get_login_url())
            return
        name = model["name"]
        role = ("instructor" if self.classroom.admin_scope in model.get("scopes", ())
                else "student")
        self.set_header("Content-Type", "text/html; charset=utf-8")
        link = ('<p><a href="api/export?format=csv">Download every vote (CSV)</a></p>'
                if role == "instructor" else "")
        self.finish(f"<!doctype html><title>{html.escape(self.classroom.name)}</title>"
                    f"<h1>Classroom</h1><p>Signed in as <b>{html.escape(name)}</b> ({role}).</p>"
                    f"{link}")


def make_app(store: Store, *, name: str | None = None,
             prefix: str | None = None) -> web.Application:
    """The service's Tornado application, routes under the Hub's service ``prefix``."""
    name = name or os.environ.get("JUPYTERHUB_SERVICE_NAME", "classroom")
    prefix = prefix or os.environ.get("JUPYTERHUB_SERVICE_PREFIX", f"/services/{name}/")
    classroom = Classroom(store, name)
    args = {"classroom": classroom}
    routes: list[Any] = [
        (prefix, HomeHandler, args),
        (prefix + "health", HealthHandler, args),
        (prefix + "oauth_callback", HubOAuthCallbackHandler),
        (prefix + "api/me", MeHandler, args),
        (prefix + "api/export", ExportHandler, args),
        (prefix + "api/follow", FollowHandler, args),
        (prefix + r"api/polls/([^/]+)", PollHandler, args),
        (prefix + r"api/polls/([^/]+)/vote", VoteHandler, args),
        (prefix + r"api/polls/([^/]+)/(open|close|reveal|reset)", RoundHandler, args),
        (prefix + r"api/polls/([^/]+)/results", ResultsHandler, args),
    ]
    settings: dict[str, Any] = {
        "cookie_secret": os.urandom(32),
        "default_handler_class": NotFoundHandler,
        "default_handler_args": args,
    }
    app = web.Application(routes, **settings)
    app.classroom = classroom  # type: ignore[attr-defined]
    return app


def main(argv: Sequence[str] | None = None) -> None:
    """Serve the classroom at the URL the Hub gave (``$JUPYTERHUB_SERVICE_URL``)."""
    parser = argparse.ArgumentParser(prog="python -m kit.classroom.service",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--db", default=os.environ.get("KIT_CLASSROOM_DB",
                                                       "sqlite:///classroom.sqlite"),
                        help="SQLAlchemy database URL (default: sqlite:///classroom.sqlite)")
    parser.add_argument("--cache-max-age", type=int, default=MAX_CACHE_AGE,
                        help=f"seconds a token's identity is trusted (at most {MAX_CACHE_AGE})")
    parser.add_argument("--ip", default="", help="the address to listen on (default: the host "
                        "of $JUPYTERHUB_SERVICE_URL; 0.0.0.0 when the proxy runs elsewhere)")
    args = parser.parse_args(argv)
    if not 0 <= args.cache_max_age <= MAX_CACHE_AGE:
        parser.error(f"--cache-max-age must be between 0 and {MAX_CACHE_AGE}")
    logging.basicConfig(level=logging.INFO, format="[classroom %(asctime)s] %(message)s")
    from urllib.parse import urlparse

    url = urlparse(os.environ.get("JUPYTERHUB_SERVICE_URL", "http://127.0.0.1:10101"))
    store = Store(args.db)
    # The handlers' HubOAuth is this singleton: made here, with the shorter cache.
    HubOAuth.instance(cache_max_age=args.cache_max_age)
    app = make_app(store)
    server = httpserver.HTTPServer(app, xheaders=True, max_body_size=1024 * 1024)
    server.listen(url.port or 80, args.ip or url.hostname or "127.0.0.1")
    log.info("serving %s on %s:%s, database %s", app.classroom.name,  # type: ignore[attr-defined]
             url.hostname, url.port, store.engine.url.render_as_string(hide_password=True))
    try:
        ioloop.IOLoop.current().start()
    finally:
        store.close()


if __name__ == "__main__":
    main()
