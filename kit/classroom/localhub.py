"""A whole classroom Hub on one machine: JupyterHub, its proxy and the classroom service.

``scripts/classroom.sh`` runs one for a class (``python -m kit.classroom.localhub``), the tests
and the bench run one on free loopback ports.  The Hub runs in its own process group and starts
the proxy (configurable-http-proxy, from npm: ``scripts/setup.sh`` puts it in ``.venv/node``)
and the service; ``stop()`` sends SIGTERM to the Hub and then SIGKILL, by pid, to every
process it had started that is still alive, so nothing outlives a test.

Students log in with the class's shared password (JupyterHub's ``shared-password``
authenticator); their servers run as the Hub's own user (``SimpleLocalProcessSpawner``), each in
``<workdir>/home/<name>`` with a copy of the lessons.  A Hub for real accounts keeps its own
authenticator and spawner and adds the service with ``kit.classroom.hubconfig.add_classroom``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from ..core.errors import KitError
from .hubconfig import access_scope, add_classroom, admin_scope

__all__ = ["ADMIN_SERVICE", "HubStartError", "LocalHub", "configure_local", "free_port",
           "main", "process_running", "proxy_command"]

#: The helper service whose token creates users' tokens and starts servers (tests, demo).
ADMIN_SERVICE = "kit-classroom-admin"
REPO = Path(__file__).resolve().parents[2]


class HubStartError(KitError):
    """The Hub, its proxy or the service did not come up."""


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def proxy_command() -> str:
    """configurable-http-proxy: the venv's copy (scripts/setup.sh), else the one on PATH."""
    local = Path(sys.prefix) / "node" / "node_modules" / ".bin" / "configurable-http-proxy"
    if local.exists():
        return str(local)
    found = shutil.which("configurable-http-proxy")
    if found is None:
        raise HubStartError("configurable-http-proxy is not installed: run scripts/setup.sh "
                            "(it installs it from npm into .venv/node)")
    return found


def configure_local(c: Any, settings: dict[str, Any]) -> None:
    """The Hub configuration of a ``LocalHub`` (its generated config file calls this)."""
    workdir = Path(settings["workdir"])
    c.JupyterHub.ip = "127.0.0.1"
    c.JupyterHub.port = settings["port"]
    c.JupyterHub.hub_ip = "127.0.0.1"
    c.JupyterHub.hub_port = settings["hub_port"]
    c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{settings['proxy_api_port']}"
    c.ConfigurableHTTPProxy.command = [settings["proxy"]]
    c.ConfigurableHTTPProxy.pid_file = str(workdir / "proxy.pid")
    c.JupyterHub.db_url = f"sqlite:///{workdir / 'jupyterhub.sqlite'}"
    c.JupyterHub.cookie_secret_file = str(workdir / "jupyterhub_cookie_secret")
    c.JupyterHub.authenticator_class = "shared-password"
    c.SharedPasswordAuthenticator.user_password = settings["password"]
    c.Authenticator.allowed_users = set(settings["students"]) | set(settings["instructors"])
    c.JupyterHub.spawner_class = "simple"
    c.SimpleLocalProcessSpawner.home_dir_template = str(workdir / "home" / "{username}")
    c.Spawner.cmd = [str(Path(sys.executable).with_name("jupyterhub-singleuser"))]
    # ipc: many kernels starting at once over TCP collide on ports ("Address already in use").
    c.Spawner.args = ["--KernelManager.transport=ipc"] + (
        ["--ServerApp.allow_root=True"] if os.geteuid() == 0 else []) + settings.get(
        "server_args", [])
    c.Spawner.default_url = "/lab"
    c.Spawner.http_timeout = 120
    c.JupyterHub.services = [{"name": ADMIN_SERVICE, "api_token": settings["admin_token"]}]
    c.JupyterHub.load_roles = [{
        "name": ADMIN_SERVICE,
        "scopes": ["admin:users", "admin:servers", "tokens", "list:users"],
        "services": [ADMIN_SERVICE],
    }]
    add_classroom(c, instructors=settings["instructors"], port=settings["service_port"],
                  db_url=settings["db_url"], public_url=f"http://127.0.0.1:{settings['port']}")
    environment = dict(c.Spawner.environment)
    # ipc sockets live in the runtime dir, and a socket path over 107 bytes fails: keep it
    # short whatever the home's path (the kernel then never starts).
    environment["JUPYTER_RUNTIME_DIR"] = partial(_runtime_dir, settings["port"])
    environment.update(settings.get("environment", {}))
    c.Spawner.environment = environment
    c.Spawner.pre_spawn_hook = _copy_lessons


