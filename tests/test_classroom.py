"""The classroom's parts without a Hub: the poll rules, the store, the client, the Hub config.

(The service behind a real Hub and proxy is ``tests/test_classroom_hub.py``.)
"""

from __future__ import annotations

import argparse
import os
import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from traitlets.config import Config

from kit.classroom.client import ClassroomClient, ClassroomUnavailable
from kit.classroom.hubconfig import add_classroom
from kit.classroom.polls import (
    Conflict,
    InvalidRequest,
    UnknownPoll,
    choice_index,
    histogram,
    poll_question,
    reveal_by_default,
    suggest_pairs,
)

if TYPE_CHECKING:
    from kit.classroom.store import Store


def store_class() -> type[Store]:
    """The store, imported by the tests that use it: it imports SQLAlchemy (~0.4 CPU-s), which
    every pytest worker would otherwise import to collect this module."""
    return pytest.importorskip("kit.classroom.store", reason="needs the [classroom] extra").Store


# -- rules --------------------------------------------------------------------------------


def test_polls_are_the_lessons_questions() -> None:
    assert poll_question("03-head-or-tail").id == "03-head-or-tail"
    with pytest.raises(UnknownPoll, match="no poll named 'nope'"):
        poll_question("nope")


@pytest.mark.parametrize("value", [3, -1, "1", 1.0, True, None])
def test_a_choice_is_an_integer_position(value: object) -> None:
    with pytest.raises(InvalidRequest, match="'choice' must be"):
        choice_index(value, 3)


def test_histogram_and_reveal() -> None:
    assert choice_index(2, 3) == 2
    assert histogram([0, 2, 2, 1, 2], 3) == [1, 1, 3]
    assert (reveal_by_default(1), reveal_by_default(2)) == (False, True)


def test_pairs_join_different_answers_as_far_as_the_votes_allow() -> None:
    votes = {"ann": 0, "bob": 0, "cat": 1, "dan": 2, "eve": 0, "fay": 1}
    pairing = suggest_pairs(votes)
    assert pairing.unpaired == ()
    assert sorted(n for pair in pairing.pairs for n in pair) == sorted(votes)
    assert all(votes[a] != votes[b] for a, b in pairing.pairs)
    assert suggest_pairs(votes) == pairing  # deterministic

    lopsided = suggest_pairs({"a": 1, "b": 1, "c": 1, "d": 1, "e": 0})
    assert lopsided.pairs == (("a", "e"),) and lopsided.unpaired == ("b", "c", "d")
    assert suggest_pairs({}).pairs == ()


# -- the store ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def postgres():
    """One throwaway PostgreSQL server for this module's store tests (tests/postgres.py)."""
    from postgres import postgres_server, unavailable

    if unavailable():
        pytest.skip(unavailable())
    with postgres_server() as server:
        yield server


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The store's tests run on SQLite (the default) and on PostgreSQL (a database of its
    own on a throwaway server)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'classroom.sqlite'}"
    return str(request.getfixturevalue("postgres").new_database())


@pytest.fixture
def store(database_url: str) -> Store:
    made = store_class()(database_url)
    yield made
    made.close()


def test_rounds_open_one_at_a_time_and_only_twice(store: Store) -> None:
    with pytest.raises(Conflict, match="no round"):
        store.vote("q", "ann", 0)
    assert store.open_round("q").number == 1
    with pytest.raises(Conflict, match="still open"):
        store.open_round("q")
    assert store.close_round("q").open is False
    with pytest.raises(Conflict, match="no round of 'q' is open"):
        store.close_round("q")
    assert store.open_round("q", reveal=False).reveal is False
    store.close_round("q")
    with pytest.raises(Conflict, match="2 rounds"):
        store.open_round("q")
    assert store.set_reveal("q", 1, True).reveal is True
    store.reset("q")
    assert store.rounds("q") == []


def test_the_last_vote_counts_and_changes_are_counted(store: Store) -> None:
    store.open_round("q")
    store.vote("q", "ann", 0)
    store.vote("q", "bob", 1)
    store.vote("q", "ann", 2)
    assert [(v.user, v.choice, v.changes) for v in store.votes("q")] == [
        ("ann", 2, 1), ("bob", 1, 0)]
    assert [v.user for v in store.votes(user="bob")] == ["bob"]


def test_follow_state_has_versions_and_survives_a_restart(database_url: str) -> None:
    url = database_url
    first = store_class()(url)
    assert first.follow_state() == (0, {})
    assert first.publish_follow({"section": 1}) == 1
    assert first.publish_follow({"section": 2}) == 2
    first.close()
    again = store_class()(url)
    assert again.follow_state() == (2, {"section": 2})
    again.close()


