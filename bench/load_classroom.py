"""What one server holds: a class of students on one served app (issue 9, "Measured: what one server holds").

N students (default 40) arrive within ``--ramp`` seconds, each its own browser (its own owner cookie): open the
builder, edit the network (the first convolution's output channels: a network the caches have not seen,
``--networks`` different ones across the class, 10), open the Training page on MNIST 5k, then browse on — edit,
back to Training — for ``--rounds`` rounds, ``--think`` seconds apart (2). A share of them (default 10) press Train
together once all of them reached the button (LeNet-5, as edited, on MNIST 5k, ``--epochs`` 1) and watch their
job's live view until it ends.

The students are light clients (st_client.py: the browser's websocket protocol, no page drawn): ten real Chromium
contexts starve a 2-core server (docs/testing.md). One more student (``--browsers``) is a real Chromium page, timed
until its page is drawn, charts and all. The app is served on loopback by this script (or taken at
``--url``), with ``CNNPG_RERUN_LOG`` on, its runs in a temporary folder, and ended with everything this script
started. It prints p50/p95/max of

- the time until each page is drawn: from the client's rerun request to its ``script_finished``;
- the server's own time per script run (``CNNPG_RERUN_LOG``, written by playground/app.py);

the exception elements the pages showed (must be 0), what became of the training jobs (finished / queued first /
failed / refused: none dropped), and the server's memory (RSS of its process and children, sampled): before, the
peak with the class on it, and after the sessions closed. ``--seconds`` (default 180) bounds the whole run: the
students stop where they are in time for the server to be ended within it. Exits 1 when a target is missed: p95 of
the pages drawn ≤ 2 s, no exception, every job finished.

    python bench/load_classroom.py [--students 40] [--training 10] [--seconds 180] [--url http://host:port]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import csv
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psutil
from st_client import Rerun, Session
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from websockets.exceptions import WebSocketException

ROOT = Path(__file__).resolve().parents[1]
RENDER_P95_S = 2.0  # the target: p95 of the pages drawn, with the class on the server
OUT_CHANNELS = "_w_arg_0_0_out_channels"  # the builder's field for the first layer (LeNet-5's first convolution)
TRAIN = "_w_tr_train"
DATA = "mnist5k"
SERVER_SLOWNESS_S = 120.0  # a rerun that takes longer than this counts as an error (the server stopped answering)
STOP_RESERVE_S = 15.0  # of the budget, for ending the server and reading its log
CHROMIUM_ARGS = [  # Debian's Chromium on a closed network (docs/testing.md, "Real browsers here")
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]


@dataclass
class Student:
    index: int
    trains: bool
    session: Session | None = None
    job: str = ""  # "" (none asked), "refused", "queued", "running", "finished", "failed", "stopped", "unfinished"
    queued: bool = False  # its job waited in the queue first
    at_button: bool = False  # a trainer that reached the Train button (or gave up before it)
    errors: list[str] = field(default_factory=list)  # what went wrong on the client's side (timeouts, disconnects)


@dataclass
class Plan:
    url: str
    students: int
    training: int
    epochs: int
    rounds: int
    ramp: float
    deadline: float  # time.perf_counter() when the students stop
    networks: int = 10  # different networks across the class
    think: float = 2.0  # mean seconds a student looks at a page before the next step
    seed: int = 0
    trainers_ready: int = 0
    train_now: asyncio.Event = field(default_factory=asyncio.Event)


# -- the server ---------------------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def serve(env: dict[str, str], log: Path, timeout: float = 90, options: list[str] | None = None
          ) -> Iterator[tuple[str, int]]:
    """``streamlit run playground/app.py`` on a free loopback port (as tests/browser/served_app.py does), with
    Streamlit's ``options`` (``["--server.x", "v"]``), until the block ends; yields its URL and pid once
    ``/_stcore/health`` answers."""
    port = _free_port()
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", str(ROOT / "playground" / "app.py"), "--server.headless",
             "true", "--server.port", str(port), "--server.address", "127.0.0.1", "--server.fileWatcherType", "none",
             "--browser.gatherUsageStats", "false", *(options or [])],
            cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, env={**os.environ, **env})
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + timeout
        while True:
            try:
                if urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).read() == b"ok":
                    break
            except OSError:
                if time.time() > deadline or proc.poll() is not None:
                    raise RuntimeError(f"the app did not start within {timeout:.0f} s; its log:\n"
                                       f"{log.read_text()[-3000:]}") from None
                time.sleep(0.3)
        yield url, proc.pid
    finally:
        for p in psutil.Process(proc.pid).children(recursive=True) if proc.poll() is None else []:
            with contextlib.suppress(psutil.Error):
                p.kill()  # job processes of the app's, if it runs jobs in child processes
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


class MemorySampler:
    """The resident memory of a process and its children, sampled every ``every`` seconds in a thread; and the CPU
    time they used."""

    def __init__(self, pid: int, every: float = 0.5):
        self._process = psutil.Process(pid)
        self._every = every
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self.peak = self.last = self.rss()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def rss(self) -> int:
        total = 0
        for p in [self._process, *self._process.children(recursive=True)]:
            with contextlib.suppress(psutil.Error):
                total += p.memory_info().rss
        return total

    def cpu(self) -> float:
        """Seconds of CPU used so far by the process, its children, and the children it has waited for."""
        t = self._process.cpu_times()
        total = t.user + t.system + t.children_user + t.children_system
        for p in self._process.children(recursive=True):
            with contextlib.suppress(psutil.Error):
                c = p.cpu_times()
                total += c.user + c.system
        return total

    def reset_peak(self) -> None:
        with self._lock:
            self.peak = self.last

    def _run(self) -> None:
        while not self._stop.wait(self._every):
            with contextlib.suppress(psutil.Error):
                rss = self.rss()
                with self._lock:
                    self.last, self.peak = rss, max(self.peak, rss)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


# -- a student ----------------------------------------------------------------------------------------------------


async def _watch_job(s: Session, student: Student, plan: Plan) -> None:
    """Follow the job's live view as the browser does (each fragment at its own ``run_every``) until it ends or the
    budget does."""
    next_run: dict[str, float] = {}
    while time.perf_counter() < plan.deadline:
        alerts = s.texts("alert")
        if any(a.startswith("Finished") for a in alerts):
            student.job = "finished"
            return
        if any(a.startswith("Training failed") for a in alerts):
            student.job = "failed"
            return
        if any(a.startswith("Stopped") for a in alerts):
            student.job = "stopped"
            return
        if any("Waiting in the queue" in t for t in s.texts("progress")):
            student.queued = True
        now = time.perf_counter()
        timers = list(s.fragments.items())  # a copy: a whole-page run replaces them while a fragment reruns
        for f, every in timers:
            if next_run.setdefault(f, now + every) <= now:
                next_run[f] = now + every
                await s.rerun_fragment(f)
        if not s.fragments:  # the job ended: the fragment's st.rerun drew the whole page; read it above
            if not any(a.startswith(("Finished", "Training failed", "Stopped")) for a in s.texts("alert")):
                await s.goto("training", s.query)
            continue
        await asyncio.sleep(0.05)
    student.job = "unfinished"


async def _student(student: Student, plan: Plan) -> None:
    rng = random.Random(plan.seed * 1000 + student.index)
    await asyncio.sleep(plan.ramp * student.index / max(1, plan.students))
    s = student.session = Session(plan.url, timeout=SERVER_SLOWNESS_S)
    await s.open()
    await s.goto("builder")
    await s.set(OUT_CHANNELS, 7 + student.index % plan.networks)
    await s.goto("training", f"data={DATA}&epochs={plan.epochs}")
    if student.trains:
        _at_the_button(student, plan)
        await asyncio.wait_for(plan.train_now.wait(), max(0.0, plan.deadline - time.perf_counter()))
        await s.click(TRAIN)
        if not s.fragments:  # no live view: the job was not taken; the page says why
            student.job = "refused"
            said = " | ".join(s.alerts("error", "warning")) or "nothing"
            student.errors.append(f"Train started no job; the page said: {said[:300]}")
            return
        student.job = "running"
        await _watch_job(s, student, plan)
        return
    for _ in range(plan.rounds):
        await asyncio.sleep(rng.uniform(0.5, 1.5) * plan.think)
        await s.goto("builder")
        await s.set(OUT_CHANNELS, 7 + (student.index + rng.randrange(plan.networks)) % plan.networks)
        await asyncio.sleep(rng.uniform(0.5, 1.5) * plan.think)
        await s.goto("training", f"data={DATA}&epochs={plan.epochs}")


def _at_the_button(student: Student, plan: Plan) -> None:
    """Count ``student`` among the trainers at the Train button (or lost on the way): the last one lets all click."""
    if not student.at_button:
        student.at_button = True
        plan.trainers_ready += 1
        if plan.trainers_ready >= plan.training:
            plan.train_now.set()


async def _one(student: Student, plan: Plan) -> None:
    try:
        await asyncio.wait_for(_student(student, plan), max(0.0, plan.deadline - time.perf_counter()))
    except TimeoutError:
        if student.trains and student.job in ("", "running"):
            student.job = "unfinished"
    except (OSError, KeyError, WebSocketException) as e:
        student.errors.append(f"{type(e).__name__}: {e}")
    finally:
        if student.trains:
            _at_the_button(student, plan)  # one that failed before the button does not hold the others back
        if student.session is not None:
            await student.session.close()


@dataclass
class Seen:
    """What one real Chromium page, among the class, took to be drawn: seconds by step, or why it did not run."""

    times: dict[str, float] = field(default_factory=dict)
    exceptions: int = 0
    error: str = ""


async def _chromium(plan: Plan, seen: Seen) -> None:
    """One student in a real browser, half-way through the arrivals: the builder until its drawing is on the page,
    an edit of the first convolution until the page is idle again, then Training through the navigation (the same
    session) until its sample grids are drawn."""
    chromium = os.environ.get("CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(chromium).exists():
        seen.error = f"no Chromium at {chromium} (set CHROMIUM)"
        return
    from playwright.async_api import async_playwright

    finished = [0]

    def on_frame(payload: bytes | str) -> None:
        if isinstance(payload, bytes):
            msg = ForwardMsg()
            msg.ParseFromString(payload)
            if msg.WhichOneof("type") == "script_finished" and msg.script_finished in (
                    ForwardMsg.FINISHED_SUCCESSFULLY, ForwardMsg.FINISHED_WITH_COMPILE_ERROR):
                finished[0] += 1

    await asyncio.sleep(plan.ramp / 2)
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS, headless=True)
        try:
            page = await (await browser.new_context(viewport={"width": 1400, "height": 1000})).new_page()
            page.set_default_timeout(SERVER_SLOWNESS_S * 1000)
            page.on("websocket", lambda ws: ws.on("framereceived", on_frame) if "_stcore/stream" in ws.url else None)

            async def drawn(step: str, action, *selectors: str) -> None:
                n, start = finished[0], time.perf_counter()
                await action()
                while finished[0] <= n:
                    if time.perf_counter() - start > SERVER_SLOWNESS_S:
                        raise TimeoutError(f"{step}: no script_finished within {SERVER_SLOWNESS_S:.0f} s")
                    await asyncio.sleep(0.05)
                await page.wait_for_selector('[data-testid="stApp"][data-test-script-state="notRunning"]')
                for selector in selectors:
                    await page.wait_for_selector(selector)
                seen.times[step] = time.perf_counter() - start

            plotly = ".js-plotly-plot .main-svg"  # plotly draws after the script finished (docs/testing.md)
            await drawn("builder, opened", lambda: page.goto(plan.url + "/builder"), "h1:has-text('CNN builder')",
                        plotly)
            field = page.get_by_test_id("stNumberInput").filter(has_text="out_channels").locator("input")
            await field.fill("12")
            await drawn("builder, edited", lambda: field.press("Enter"), plotly)
            link = page.get_by_test_id("stSidebarNavLink").filter(has_text="Training")
            await drawn("training, opened", link.click, "h1:has-text('Training')", plotly)
            seen.exceptions = await page.get_by_test_id("stException").count()
        finally:
            await browser.close()


async def _class(plan: Plan, browsers: int) -> tuple[list[Student], list[Seen]]:
    students = [Student(i, i < plan.training) for i in range(plan.students)]
    rng = random.Random(plan.seed)
    rng.shuffle(students)  # the trainers arrive among the others
    for order, st in enumerate(students):
        st.index = order
    seen = [Seen() for _ in range(browsers)]

    async def watch(s: Seen) -> None:
        try:
            await asyncio.wait_for(_chromium(plan, s), max(0.0, plan.deadline - time.perf_counter()))
        except Exception as e:  # noqa: BLE001 - a browser's failure is reported, the class goes on
            s.error = f"{type(e).__name__}: {str(e)[:300]}"

    await asyncio.gather(*(_one(st, plan) for st in students), *(watch(s) for s in seen))
    return students, seen


async def _warm_up(url: str, epochs: int) -> None:
    """The teacher opens the app first: the server's imports and the data set's first load are not the class's."""
    s = Session(url, timeout=SERVER_SLOWNESS_S)
    await s.open()
    try:
        await s.goto("builder")
        await s.goto("training", f"data={DATA}&epochs={epochs}")
    finally:
        await s.close()


