"""Benchmark of the live classroom: a class of 100 voting through a real Hub, proxy and service.

Run with ``bash scripts/bench.sh classroom`` (or ``python bench/bench_classroom.py``).  Prints
figures; it does not assert them.  Goals (issue 23): vote p95 <= 300 ms for a 100-student burst
when warm, <= 1 s cold once the poll widget's warm-up call has run.

A Hub with the classroom service (``kit.classroom.localhub``, as ``scripts/classroom.sh`` starts
it) runs on free loopback ports; 100 students each get a Hub token, as their kernels would.
Each burst is 100 votes sent at once from 100 threads (the stdlib client the widgets use),
timed from send to answer:

- cold: tokens the service has never seen (the Hub checks 100 tokens at once);
- cold after warm-up: fresh tokens, but each student's widget made its warm-up call
  (``GET api/me``) when it was displayed, spread over a second, before the burst;
- warm: the same students voting again (their identities are cached for 60 s).

The service's CPU seconds per vote (cold and warm, from /proc) and the store's own CPU time per
vote in this process say how much of a vote is the service's work and how much is waiting (for
the Hub, the proxy, a core: the load average is printed at the start and the end).

Then: the presenter's results read (histograms, pairs) and a student's poll read, one at a time;
"follow the instructor": 100 students long-polling, the time from the presenter's publish until
the last of them has the new state; the resident memory of hub, proxy and service.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from kit.classroom.client import ClassroomClient  # noqa: E402
from kit.classroom.localhub import LocalHub  # noqa: E402

STUDENTS = [f"s{i:03d}" for i in range(1, 101)]
POLL = "03-find-the-buddy"
READS = 50
WARM_BURSTS = 3


def percentiles(seconds: list[float]) -> str:
    ms = sorted(s * 1000 for s in seconds)
    p95 = ms[min(len(ms) - 1, round(0.95 * len(ms)) - 1)]
    return f"p50 {statistics.median(ms):7.1f} ms   p95 {p95:7.1f} ms   max {ms[-1]:7.1f} ms"


def burst(clients: list[ClassroomClient], choice: int) -> list[float]:
    """Every client votes at the same moment; the time each vote took."""
    gate = threading.Barrier(len(clients))

    def one(client: ClassroomClient) -> float:
        gate.wait()
        start = time.perf_counter()
        client.vote(POLL, choice)
        return time.perf_counter() - start

    with ThreadPoolExecutor(len(clients)) as pool:
        return list(pool.map(one, clients))


def one_at_a_time(call: object, n: int = READS) -> list[float]:
    times = []
    for _ in range(n):
        start = time.perf_counter()
        call()  # type: ignore[operator]
        times.append(time.perf_counter() - start)
    return times


def fan_out(hub: LocalHub, students: list[ClassroomClient], teacher: ClassroomClient) -> float:
    """Seconds from the presenter's publish until the last follower has the new state."""
    after = teacher.publish({"lesson": "03-buddy-system", "section": 1})
    woke: list[float] = []
    ready = threading.Barrier(len(students) + 1)

    def follow(client: ClassroomClient) -> None:
        ready.wait()
        answer = client.follow(after, wait=20)
        woke.append(time.perf_counter())
        assert answer["version"] == after + 1, answer

    threads = [threading.Thread(target=follow, args=(c,)) for c in students]
    for thread in threads:
        thread.start()
    ready.wait()
    deadline = time.monotonic() + 60
    while teacher.follow()["followers"] < len(students):  # every long-poll held by the service
        if time.monotonic() > deadline:
            raise RuntimeError("the followers' long-polls were not all held within 60 s")
        time.sleep(0.05)
    published = time.perf_counter()
    teacher.publish({"lesson": "03-buddy-system", "section": 2})
    for thread in threads:
        thread.join()
    assert len(woke) == len(students)
    return max(woke) - published


