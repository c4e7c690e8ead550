"""A live classroom in real browsers: the instructor and two students, each in their own
JupyterLab behind a real classroom Hub (``kit.classroom.localhub``), log in (once, each in a
browser context of their own, for the module's tests) and run the same cells.  A poll: the
instructor opens round 1, each student clicks a choice, and the presenter's histogram counts
both votes.  Follow the instructor: the instructor picks a section and presses
alloc_pages in a Playground; a following student's notebook scrolls to that section and the
student's own Playground shows the call.  The slide mode follows too: the instructor's
``kit present --slides`` (started with their server's environment, as from a terminal in their
JupyterLab) moves slides by key, and a following student's notebook scrolls to each slide's
section.  No "Jupyter news" toast on any page (the kit's JupyterLab defaults).  Screenshots:
``tests/artifacts/classroom-{instructor,student1,student2}.png``,
``classroom-follow-{instructor,student1}.png`` and ``classroom-slides-{presenter,student1}.png``.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterable
from pathlib import Path

import pytest
from labdriver import (
    KERNEL_SHUTDOWN_ARGS,
    LAB_PAGE_CONFIG,
    POLL_MS,
    UNUSED_SERVER_EXTENSIONS,
    RequestLog,
    VoilaServer,
    close_documents,
    open_in_app,
)

pytest.importorskip("jupyterhub", reason="the [classroom] extra is not installed")

from kit.classroom.client import ClassroomClient  # noqa: E402
from kit.classroom.localhub import LocalHub  # noqa: E402
from kit.teaching.quiz_bank import question  # noqa: E402

POLL = "05-gfp-comp"
USERS = {"instructor": "teacher", "student1": "ann", "student2": "bob"}
#: The poll asks the service every half second (a lesson's, every 2 s): the pages show a
#: round opened or a vote counted sooner.
NOTEBOOK = {
    "cells": [{"cell_type": "code", "execution_count": None, "id": "poll", "metadata": {},
               "outputs": [],
               "source": f'from kit.widgets import Poll\nPoll("{POLL}", refresh=0.5)'}],
    "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python",
                                "name": "python3"}},
    "nbformat": 4, "nbformat_minor": 5,
}
#: A notebook long enough to scroll: a Follow and a Playground, then three long sections.
FILLER = "\n\n".join(f"Paragraph {i}: text that makes the section taller than the screen."
                       for i in range(30))
FOLLOW_NOTEBOOK = {
    "cells": [
        {"cell_type": "markdown", "id": "top", "metadata": {}, "source": "# Follow demo"},
        {"cell_type": "code", "execution_count": None, "id": "follow", "metadata": {},
         "outputs": [], "source": "import kit\nfrom kit.widgets import Follow, Playground\n"
         "pg = Playground(kit.Zone(64))\ndisplay(Follow('follow', playground=pg))\npg"},
        *({"cell_type": "markdown", "id": f"s{n}", "metadata": {},
           "source": f"## Section {name}\n\n{FILLER}"} for n, name in enumerate("ABC")),
    ],
    "metadata": NOTEBOOK["metadata"], "nbformat": 4, "nbformat_minor": 5,
}

#: A lesson for the slide mode: its first section holds a Follow (the student's toggle), then
#: three sections, each too tall for one slide (the slides continue them paragraph by paragraph).
SLIDES_LESSON = "slides-demo"
SLIDES_NOTEBOOK = {
    "cells": [
        {"cell_type": "markdown", "id": "title", "metadata": {}, "source": "# Slides demo"},
        {"cell_type": "code", "execution_count": None, "id": "follow", "metadata": {},
         "outputs": [], "source": f"from kit.widgets import Follow\nFollow({SLIDES_LESSON!r})"},
        *FOLLOW_NOTEBOOK["cells"][2:],
    ],
    "metadata": NOTEBOOK["metadata"], "nbformat": 4, "nbformat_minor": 5,
}


#: The users' servers' arguments beyond the Hub's: the JupyterLab app exposed to the page (the
#: tests drive it), and, as in the test JupyterLab (see labdriver), none of the server
#: extensions no browser test uses, pages that skip the build check, and kernels stopped at
#: once when a test closes their notebook.  (The Hub's processes 18.0 -> 14.8 CPU-s for the
#: module without the extensions, jupyter_lsp's npm run gone, bench_browser_cpu.py; a build
#: check runs node for 0.8-0.9 CPU-s; 2026-12-07.)
SERVER_ARGS = [
    "--LabApp.expose_app_in_browser=True", *KERNEL_SHUTDOWN_ARGS,
    f"--ServerApp.jpserver_extensions={UNUSED_SERVER_EXTENSIONS!r}",
    f"--ServerApp.tornado_settings={ {'page_config_data': LAB_PAGE_CONFIG}!r}",
]


@pytest.fixture(scope="module")
def classroom(tmp_path_factory: pytest.TempPathFactory):
    workdir = tmp_path_factory.mktemp("classroom-hub")
    for name in USERS.values():
        home = workdir / "home" / name
        home.mkdir(parents=True)
        (home / "notebooks").mkdir()  # no lesson copy: this test needs only its notebook
        (home / "poll.ipynb").write_text(json.dumps(NOTEBOOK))
        (home / "follow.ipynb").write_text(json.dumps(FOLLOW_NOTEBOOK))
        (home / f"{SLIDES_LESSON}.ipynb").write_text(json.dumps(SLIDES_NOTEBOOK))
    # No news setting here: the servers must get it from the kit's JupyterLab defaults.
    hub = LocalHub(workdir, [USERS["student1"], USERS["student2"]], [USERS["instructor"]],
                   environment={"KIT_QUIZ_SEED": "1"},
                   server_args=SERVER_ARGS)
    hub.start()
    try:
        hub.start_servers(USERS.values())
        yield hub
    finally:
        hub.stop()


def log_in(browser, hub: LocalHub, user: str,  # noqa: ANN001, ANN201
           notebook: str = "poll.ipynb"):
    """A new tab logging ``user`` in, on its way to ``notebook`` in their JupyterLab: the
    login is sent, the page not waited for (several users' pages load at once)."""
    context = browser.new_context(viewport={"width": 1366, "height": 768})
    page = context.new_page()
    requests = RequestLog()
    page.on("request", requests)
    # A workspace of the notebook's own: JupyterLab would otherwise reopen the tabs of the
    # user's earlier test (the module shares one Hub), and run all in whichever is current.
    workspace = Path(notebook).stem
    page.goto(f"{hub.url}/hub/login?next=/hub/user/{user}/lab/workspaces/{workspace}/tree/"
              f"{notebook}")
    page.fill("#username_input", user)
    page.fill("#password_input", hub.password)
    page.click("#login_submit", no_wait_after=True)
    return context, page, requests


def run_all_when_open(page, notebook: str) -> None:  # noqa: ANN001
    """Wait until JupyterLab shows ``notebook`` with an idle kernel, then start running all
    its cells (not waiting for the end: the test waits for what the cells show)."""
    page.wait_for_function("() => window.jupyterapp && window.jupyterapp.shell",
                           timeout=120_000, polling=POLL_MS)
    page.wait_for_selector(".jp-NotebookPanel .jp-Cell", timeout=120_000)
    page.wait_for_function(
        """(name) => { const p = window.jupyterapp.shell.currentWidget;
                   const k = p && p.sessionContext && p.sessionContext.session
                             && p.sessionContext.session.kernel;
                   return k && k.status === 'idle' && p.context.path.endsWith(name); }""",
        arg=notebook, timeout=120_000, polling=POLL_MS)
    page.evaluate("() => { window.jupyterapp.commands.execute('notebook:run-all-cells'); }")


@pytest.fixture(scope="module")
def users(classroom, shared_browser):  # noqa: ANN001, ANN201
    """Each user logged in once for the module, in a browser context of their own (role ->
    (context, page, requests)), all on their way to the poll; closed at the end.  A later test
    opens its notebook in the JupyterLab the user's page has loaded (``open_in_app``, a new
    kernel), as a user opens another notebook, instead of logging in and loading JupyterLab
    again (some 3-5 CPU-s of Chromium, and the Hub's and proxy's, a page)."""
    browser = shared_browser.browser()
    pages = {role: log_in(browser, classroom, user) for role, user in USERS.items()}
    yield pages
    for context, _page, _requests in pages.values():
        with contextlib.suppress(Exception):
            context.close()


def open_and_run(page, notebook: str) -> None:  # noqa: ANN001
    """Open ``notebook`` in the JupyterLab ``page`` shows, as its only document, and start
    running all its cells (see ``run_all_when_open``)."""
    page.wait_for_function("() => window.jupyterapp && window.jupyterapp.shell",
                           timeout=120_000, polling=POLL_MS)
    open_in_app(page, notebook)
    run_all_when_open(page, notebook)


def checked_and_closed(pages, roles: Iterable[str], artifacts: Path, stem: str) -> None:  # noqa: ANN001
    """Screenshot each user's page (``classroom-{stem}{role}.png``), fail on a request to a
    non-loopback host or a notification toast, then close its documents (their kernels shut
    down: an idle notebook's page still draws and polls)."""
    for role in roles:
        _context, page, requests = pages[role]
        page.screenshot(path=str(artifacts / f"classroom-{stem}{role}.png"))
        assert not requests.foreign, requests.foreign
        assert page.locator(".Toastify__toast").count() == 0, (
            f"a notification toast on the {role}'s page: "
            f"{page.locator('.Toastify__toast').all_inner_texts()}")
        close_documents(page, "w => false")


#: The presenter's histogram of round 1: its count of each choice.
HISTOGRAM_COUNTS = ".widget-html table tr td:last-child"
#: How many votes the histogram shows.
VOTES_DRAWN = f"""() => [...document.querySelectorAll({HISTOGRAM_COUNTS!r})]
    .reduce((sum, cell) => sum + Number(cell.textContent), 0)"""


@pytest.mark.browser
def test_a_vote_clicked_in_each_student_page_reaches_the_presenter(users, artifacts):
    item = question(POLL)
    pages = users
    for _context, page, _requests in pages.values():
        run_all_when_open(page, "poll.ipynb")
    teacher = pages["instructor"][1]
    teacher.locator("button:has-text('Open round 1')").click(timeout=120_000)
    teacher.locator("button:has-text('Close round 1')").wait_for(timeout=30_000)
    picks = {"student1": item.texts[0], "student2": item.texts[2]}
    for role, text in picks.items():
        page = pages[role][1]
        page.get_by_text("Round 1 is open", exact=False).wait_for(timeout=60_000)
        page.locator(".widget-radio-box label", has_text=text).click()
        page.get_by_text("You can change your vote", exact=False).wait_for(
            timeout=30_000)
    teacher.get_by_text("round 1: 2 answered", exact=False).wait_for(timeout=30_000)
    # The histogram is a widget of its own, drawn from the same results but sent after the
    # status line: until its message is in, it may show the results before the last vote.
    with contextlib.suppress(Exception):  # the comparison below says what it shows instead
        teacher.wait_for_function(f"() => ({VOTES_DRAWN})() === 2", timeout=30_000,
                                  polling=POLL_MS)
    counts = teacher.locator(HISTOGRAM_COUNTS).all_inner_texts()
    assert counts == ["1", "0", "1"], counts
    checked_and_closed(pages, USERS, artifacts, "")


HEADING_TOP = """(title) => {
    const heading = [...document.querySelectorAll('.jp-MarkdownOutput h2')]
        .find(h => h.textContent.includes(title));
    const panel = document.querySelector('.jp-NotebookPanel .jp-WindowedPanel-outer')
        || document.querySelector('.jp-NotebookPanel .jp-Notebook');
    return heading.getBoundingClientRect().top - panel.getBoundingClientRect().top;
}"""


@pytest.mark.browser
def test_a_following_student_scrolls_and_replays_the_presenters_playground(users, artifacts):
    teacher, ann = users["instructor"][1], users["student1"][1]
    for page in (teacher, ann):
        open_and_run(page, "follow.ipynb")
    picker = teacher.locator(".widget-dropdown", has_text="Presenting:").locator("select")
    # Hang detectors, not speed targets: at the start of the suite the other worker
    # runs nbgrader over a class, and two Hub users' kernels start under that load.
    picker.wait_for(timeout=300_000)
    ann.locator("button", has_text="Follow the instructor").click(timeout=300_000)
    ann.get_by_text("Following:", exact=False).wait_for(timeout=30_000)
    assert ann.evaluate(HEADING_TOP, "Section C") > 768  # far below at first
    picker.select_option(label="4. Section C")
    ann.get_by_text("section 4: Section C", exact=False).wait_for(timeout=30_000)
    ann.wait_for_function(f"() => ({HEADING_TOP})('Section C') < 200", timeout=15_000,
                          polling=POLL_MS)
    assert -5 < ann.evaluate(HEADING_TOP, "Section C") < 200
    teacher.locator("button", has_text="alloc_pages(order)").click()
    teacher.get_by_text("alloc_pages(0) -> pfn", exact=False).first.wait_for(
        timeout=30_000)
    # the student's own Playground (off screen, above) logs the same call
    ann.wait_for_function(
        "() => [...document.querySelectorAll('.widget-html')]"
        ".some(n => n.textContent.includes('alloc_pages(0) -> pfn 0'))",
        timeout=30_000, polling=POLL_MS)
    ann.locator(".jp-NotebookPanel .jp-Cell").first.scroll_into_view_if_needed()
    checked_and_closed(users, ("instructor", "student1"), artifacts, "follow-")


def server_environment(hub: LocalHub, user: str) -> dict[str, str]:
    """The environment of ``user``'s running server on ``hub``: what a terminal in their
    JupyterLab has, and so what ``kit present`` started there gives Voila's kernels (the
    server's Hub token, with the instructor scope for an instructor, and the service's URL)."""
    for proc in Path("/proc").iterdir():
        try:
            cmdline = (proc / "cmdline").read_bytes()
            raw = (proc / "environ").read_bytes()
        except OSError:
            continue
        if b"jupyterhub-singleuser" not in cmdline:
            continue
        env = dict(item.split("=", 1) for item in raw.decode(errors="replace").split("\0")
                   if "=" in item)
        if env.get("JUPYTERHUB_USER") == user and env.get("KIT_CLASSROOM_URL") == (
                hub.service_url):
            return env
    raise AssertionError(f"no running server of {user} on {hub.url}")


@pytest.mark.browser
def test_the_slide_mode_moves_a_following_students_notebook(classroom, users, browser,
                                                            artifacts, tmp_path):
    teacher = USERS["instructor"]
    lesson = classroom.workdir / "home" / teacher / f"{SLIDES_LESSON}.ipynb"
    voila = VoilaServer(state=tmp_path, notebook=lesson, slides=True,
                        base_env=server_environment(classroom, teacher))
    ann_client = ClassroomClient(classroom.service_url, classroom.token(USERS["student1"]))
    with voila.running():
        ann = users["student1"][1]
        open_and_run(ann, f"{SLIDES_LESSON}.ipynb")
        ann.locator("button", has_text="Follow the instructor").click(timeout=300_000)
        ann.get_by_text("Following:", exact=False).wait_for(timeout=30_000)
        assert ann.evaluate(HEADING_TOP, "Section C") > 768  # far below at first

        slides_context = browser.new_context(viewport={"width": 1280, "height": 720})
        slides = slides_context.new_page()
        slide_requests = RequestLog()
        slides.on("request", slide_requests)
        slides.goto(f"{voila.base_url}/", wait_until="domcontentloaded", timeout=180_000)
        # the slides cut once the layout has settled (End is then the last slide)
        slides.wait_for_function(
            "() => window.kitSlides && window.kitSlides.settled()"
            " && window.kitSlides.count() > 4"
            " && window.kitSlides.follow() === 'publishing'", timeout=180_000, polling=POLL_MS)
        ann.get_by_text("section 1: Slides demo", exact=False).wait_for(timeout=30_000)

        # End: the last slide continues Section C (its cells are copies without ids)
        slides.keyboard.press("End")
        ann.get_by_text("section 4: Section C", exact=False).wait_for(timeout=30_000)
        ann.wait_for_function(f"() => ({HEADING_TOP})('Section C') < 200", timeout=15_000,
                              polling=POLL_MS)
        assert -5 < ann.evaluate(HEADING_TOP, "Section C") < 200
        state = ann_client.follow()["state"]
        assert (state["lesson"], state["section"], state["title"]) == (
            SLIDES_LESSON, 3, "Section C")

        # back by key: Home, then the next slide starts Section A
        slides.keyboard.press("Home")
        slides.keyboard.press("ArrowRight")
        ann.get_by_text("section 2: Section A", exact=False).wait_for(timeout=30_000)
        ann.wait_for_function(f"() => ({HEADING_TOP})('Section A') < 200", timeout=15_000,
                              polling=POLL_MS)
        assert -5 < ann.evaluate(HEADING_TOP, "Section A") < 200
        assert slides.evaluate("() => window.kitSlides.current()") == 1
        slides.screenshot(path=str(artifacts / "classroom-slides-presenter.png"))
        assert not slide_requests.foreign, slide_requests.foreign
        slides_context.close()
        checked_and_closed(users, ("student1",), artifacts, "slides-")