# -- the report ---------------------------------------------------------------------------------------------------


def _stats(values: list[float]) -> str:
    if not values:
        return "         —        —        —      0"
    q = statistics.quantiles(values, n=20, method="inclusive") if len(values) > 1 else [values[0]] * 19
    return f"{statistics.median(values):8.2f} {q[18]:8.2f} {max(values):8.2f} {len(values):6d}"


def _p95(values: list[float]) -> float:
    if len(values) < 2:
        return values[0] if values else 0.0
    return statistics.quantiles(values, n=20, method="inclusive")[18]


def _server_times(log: Path, before: int) -> dict[str, list[float]]:
    by_page: dict[str, list[float]] = {}
    if not log.exists():
        return by_page
    with open(log, newline="") as f:
        for row in list(csv.reader(f))[before:]:
            if len(row) == 3:
                by_page.setdefault(row[1], []).append(float(row[2]))
    return by_page


def _lines(log: Path) -> int:
    return len(log.read_text().splitlines()) if log.exists() else 0


def report(students: list[Student], seen: list[Seen], server: dict[str, list[float]] | None,
           memory: tuple[int, int, int] | None, runs: dict[str, int] | None, wall: float,
           args: argparse.Namespace, cpu: dict[str, float] | None = None) -> bool:
    sessions = [s.session for s in students if s.session is not None]
    reruns: list[Rerun] = [r for s in sessions for r in s.reruns]
    pages = [r for r in reruns if r.kind == "page"]
    print(f"\n{len(students)} students ({sum(s.trains for s in students)} training), {wall:.0f} s, "
          f"{os.cpu_count()} CPU cores")
    print(f"\n{'seconds':<52} {'p50':>8} {'p95':>8} {'max':>8} {'n':>6}")
    print("page drawn (the client's rerun request → script_finished)")
    for page in ("builder", "training"):
        first = [s.reruns[i].seconds for s in sessions for i in range(len(s.reruns))
                 if s.reruns[i].kind == "page" and s.reruns[i].page == page
                 and not any(r.page == page for r in s.reruns[:i])]
        print(f"  {page + ', first open':<50} {_stats(first)}")
        print(f"  {page + ', every whole-page rerun':<50} {_stats([r.seconds for r in pages if r.page == page])}")
    print(f"  {'every whole-page rerun':<50} {_stats([r.seconds for r in pages])}")
    print(f"  {'live view (fragment reruns while training)':<50} "
          f"{_stats([r.seconds for r in reruns if r.kind == 'fragment'])}")
    if server is not None:
        print("server's own time per script run (CNNPG_RERUN_LOG)")
        for page, times in sorted(server.items()):
            print(f"  {page or 'home':<50} {_stats(times)}")
        print(f"  {'every script run':<50} {_stats([t for ts in server.values() for t in ts])}")
    for i, b in enumerate(seen):
        steps = ", ".join(f"{step} {t:.2f} s" for step, t in b.times.items())
        print(f"real Chromium page {i + 1} (drawn: the script finished, the page idle, its charts on screen): "
              f"{steps or '—'}{'; ' + b.error if b.error else ''}")
    exceptions = [e for s in sessions for e in s.exceptions] + [f"Chromium page: {b.exceptions} stException"
                                                                for b in seen if b.exceptions]
    errors = [e for s in students for e in s.errors] + [f"Chromium page: {b.error}" for b in seen
                                                        if b.error and not b.error.startswith("no Chromium")]
    print(f"\nexceptions on pages: {len(exceptions)}" + "".join(f"\n  {e[:200]}" for e in exceptions[:5]))
    print(f"client errors (timeouts, disconnects, a Train that started no job): {len(errors)}"
          + "".join(f"\n  {e[:200]}" for e in errors[:5]))
    trainers = [s for s in students if s.trains]
    count = {k: sum(s.job == k for s in trainers) for k in
             ("finished", "failed", "stopped", "refused", "unfinished", "running", "")}
    print(f"jobs: {len(trainers)} asked, {count['finished']} finished ({sum(s.queued for s in trainers)} queued "
          f"first), {count['failed']} failed, {count['stopped']} stopped, {count['refused']} refused, "
          f"{count['unfinished']} not finished within the budget, {count['running']} not followed to its end (a "
          f"client error), {count['']} never asked")
    if runs is not None:
        print(f"  the run store: {', '.join(f'{n} {k}' for k, n in sorted(runs.items())) or 'no runs'}")
    if memory is not None:
        before, peak, after = memory
        mib = 2**20
        ttl = f"{args.session_ttl} s" if args.session_ttl is not None else "Streamlit's default, 120 s"
        print(f"server memory (RSS, with its children): {before / mib:,.0f} MiB before the class, peak "
              f"{peak / mib:,.0f} MiB with it, {after / mib:,.0f} MiB {args.after:.0f} s after the sessions closed "
              f"(a closed session is kept for server.disconnectedSessionTTL: {ttl})")
    if cpu:
        print(f"CPU during the class ({wall:.0f} s, {os.cpu_count()} cores): the server {cpu['server']:.0f} s, this "
              f"load tool {cpu['tool']:.0f} s (its Chromium not counted), load average {os.getloadavg()[0]:.1f} at "
              f"the end (the machine's other work too)")
    p95 = _p95([r.seconds for r in pages])
    ok = {f"p95 page drawn {p95:.2f} s ≤ {RENDER_P95_S:.0f} s": p95 <= RENDER_P95_S,
          "no exception on a page": not exceptions and not errors,
          "every job finished": count["finished"] == len(trainers)}
    print("\n" + "; ".join(f"{k}: {'yes' if v else 'NO'}" for k, v in ok.items()))
    return all(ok.values())