def service_vote_times(log: Path) -> list[float]:
    """The service's own time for each vote it answered (Tornado's access log, in seconds):
    what the rest of a vote's latency is not (the client, the proxy, waiting for a core)."""
    times = []
    for line in log.read_text(errors="replace").splitlines():
        if line.startswith("[classroom") and " PUT " in line and "/vote " in line:
            times.append(float(line.rsplit(" ", 1)[1].removesuffix("ms")) / 1000)
    return times


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far (/proc/PID/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def store_cpu_per_vote(n: int = 2000) -> float:
    """CPU milliseconds of one vote in the store alone (SQLite WAL, synchronous=NORMAL, one
    transaction per vote), in this process: the floor of the service's own work per vote."""
    from kit.classroom.store import Store

    with tempfile.TemporaryDirectory(prefix="bench-store-") as folder:
        store = Store(f"sqlite:///{folder}/votes.sqlite")
        store.open_round(POLL)
        start = time.process_time()
        for i in range(n):
            store.vote(POLL, STUDENTS[i % len(STUDENTS)], i % 3)
        spent = time.process_time() - start
        store.close()
    return spent / n * 1000


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="bench-classroom-") as workdir:
        hub = LocalHub(Path(workdir), STUDENTS, ["teacher"])
        started = time.perf_counter()
        hub.start()
        try:
            print(f"classroom: Hub + proxy + service answering after "
                  f"{time.perf_counter() - started:.1f} s; 100 students; load average "
                  f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores (figures grow with it)")
            teacher = ClassroomClient(hub.service_url, hub.token("teacher"))

            def students() -> list[ClassroomClient]:
                return [ClassroomClient(hub.service_url, hub.token(n), timeout=60)
                        for n in STUDENTS]

            cold = students()
            service = hub.pids()["service"]
            teacher.open_round(POLL)
            spent = cpu_seconds(service)
            print(f"vote, 100 at once, cold (unseen tokens):   {percentiles(burst(cold, 0))}")
            cold_cpu = (cpu_seconds(service) - spent) / len(cold)
            warm_times: list[float] = []
            spent = cpu_seconds(service)
            for i in range(WARM_BURSTS):
                warm_times += burst(cold, (i + 1) % 3)
            warm_cpu = (cpu_seconds(service) - spent) / (len(cold) * WARM_BURSTS)
            print(f"vote, 100 at once, warm ({WARM_BURSTS} bursts):       "
                  f"{percentiles(warm_times)}")
            print(f"service CPU per vote: cold {cold_cpu * 1000:.1f} ms (asks the Hub about "
                  f"the token), warm {warm_cpu * 1000:.1f} ms; the store alone "
                  f"{store_cpu_per_vote():.2f} ms")
            teacher.close_round(POLL)

            fresh = students()
            for client in fresh:  # each widget's warm-up call as it is displayed
                client.me()
                time.sleep(0.01)
            teacher.open_round(POLL)
            print(f"vote, 100 at once, cold after warm-up:      {percentiles(burst(fresh, 1))}")
            teacher.close_round(POLL)
            results = teacher.results(POLL)
            assert [r["answered"] for r in results["rounds"]] == [100, 100], results

            print(f"results read (instructor), one at a time: "
                  f"{percentiles(one_at_a_time(lambda: teacher.results(POLL)))}")
            print(f"poll read (student), one at a time:       "
                  f"{percentiles(one_at_a_time(lambda: fresh[0].poll(POLL)))}")
            inside = service_vote_times(hub.workdir / "jupyterhub.log")
            print(f"vote, inside the service, cold:             {percentiles(inside[:100])}")
            print(f"vote, inside the service, warm:             "
                  f"{percentiles(inside[100:100 * (WARM_BURSTS + 1)])}")
            print(f"follow: publish -> last of 100 followers woken: "
                  f"{fan_out(hub, fresh, teacher) * 1000:.1f} ms")
            memory = {role: rss_mb(pid) for role, pid in hub.pids().items()}
            print("memory (RSS): " + ", ".join(f"{role} {mb:.0f} MB"
                                              for role, mb in sorted(memory.items())))
            print(f"load average at the end {os.getloadavg()[0]:.1f}; "
                  "goals: warm p95 <= 300 ms; cold after warm-up p95 <= 1000 ms")
        finally:
            hub.stop()


if __name__ == "__main__":
    main()
