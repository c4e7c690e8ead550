"""A throwaway PostgreSQL server for tests: Debian's ``postgresql`` binaries, run as an
unprivileged user in a temporary folder, listening on a free loopback port and a socket in
that folder, stopped (by its pid file) and removed afterwards.

initdb refuses to run as root: as root the server runs as the ``postgres`` system user that
Debian's package creates (``runuser``), otherwise as whoever runs the tests.  Each test gets
its own database (``new_database``), so the tests share one server but no tables.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

#: Debian's PostgreSQL server binaries, one folder per installed major version.
BINARIES = sorted(glob.glob("/usr/lib/postgresql/*/bin"))


def unavailable() -> str:
    """Why PostgreSQL tests cannot run here, or "" when they can."""
    if not BINARIES:
        return ("PostgreSQL's server is not installed (scripts/setup.sh installs Debian's "
                "postgresql)")
    if os.geteuid() == 0 and not _user_exists("postgres"):
        return "running as root without the postgres system user to run the server as"
    try:
        import psycopg  # noqa: F401
    except ImportError:
        return "psycopg is not installed (the [dev] extra installs it)"
    return ""


def _user_exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class PostgresServer:
    folder: Path
    port: int

    @property
    def admin_url(self) -> str:
        return f"postgresql://kit@127.0.0.1:{self.port}/postgres"

    def new_database(self) -> str:
        """A new empty database; its SQLAlchemy URL."""
        import psycopg

        name = f"t_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return f"postgresql+psycopg://kit@127.0.0.1:{self.port}/{name}"


def _as_server_user(command: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


@contextmanager
def postgres_server() -> Iterator[PostgresServer]:
    """Start a server (initdb, pg_ctl start), yield it, stop it and remove its files."""
    bin_dir = Path(BINARIES[-1])
    folder = Path(tempfile.mkdtemp(prefix="kit-pg-"))
    data = folder / "data"
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres", "postgres")
    port = _free_port()
    log = folder / "server.log"
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.PIPE, "check": True}
    try:
        subprocess.run(_as_server_user([str(bin_dir / "initdb"), "-D", str(data), "-U", "kit",
                                        "-A", "trust", "--no-sync", "-E", "UTF8"]), **quiet)
        subprocess.run(_as_server_user([
            str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(log), "-w", "-t", "60",
            "-o", f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c fsync=off",
            "start"]), **quiet)
        yield PostgresServer(folder, port)
    finally:
        if (data / "postmaster.pid").exists():
            subprocess.run(_as_server_user([str(bin_dir / "pg_ctl"), "-D", str(data), "-m",
                                            "immediate", "-w", "stop"]),
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
        shutil.rmtree(folder, ignore_errors=True)