def _run_store(root: Path) -> dict[str, int]:
    from engine.training.runs import RunStore

    counts: dict[str, int] = {}
    for run in RunStore(root).list():
        counts[run.status] = counts.get(run.status, 0) + 1
    return counts


async def _drive(url: str, args: argparse.Namespace, deadline: float,
                 warmed: Callable[[], None] = lambda: None) -> tuple[list[Student], list[Seen], float]:
    """The class on the app at ``url`` until ``deadline`` (``time.perf_counter()``), after the teacher's warm-up
    (then ``warmed()`` is called)."""
    if not args.no_warm_up:
        try:
            await asyncio.wait_for(_warm_up(url, args.epochs), max(0.0, deadline - time.perf_counter()))
        except TimeoutError:
            raise SystemExit(f"the budget (--seconds {args.seconds:.0f}) ran out while the server warmed up") from None
    warmed()
    plan = Plan(url, args.students, min(args.training, args.students), args.epochs, args.rounds, args.ramp, deadline,
                max(1, args.networks), args.think, args.seed)
    start = time.perf_counter()
    students, seen = await _class(plan, args.browsers)
    return students, seen, time.perf_counter() - start


async def _come_and_go(url: str) -> None:
    s = Session(url, timeout=SERVER_SLOWNESS_S)
    await s.open()
    await s.close()