def test_sqlite_runs_in_wal_mode(tmp_path: Path) -> None:
    store = store_class()(f"sqlite:///{tmp_path / 'classroom.sqlite'}")
    store.open_round("q")
    store.close()
    mode = sqlite3.connect(tmp_path / "classroom.sqlite").execute("PRAGMA journal_mode").fetchone()
    assert mode == ("wal",)


# -- the client ---------------------------------------------------------------------------


def test_the_client_comes_from_the_kernels_environment() -> None:
    assert ClassroomClient.from_env({}) is None
    assert ClassroomClient.from_env({"KIT_CLASSROOM_URL": "http://hub/services/c/"}) is None
    client = ClassroomClient.from_env({"KIT_CLASSROOM_URL": "http://hub/services/c",
                                       "JUPYTERHUB_API_TOKEN": "t"})
    assert client is not None and client.url == "http://hub/services/c/"


def test_an_unreachable_service_is_one_clear_error() -> None:
    from kit.classroom.localhub import free_port

    client = ClassroomClient(f"http://127.0.0.1:{free_port()}/services/classroom/", "t",
                             timeout=2)
    with pytest.raises(ClassroomUnavailable, match="cannot reach http://127.0.0.1"):
        client.me()


# -- the Hub's configuration --------------------------------------------------------------


def test_add_classroom_sets_the_permission_model() -> None:
    c = Config()
    c.JupyterHub.bind_url = "https://hub.example.edu"
    c.Spawner.environment = {"KEEP": "1"}
    add_classroom(c, instructors=["alice"], port=10555, db_url="postgresql+psycopg://db/class")
    (service,) = c.JupyterHub.services
    assert service["url"] == "http://127.0.0.1:10555"
    assert service["command"][-4:] == ["--db", "postgresql+psycopg://db/class",
                                       "--cache-max-age", "60"]
    assert "custom:classroom:admin" in c.JupyterHub.custom_scopes
    (role,) = c.JupyterHub.load_roles
    assert role["groups"] == ["instructors"]
    assert set(role["scopes"]) == {"custom:classroom:admin", "access:services!service=classroom"}
    assert c.JupyterHub.load_groups == {"instructors": {"users": ["alice"]}}
    assert c.JupyterHub.extra_user_scopes == {"access:services!service=classroom"}
    assert {"access:services!service=classroom", "custom:classroom:admin",
            "users:activity!user"} <= set(c.Spawner.server_token_scopes)
    assert c.Spawner.environment == {
        "KEEP": "1", "KIT_CLASSROOM_URL": "https://hub.example.edu/services/classroom/"}


def test_the_service_refuses_a_token_cache_over_60_seconds() -> None:
    service = pytest.importorskip("kit.classroom.service", reason="needs the [classroom] extra")
    with pytest.raises(SystemExit):
        service.main(["--cache-max-age", "300"])


def test_class_lists_name_their_mistakes(tmp_path: Path) -> None:
    from kit.classroom.localhub import read_class_list

    parser = argparse.ArgumentParser()
    good = tmp_path / "class.txt"
    good.write_text("# spring\nalice instructor\nbob\n\ncarol  # late\n")
    assert read_class_list(good, parser) == (["bob", "carol"], ["alice"])
    bad = tmp_path / "bad.txt"
    bad.write_text("alice teacher\n")
    with pytest.raises(SystemExit):
        read_class_list(bad, parser)


