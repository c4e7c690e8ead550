"""The classroom service's client: what a student's or the presenter's kernel calls.

Standard library only (``urllib``), so the widgets can use it wherever the kit runs.  Inside a
JupyterHub the kernel's environment says everything: ``KIT_CLASSROOM_URL`` (set by the Hub's
``Spawner.environment``, see ``kit.classroom.hubconfig``) is where the service is, and
``JUPYTERHUB_API_TOKEN`` is the server's own token, which the service turns into the user.  A
kernel without them (a laptop, nbval, JupyterLite) gets ``None`` from ``from_env`` and the
widgets fall back to their self-check form.

Every call returns the service's JSON; an error answer raises ``ClassroomError`` with the HTTP
status and the service's one-line message, an unreachable service ``ClassroomUnavailable``.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from typing import Any

from ..core.errors import KitError

__all__ = ["TOKEN_VARIABLE", "URL_VARIABLE", "ClassroomClient", "ClassroomError",
           "ClassroomUnavailable"]

URL_VARIABLE = "KIT_CLASSROOM_URL"
TOKEN_VARIABLE = "JUPYTERHUB_API_TOKEN"


class ClassroomError(KitError):
    """The service refused a request: ``status`` is its HTTP status, the text its reason."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"classroom service: {message} (HTTP {status})")
        self.status = status
        self.reason = message


class ClassroomUnavailable(ClassroomError):
    """The service could not be reached (not running, wrong URL, network)."""

    def __init__(self, message: str) -> None:
        super().__init__(0, message)


class ClassroomClient:
    """Calls to one classroom service as one user (the owner of ``token``)."""

    def __init__(self, url: str, token: str, *, timeout: float = 10.0) -> None:
        self.url = url if url.endswith("/") else url + "/"
        self.token = token
        self.timeout = timeout

    def __repr__(self) -> str:
        return f"ClassroomClient({self.url!r})"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> ClassroomClient | None:
        """The client this kernel's environment describes, or None outside a classroom Hub."""
        environ = os.environ if environ is None else environ
        url, token = environ.get(URL_VARIABLE, ""), environ.get(TOKEN_VARIABLE, "")
        if not url or not token:
            return None
        return cls(url, token)

    def request(self, method: str, path: str, body: Any = None, *,
                query: Mapping[str, Any] | None = None, timeout: float | None = None) -> Any:
        """One call: ``method`` on ``path`` (under the service URL) with a JSON ``body``."""
        url = self.url + path.lstrip("/")
        if query:
            url += "?" + urllib.parse.urlencode(query)
        data = None if body is None else json.dumps(body).encode()
        headers = {"Authorization": f"token {self.token}", "Accept": "application/json"}
        if data is not None:
            headers["Content-Type"] = "application/json"
        req = urllib.request.Request(url, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=timeout or self.timeout) as answer:
                payload = answer.read()
        except urllib.error.HTTPError as error:
            raise ClassroomError(error.code, _reason(error)) from None
        except (urllib.error.URLError, OSError) as error:
            reason = getattr(error, "reason", error)
            raise ClassroomUnavailable(f"cannot reach {self.url}: {reason}") from None
        return json.loads(payload) if payload else None

    # -- anyone in the class ----------------------------------------------------------------

    def me(self) -> dict[str, Any]:
        """Who the service takes this token for: ``{"name": ..., "instructor": bool}``."""
        result: dict[str, Any] = self.request("GET", "api/me")
        return result

    def poll(self, poll_id: str) -> dict[str, Any]:
        """The poll as this user may see it: rounds, their votes, the revealed histograms."""
        result: dict[str, Any] = self.request("GET", f"api/polls/{_quote(poll_id)}")
        return result

    def vote(self, poll_id: str, choice: int) -> dict[str, Any]:
        """Vote (or change the vote) in the open round; ``choice`` in the authored order."""
        result: dict[str, Any] = self.request(
            "PUT", f"api/polls/{_quote(poll_id)}/vote", {"choice": choice})
        return result

    def follow(self, after: int = 0, *, wait: float = 0) -> dict[str, Any]:
        """The presenter's position; with ``wait``, hold until a version newer than ``after``."""
        result: dict[str, Any] = self.request(
            "GET", "api/follow", query={"after": after, "wait": wait},
            timeout=self.timeout + wait)
        return result

    # -- the instructor ---------------------------------------------------------------------

    def open_round(self, poll_id: str, *, reveal: bool | None = None) -> dict[str, Any]:
        """Open the poll's next round (round 1's histogram hidden from students unless
        ``reveal``)."""
        body = {} if reveal is None else {"reveal": reveal}
        result: dict[str, Any] = self.request("POST", f"api/polls/{_quote(poll_id)}/open", body)
        return result

    def close_round(self, poll_id: str) -> dict[str, Any]:
        """Close the open round: later votes are refused."""
        result: dict[str, Any] = self.request("POST", f"api/polls/{_quote(poll_id)}/close", {})
        return result

    def reveal(self, poll_id: str, round_number: int, reveal: bool = True) -> dict[str, Any]:
        """Show (or hide) one round's histogram to the students."""
        result: dict[str, Any] = self.request(
            "POST", f"api/polls/{_quote(poll_id)}/reveal",
            {"round": round_number, "reveal": reveal})
        return result

    def reset(self, poll_id: str) -> None:
        """Forget the poll's rounds and votes (export them first)."""
        self.request("POST", f"api/polls/{_quote(poll_id)}/reset", {})

    def results(self, poll_id: str) -> dict[str, Any]:
        """Both rounds' histograms, answered and present counts, suggested discussion pairs."""
        result: dict[str, Any] = self.request("GET", f"api/polls/{_quote(poll_id)}/results")
        return result

    def export(self) -> list[dict[str, Any]]:
        """Every vote, one row per student, poll and round."""
        rows: list[dict[str, Any]] = self.request("GET", "api/export")["votes"]
        return rows

    def publish(self, state: Mapping[str, Any]) -> int:
        """Publish where the presenter is (lesson, section, a widget's state); its version."""
        version: int = self.request("PUT", "api/follow", {"state": dict(state)})["version"]
        return version


def _quote(part: str) -> str:
    return urllib.parse.quote(part, safe="")


def _reason(error: urllib.error.HTTPError) -> str:
    try:
        message = json.loads(error.read()).get("message")
    except (ValueError, AttributeError, OSError):
        message = None
    return str(message or error.reason)