#: The longest path of a unix socket (``sockaddr_un.sun_path``, less its NUL byte).
IPC_PATH_MAX = 107
#: What jupyter_client appends to the runtime folder for a kernel's ipc socket.
IPC_SOCKET_NAME = "/kernel-00000000-0000-0000-0000-000000000000-ipc-9"


def _runtime_dir(port: int, spawner: Any) -> str:
    """A user's Jupyter runtime folder, where their kernels' ipc sockets go: short enough for
    a socket path whatever the user's name and the temporary folder.  Named by a digest of the
    name (a name can be long: an e-mail address, 33 characters, made the socket paths under
    /tmp 108 bytes), under the temporary folder, or under /tmp where that folder's own path
    is too long (a TMPDIR of 33 characters left a 7-letter name's kernels unstartable)."""
    name = hashlib.sha256(spawner.user.name.encode()).hexdigest()[:16]
    for root in _runtime_roots(port):
        folder = os.path.join(root, name)
        if len(os.fsencode(folder + IPC_SOCKET_NAME)) <= IPC_PATH_MAX:
            break
    return folder


def _runtime_roots(port: int) -> list[str]:
    """Where the runtime folders of the Hub on ``port`` go: under the temporary folder, else
    (a path too long for a socket) under /tmp; ``stop()`` removes them."""
    return [os.path.join(base, f"kit-classroom-{port}")
            for base in dict.fromkeys((tempfile.gettempdir(), "/tmp"))]


def _copy_lessons(spawner: Any) -> None:
    """Give each student a fresh copy of the lessons in their home, the first time only."""
    home = Path(spawner.home_dir)
    lessons = home / "notebooks"
    if not lessons.exists() and (REPO / "notebooks").is_dir():
        shutil.copytree(REPO / "notebooks", lessons)


CONFIG = """\
# Generated by kit.classroom.localhub: the Hub of one classroom machine.
import json
from kit.classroom.localhub import configure_local
configure_local(c, json.load(open({settings!r})))
"""