@pytest.mark.parametrize("tmpdir", ["/tmp", "/tmp/flakes/r4-head-fresh-hog/tmp"])
def test_a_users_kernel_sockets_fit_a_socket_path_whatever_the_name_and_tmpdir(
        tmpdir: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The Hub's kernels talk over ipc sockets in the user's runtime folder; a socket path
    over 107 bytes cannot be bound, and the kernel never starts.  A long user name (an e-mail
    address) under /tmp, or a short one under a long TMPDIR (a test run's: the instructor's
    kernels failed with "File name too long"), still fits; two users never share a folder."""
    from types import SimpleNamespace

    from kit.classroom import localhub

    monkeypatch.setattr(localhub.tempfile, "tempdir", tmpdir)
    names = ["teacher", "ann", "firstname.lastname@university.example", "x" * 200]
    folders = [localhub._runtime_dir(47453, SimpleNamespace(user=SimpleNamespace(name=name)))
               for name in names]
    assert len(set(folders)) == len(names)
    for folder in folders:
        assert len(os.fsencode(folder + localhub.IPC_SOCKET_NAME)) <= localhub.IPC_PATH_MAX
    if tmpdir == "/tmp":  # the temporary folder is kept where it is short enough
        assert all(folder.startswith("/tmp/kit-classroom-47453/") for folder in folders)


@pytest.mark.parametrize("stop", ["clean", "cannot remove", "hub died before"])
def test_a_clean_stop_removes_the_users_runtime_folders(
        stop: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """The runtime folders (``kit-classroom-<port>`` under the temporary folder, the users'
    kernel sockets and connection files) go with the Hub that made them: none are left in the
    temporary folder after a stop with nothing left running; another port's are not touched.
    One that cannot be removed is named; after a Hub that died by itself (its servers may
    live on, no longer its children) they are kept.  A sleeping process stands in for the
    Hub; the temporary folder is a short one of the test's own (under a long one the folders
    would go to /tmp itself)."""
    import shutil
    import subprocess
    import tempfile
    from types import SimpleNamespace

    from kit.classroom import localhub

    short = tempfile.mkdtemp(prefix="kc", dir="/tmp")
    monkeypatch.setattr(localhub.tempfile, "tempdir", short)
    try:
        hub = localhub.LocalHub(tmp_path / "hub", ["ann"], ["teacher"])
        other = hub.port + 1 if hub.port < 65535 else hub.port - 1
        made = [Path(localhub._runtime_dir(port, SimpleNamespace(user=SimpleNamespace(
            name=name)))) for port in (hub.port, other) for name in ("ann", "teacher")]
        assert all(folder.is_relative_to(short) for folder in made)
        for folder in made:
            folder.mkdir(parents=True)
            (folder / "kernel-1.json").write_text("{}")
        hub.process = subprocess.Popen(["sleep", "60"], start_new_session=True)
        if stop == "hub died before":
            hub.process.kill()
            hub.process.wait()
        with monkeypatch.context() as patch:
            if stop == "cannot remove":
                patch.setattr(localhub.shutil, "rmtree", lambda *_a, **_k: None)
            hub.stop(grace=5)
        ours = os.path.join(short, f"kit-classroom-{hub.port}")
        assert all(folder.exists() for folder in made[2:])  # another Hub's
        if stop == "clean":
            assert sorted(os.listdir(short)) == [f"kit-classroom-{other}"]
        else:
            assert all(folder.exists() for folder in made[:2])
        said = capsys.readouterr().err
        assert said == (f"kit.classroom: could not remove {ours} (the users' runtime "
                        "folders)\n" if stop == "cannot remove" else "")
    finally:
        shutil.rmtree(short)


def test_on_kubernetes_the_service_listens_where_the_proxy_pod_reaches_it() -> None:
    c = Config()
    add_classroom(c, host="hub")
    (service,) = c.JupyterHub.services
    assert service["url"] == "http://hub:10101"
    assert service["command"][-2:] == ["--ip", "0.0.0.0"]


def test_outside_a_classroom_hub_a_poll_is_the_self_check_quiz(monkeypatch) -> None:
    pytest.importorskip("ipywidgets", reason="needs the [widgets] extra")
    from kit.classroom.localhub import free_port
    from kit.widgets import Poll, Quiz

    monkeypatch.delenv("KIT_CLASSROOM_URL", raising=False)
    poll = Poll("03-head-or-tail", seed=3)
    assert not poll.live and repr(poll) == "Poll('03-head-or-tail')"
    assert poll.choices.options == Quiz("03-head-or-tail", seed=3).choices.options
    poll.choices.value = poll.question.texts[poll.question.answer]
    assert poll.feedback.value.count("Right:") == 1

    gone = ClassroomClient(f"http://127.0.0.1:{free_port()}/services/classroom/", "t", timeout=2)
    offline = Poll("03-head-or-tail", client=gone, refresh=0)
    assert not offline.live and "answer it as a self-check" in offline.status.value
    offline.choices.value = offline.question.texts[0]
    assert offline.feedback.value  # still answers at once


def test_a_lessons_sections_are_its_headings(tmp_path: Path) -> None:
    from kit.classroom.follow import lesson_sections
    from kit.core.errors import InvalidArgument

    titles = lesson_sections(Path(__file__).parent.parent / "notebooks" / "03-buddy-system")
    assert titles[0] == "3. The buddy system" and len(titles) >= 5
    with pytest.raises(InvalidArgument, match="cannot read the sections of"):
        lesson_sections(tmp_path / "missing")