def _own_cpu() -> float:
    t = psutil.Process().cpu_times()
    return t.user + t.system


def _terminated(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)  # so that the finally blocks end the server and the browser this script started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--students", type=int, default=40)
    parser.add_argument("--training", type=int, default=10, help="how many of them press Train together")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=3, help="edit-and-back rounds of the students not training")
    parser.add_argument("--ramp", type=float, default=10.0, help="seconds over which the students arrive")
    parser.add_argument("--seconds", type=float, default=180.0,
                        help="the budget for everything: serving, warming up, the class, the memory after it")
    parser.add_argument("--after", type=float, default=10.0, help="seconds to wait before the memory after closing")
    parser.add_argument("--browsers", type=int, default=1, help="real Chromium pages among the students (0: none)")
    parser.add_argument("--session-ttl", type=int, help="seconds Streamlit keeps a closed tab's session "
                        "(server.disconnectedSessionTTL; Streamlit's default: 120)")
    parser.add_argument("--networks", type=int, default=10, help="different networks the class builds (first "
                        "convolution's output channels 7, 8, ...): each costs the Training page one time estimate")
    parser.add_argument("--think", type=float, default=2.0, help="mean seconds a student looks at a page before "
                        "the next step (each wait drawn between half and one and a half times it)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--url", help="a served app to load instead of serving one (then no server time, memory)")
    parser.add_argument("--no-warm-up", action="store_true", help="count the server's first imports too")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, _terminated)
    end = time.perf_counter() + args.seconds
    if args.url:
        students, seen, wall = asyncio.run(_drive(args.url, args, end))
        return 0 if report(students, seen, None, None, None, wall, args) else 1
    with tempfile.TemporaryDirectory(prefix="cnnpg-load-") as tmp:
        log, runs = Path(tmp) / "reruns.csv", Path(tmp) / "runs"
        path = os.pathsep.join([str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])  # this checkout's engine
        env = {"CNNPG_RERUN_LOG": str(log), "CNNPG_RUNS_DIR": str(runs), "PYTHONPATH": path}
        options = ["--server.disconnectedSessionTTL", str(args.session_ttl)] if args.session_ttl is not None else []
        with serve(env, Path(tmp) / "server.log", min(90.0, args.seconds / 2), options) as (url, pid):
            memory = MemorySampler(pid)
            before: dict[str, int] = {}

            def warmed() -> None:  # the class's figures start here
                before.update(rss=memory.rss(), lines=_lines(log), server_cpu=memory.cpu(), tool_cpu=_own_cpu())
                memory.reset_peak()

            # The class stops early enough for the memory after it and for ending the server within the budget.
            students, seen, wall = asyncio.run(_drive(url, args, end - args.after - STOP_RESERVE_S, warmed))
            peak = memory.peak
            cpu = {"server": memory.cpu() - before.get("server_cpu", 0.0),
                   "tool": _own_cpu() - before.get("tool_cpu", 0.0)}
            time.sleep(max(0.0, min(args.after, end - STOP_RESERVE_S - time.perf_counter())))
            # Streamlit keeps a closed tab's session for server.disconnectedSessionTTL and drops the expired ones
            # only when another session disconnects: one more student comes and goes, then the memory is read.
            asyncio.run(_come_and_go(url))
            time.sleep(1.0)
            after_rss = memory.rss()
            memory.stop()
            server = _server_times(log, before.get("lines", 0))
        memory_figures = (before.get("rss", 0), peak, after_rss)
        ok = report(students, seen, server, memory_figures, _run_store(runs), wall, args, cpu)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