@dataclass
class LocalHub:
    """A Hub with the classroom service, on loopback ports, its files in ``workdir``."""

    workdir: Path
    students: Sequence[str] = ()
    instructors: Sequence[str] = ("instructor",)
    port: int = 0
    db_url: str = ""
    environment: dict[str, str] = field(default_factory=dict)
    server_args: list[str] = field(default_factory=list)
    password: str = field(default_factory=lambda: secrets.token_urlsafe(9))
    name: str = "classroom"
    process: subprocess.Popen[bytes] | None = field(default=None, init=False)
    admin_token: str = field(default_factory=lambda: secrets.token_hex(24), init=False)
    port_was_free: bool = field(default=False, init=False)

    def __post_init__(self) -> None:
        self.workdir = Path(self.workdir).resolve()
        self.port_was_free = not self.port
        self.port = self.port or free_port()
        self.db_url = self.db_url or f"sqlite:///{self.workdir / 'classroom.sqlite'}"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def service_url(self) -> str:
        return f"{self.url}/services/{self.name}/"

    def start(self, timeout: float = 90, attempts: int = 3) -> None:
        """Start the Hub and wait until its API and the service's health route answer.

        The free ports are picked before the Hub binds them, seconds later; when another
        program took one meanwhile the Hub exits, and the start is tried again on new ports.
        """
        for attempt in range(1, attempts + 1):
            try:
                self._start_once(timeout)
                return
            except HubStartError:
                log = (self.workdir / "jupyterhub.log").read_text(errors="replace")
                lost_port = "Failed to bind" in log or "EADDRINUSE" in log
                self.stop()
                if not lost_port or attempt == attempts:
                    raise
                (self.workdir / "jupyterhub.log").rename(
                    self.workdir / f"jupyterhub-attempt{attempt}.log")
                if self.port_was_free:
                    self.port = free_port()

    def _start_once(self, timeout: float) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        settings = {
            "workdir": str(self.workdir), "port": self.port, "hub_port": free_port(),
            "proxy_api_port": free_port(), "service_port": free_port(),
            "proxy": proxy_command(), "password": self.password,
            "students": list(self.students), "instructors": list(self.instructors),
            "admin_token": self.admin_token, "db_url": self.db_url,
            "environment": self.environment, "server_args": self.server_args,
        }
        settings_path = self.workdir / "classroom-settings.json"
        settings_path.write_text(json.dumps(settings))
        settings_path.chmod(0o600)
        config = self.workdir / "jupyterhub_config.py"
        config.write_text(CONFIG.format(settings=str(settings_path)))
        log = open(self.workdir / "jupyterhub.log", "ab")
        hub = Path(sys.executable).with_name("jupyterhub")
        self.process = subprocess.Popen(
            [str(hub), "-f", str(config)], cwd=self.workdir, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
        log.close()
        deadline = time.monotonic() + timeout
        for url in (f"{self.url}/hub/api/", f"{self.service_url}health"):
            while not _answers(url):
                if self.process.poll() is not None:
                    raise HubStartError(f"the Hub exited with {self.process.returncode}: "
                                        f"see {self.workdir / 'jupyterhub.log'}")
                if time.monotonic() > deadline:
                    raise HubStartError(f"{url} did not answer within {timeout:.0f} s: see "
                                        f"{self.workdir / 'jupyterhub.log'}")
                time.sleep(0.2)

    def stop(self, grace: float = 15) -> None:
        """SIGTERM to the Hub (``grace`` seconds to stop its servers, service and proxy), then
        SIGKILL by pid to whatever it started that is left (the proxy too when the Hub died
        before it could stop it); then, when the Hub was running and nothing of it is left,
        the users' runtime folders in the temporary folder are removed."""
        started = [] if self.process is None else _descendants(self.process.pid)
        # A Hub that died by itself may have left its servers running (no longer its
        # descendants): their kernels' runtime folders are then kept.
        clean = self.process is not None and self.process.poll() is None
        if self.process is not None and clean:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        proxy = _pid_in(self.workdir / "proxy.pid", "configurable-http-proxy")
        leftover = [*started, *([proxy] if proxy else [])]
        for pid in leftover:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + 10
        while any(process_running(pid) for pid in leftover) and time.monotonic() < deadline:
            time.sleep(0.05)  # a killed process takes a moment to go
        if clean and not any(process_running(pid) for pid in leftover):
            self._remove_runtime_folders()  # no kernel of this Hub is left to use them
        self.process = None

    def _remove_runtime_folders(self) -> None:
        """Remove the users' runtime folders (their kernels' sockets and connection files),
        which would otherwise stay in the temporary folder after the class; say which could
        not be removed."""
        roots = _runtime_roots(self.port)
        for root in roots:
            shutil.rmtree(root, ignore_errors=True)
        left = [root for root in roots if os.path.lexists(root)]
        if left:
            print(f"kit.classroom: could not remove {', '.join(left)} (the users' runtime "
                  "folders)", file=sys.stderr)

    def __enter__(self) -> LocalHub:
        self.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    def pids(self) -> dict[str, int]:
        """The pids of the Hub, its proxy and the classroom service (for memory figures)."""
        if self.process is None:
            return {}
        found = {"hub": self.process.pid}
        for pid in _descendants(self.process.pid):
            cmdline = _cmdline(pid)
            if "kit.classroom.service" in cmdline:
                found["service"] = pid
            elif "configurable-http-proxy" in cmdline:
                found["proxy"] = pid
        return found

    # -- the Hub's REST API, as the admin helper service -----------------------------------

    def api(self, method: str, path: str, body: Any = None) -> Any:
        """One call of the Hub's REST API with the admin helper's token."""
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(
            f"{self.url}/hub/api/{path.lstrip('/')}", data=data, method=method,
            headers={"Authorization": f"token {self.admin_token}",
                     "Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=30) as answer:
            payload = answer.read()
        return json.loads(payload) if payload else None

    def start_servers(self, users: Iterable[str], timeout: float = 300) -> dict[str, str]:
        """Start these users' JupyterLab servers (as the Hub does at login), all at once; the
        URL of each."""
        users = list(users)
        for user in users:
            try:
                self.api("POST", f"users/{user}/server")
            except urllib.error.HTTPError as error:
                if error.code != 400:  # 400: already running or pending
                    raise
        deadline = time.monotonic() + timeout
        ready: dict[str, str] = {}
        while len(ready) < len(users):
            for user in users:
                if user in ready:
                    continue
                server = self.api("GET", f"users/{user}").get("servers", {}).get("", {})
                if server.get("ready"):
                    ready[user] = f"{self.url}{server['url']}"
                elif not server:
                    raise HubStartError(f"{user}'s server failed to start: see "
                                        f"{self.workdir / 'jupyterhub.log'}")
            if time.monotonic() > deadline:
                raise HubStartError(f"servers not ready within {timeout:.0f} s: "
                                    f"{sorted(set(users) - set(ready))}")
            time.sleep(0.5)
        return ready

    def token(self, user: str, scopes: Iterable[str] | None = None) -> str:
        """A new API token of ``user``, with the scopes a kernel of theirs would have.

        By default: the access scope, and for an instructor the admin scope too (what
        ``Spawner.server_token_scopes`` gives their server).
        """
        if scopes is None:
            scopes = [access_scope(self.name)]
            if user in self.instructors:
                scopes.append(admin_scope(self.name))
        answer = self.api("POST", f"users/{user}/tokens",
                          {"scopes": list(scopes), "note": "kit.classroom.localhub"})
        token: str = answer["token"]
        return token


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as answer:
            return bool(answer.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        tree.setdefault(ppid, []).append(int(entry.name))
    return tree


def _descendants(pid: int) -> list[int]:
    """Every process below ``pid`` now, children first."""
    tree, found, todo = _children(), [], [pid]
    while todo:
        for child in tree.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def process_running(pid: int) -> bool:
    """Whether ``pid`` is a process that has not ended (a zombie has ended)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _pid_in(pid_file: Path, program: str) -> int | None:
    """The pid a pid file names, if that process is still ``program`` (not a reused pid)."""
    try:
        pid = int(pid_file.read_text().strip())
    except (OSError, ValueError):
        return None
    return pid if program in _cmdline(pid) else None


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def main(argv: Sequence[str] | None = None) -> int:
    """``scripts/classroom.sh``: run a classroom Hub until Ctrl-C."""
    parser = argparse.ArgumentParser(prog="scripts/classroom.sh",
                                     description="Start a classroom Hub on this machine.")
    who = parser.add_mutually_exclusive_group(required=True)
    who.add_argument("--class-list", type=Path, metavar="FILE",
                     help="one user name a line; 'name instructor' marks an instructor")
    who.add_argument("--demo", type=int, metavar="N", help="N local test students "
                     "(student01...), instructor 'instructor'")
    parser.add_argument("--port", type=int, default=8000, help="the Hub's port (default 8000)")
    parser.add_argument("--dir", type=Path, default=Path("classroom-hub"),
                        help="where the Hub keeps its database and logs (default classroom-hub)")
    parser.add_argument("--db", default="", help="SQLAlchemy URL of the classroom database "
                        "(default: SQLite in --dir)")
    parser.add_argument("--start-servers", action="store_true",
                        help="start every student's server now instead of at their login")
    parser.add_argument("--password", default="", help="the class's shared password "
                        "(default: a random one, printed)")
    args = parser.parse_args(argv)
    if args.demo is not None:
        if not 1 <= args.demo <= 500:
            parser.error("--demo takes a number of students between 1 and 500")
        students = [f"student{i:02d}" for i in range(1, args.demo + 1)]
        instructors = ["instructor"]
    else:
        students, instructors = read_class_list(args.class_list, parser)
    if args.password and len(args.password) < 8:
        parser.error("--password needs at least 8 characters (JupyterHub's rule)")
    hub = LocalHub(args.dir, students, instructors, port=args.port, db_url=args.db,
                   **({"password": args.password} if args.password else {}))
    print(f"classroom: starting JupyterHub in {hub.workdir} (log: jupyterhub.log)", flush=True)
    # A SIGTERM (kill, a service manager) stops the Hub's processes too, as Ctrl-C does.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        hub.start()
        if args.start_servers:
            print(f"classroom: starting {len(students) + len(instructors)} servers", flush=True)
            hub.start_servers([*instructors, *students])
        print(f"""
classroom: ready.
  Hub (students and instructor log in here):  {hub.url}/hub/login
  Classroom service:                          {hub.service_url}
  Votes as CSV (instructors, in a browser):   {hub.service_url}api/export?format=csv
  Instructors: {', '.join(instructors)}
  Students:    {len(students)} ({', '.join(students[:3])}{', ...' if len(students) > 3 else ''})
  Password:    {hub.password}
Ctrl-C stops the Hub, the proxy, the service and every student's server.""", flush=True)
        while hub.process is not None and hub.process.poll() is None:
            time.sleep(1)
    except HubStartError as error:
        print(f"classroom: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\nclassroom: stopping", flush=True)
    finally:
        hub.stop()
    return 0


def read_class_list(path: Path, parser: argparse.ArgumentParser) -> tuple[list[str], list[str]]:
    """Students and instructors of a class list: one name a line, 'name instructor' marks one."""
    try:
        lines = path.read_text().splitlines()
    except OSError as error:
        parser.error(f"cannot read the class list {path}: {error.strerror}")
    students: list[str] = []
    instructors: list[str] = []
    for number, line in enumerate(lines, 1):
        words = line.split("#", 1)[0].split()
        if not words:
            continue
        if len(words) > 2 or (len(words) == 2 and words[1] != "instructor"):
            parser.error(f"{path}:{number}: expected 'name' or 'name instructor', got {line!r}")
        (instructors if len(words) == 2 else students).append(words[0])
    if not instructors:
        parser.error(f"{path}: no instructor (mark one: 'name instructor')")
    return students, instructors


if __name__ == "__main__":
    sys.exit(main())
