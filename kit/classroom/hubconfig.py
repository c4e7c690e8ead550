"""What a ``jupyterhub_config.py`` needs to run the classroom service: ``add_classroom(c, ...)``.

The permission model (held in every check of ``tests/test_classroom_hub.py``):

- the service is Hub-managed (``c.JupyterHub.services``): the Hub starts it, restarts it and
  proxies it at ``/services/<name>/``;
- a custom scope ``custom:<name>:admin`` marks instructors; the role ``<name>-instructor`` gives
  it, with the access scope, to the group ``instructors``;
- every user gets ``access:services!service=<name>`` (``extra_user_scopes``, JupyterHub >= 6);
- each server's ``$JUPYTERHUB_API_TOKEN`` asks for the access and the admin scope: the Hub
  grants each user the subset they hold, so an instructor's kernel can open rounds and a
  student's cannot;
- the service's public URL reaches every kernel as ``$KIT_CLASSROOM_URL``.

An existing Hub adds, with the kit installed where the Hub runs::

    from kit.classroom.hubconfig import add_classroom
    add_classroom(c, instructors=["alice"], db_url="sqlite:////srv/jupyterhub/classroom.sqlite")
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from typing import Any

__all__ = ["INSTRUCTORS_GROUP", "add_classroom", "access_scope", "admin_scope"]

INSTRUCTORS_GROUP = "instructors"


def access_scope(name: str) -> str:
    """The scope a token needs to call the service at all."""
    return f"access:services!service={name}"


def admin_scope(name: str) -> str:
    """The scope that makes a caller an instructor of the service."""
    return f"custom:{name}:admin"


def add_classroom(c: Any, *, instructors: Iterable[str] = (), name: str = "classroom",
                  port: int = 10101, host: str = "127.0.0.1",
                  db_url: str = "sqlite:///classroom.sqlite",
                  public_url: str | None = None, python: str | None = None,
                  cache_max_age: int = 60) -> None:
    """Configure the Hub config object ``c`` to run the classroom service for a class.

    ``instructors`` join the group that holds the admin scope (more can be added later in the
    Hub's admin page); ``port`` is where the service listens, ``host`` the name the proxy
    reaches it by (the Hub's own host by default; on Kubernetes the hub pod's service name,
    ``"hub"``, and the service then listens on every interface); ``db_url`` is an
    SQLAlchemy URL (SQLite file relative to the Hub's directory by default, or PostgreSQL);
    ``public_url`` is the Hub's URL as kernels reach it (default: the Hub's bind URL);
    ``python`` runs the service (default: this interpreter, which has the kit).
    """
    access, admin = access_scope(name), admin_scope(name)
    service = {
        "name": name,
        "url": f"http://{host}:{port}",
        "command": [python or sys.executable, "-m", "kit.classroom.service",
                    "--db", db_url, "--cache-max-age", str(cache_max_age)]
                   + ([] if host in ("127.0.0.1", "localhost") else ["--ip", "0.0.0.0"]),
        "oauth_no_confirm": True,
        "oauth_client_allowed_scopes": [admin],
        "display": True,
    }
    c.JupyterHub.services = [*_listed(c.JupyterHub, "services"), service]
    custom = dict(_dict(c.JupyterHub, "custom_scopes"))
    custom[admin] = {"description": f"Run the {name} service's polls: open and close rounds, "
                                    "read results, export votes, publish the follow state."}
    c.JupyterHub.custom_scopes = custom
    c.JupyterHub.load_roles = [*_listed(c.JupyterHub, "load_roles"), {
        "name": f"{name}-instructor",
        "description": f"Instructors of the {name} service",
        "scopes": [admin, access],
        "groups": [INSTRUCTORS_GROUP],
    }]
    groups = dict(_dict(c.JupyterHub, "load_groups"))
    members = groups.get(INSTRUCTORS_GROUP, {})
    members = {"users": list(members)} if isinstance(members, list) else dict(members)
    members["users"] = sorted({*members.get("users", []), *instructors})
    groups[INSTRUCTORS_GROUP] = members
    c.JupyterHub.load_groups = groups
    c.JupyterHub.extra_user_scopes = {*_listed(c.JupyterHub, "extra_user_scopes"), access}
    token_scopes = _listed(c.Spawner, "server_token_scopes") or [
        "users:activity!user", "access:servers!server"]
    c.Spawner.server_token_scopes = sorted({*token_scopes, access, admin})
    base = (public_url or _bind_url(c)).rstrip("/")
    environment = dict(_dict(c.Spawner, "environment"))
    environment["KIT_CLASSROOM_URL"] = f"{base}/services/{name}/"
    c.Spawner.environment = environment


def _bind_url(c: Any) -> str:
    bind = c.JupyterHub.get("bind_url") if "bind_url" in c.JupyterHub else None
    return str(bind or "http://127.0.0.1:8000")


def _listed(section: Any, key: str) -> list[Any]:
    return list(section[key]) if key in section else []


def _dict(section: Any, key: str) -> dict[str, Any]:
    return dict(section[key]) if key in section else {}
