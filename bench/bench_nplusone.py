"""Overhead of the N+1 pytest plugin: one query-heavy suite, run with the plugin off and on.

    python bench/bench_nplusone.py [--db sqlite|postgresql|both] [--tests 60] [--queries 150] [--rounds 20]
                                   [--callgrind] [--floor]

Each generated test runs ORM queries (selects with eager loading, session.get, lazy loads on single
objects, Core statements) on in-memory SQLite, or on a real PostgreSQL started with pgserver. Every
pytest run is timed whole, from process start to exit: start-up, collection, fixtures and the
plugin's own work (imports, recording, analysis, summary) all count. The configurations (off, warn)
take turns (which one goes first rotates every round) and byte code is cached for all, as in an
installed package. Printed: the median of the per-round ratios to off (the headline), min and median of
wall time, and of the child's CPU time (pytest's own process; a PostgreSQL server's CPU is not in it).
Goal: <= 5 % wall time.

A separate, untimed census run counts what one test does (statements, loaded objects, lazy loads).
With --callgrind, one more run per mode under valgrind counts CPU instructions: slow, but nearly the
same number every time on a machine whose wall times jitter by several per cent.

With --floor, two reference runs join the rounds (plugin off in both): one with a do_orm_execute
listener that does nothing (what SQLAlchemy itself charges for any such listener), one that also
gives each top-level ORM query a ResultMark and records nothing (the least a detector that tells
query results apart pays with SQLAlchemy's public API). They show how much of the overhead is the
plugin's own recording.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

INSTALLER = Path(__file__).resolve().parents[1] / "installer"

CONFTEST = '''
import os

import pytest
from sqlalchemy import ForeignKey, String, create_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, relationship


class Base(DeclarativeBase):
    pass


class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(30))
    posts: Mapped[list["Post"]] = relationship(back_populates="user")


class Post(Base):
    __tablename__ = "posts"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    title: Mapped[str] = mapped_column(String(30))
    user: Mapped[User] = relationship(back_populates="posts")


@pytest.fixture(scope="session")
def engine():
    engine = create_engine(os.environ.get("BENCH_DB_URL", "sqlite://"))
    Base.metadata.drop_all(engine)
    Base.metadata.create_all(engine)
    with Session(engine) as session:
        for i in range(1, 21):
            user = User(id=i, name=f"u{i}")
            session.add(user)
            session.add_all([Post(id=i * 10 + j, user=user, title=f"t{j}") for j in range(5)])
        session.commit()
    yield engine
    engine.dispose()


@pytest.fixture
def session(engine):
    with Session(engine) as session:
        yield session
'''

TEST = '''
from sqlalchemy import func, select, text
from sqlalchemy.orm import selectinload
from conftest import Post, User


def test_queries_{n}(session):
    for i in range({loops}):
        users = session.scalars(select(User).options(selectinload(User.posts)).limit(5)).all()
        assert all(len(u.posts) == 5 for u in users)
        user = session.get(User, i % 20 + 1)
        assert user.posts  # lazy load on a single object: not an N+1
        session.execute(text("SELECT count(*) FROM posts WHERE user_id = :u"), {{"u": i % 20 + 1}})
        session.scalar(select(func.count()).select_from(Post))
        session.expunge_all()
'''

# Loaded with -p in the census run only (plugin off): counts through SQLAlchemy's events what the
# test bodies do. Never present in a timed run.
CENSUS = '''
import json, os

import pytest
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Mapper, Session

COUNTS = {"tests": 0, "statements": 0, "orm_executions": 0, "loaded_objects": 0, "lazy_loads": 0}
ACTIVE = [False]


def _count(key):
    if ACTIVE[0]:
        COUNTS[key] += 1


event.listen(Engine, "before_cursor_execute", lambda *args: _count("statements"))
event.listen(Mapper, "load", lambda *args: _count("loaded_objects"), raw=True)


@event.listens_for(Session, "do_orm_execute")
def _orm(state):
    _count("orm_executions")
    if state.is_select and state.lazy_loaded_from is not None:
        _count("lazy_loads")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    ACTIVE[0] = True
    COUNTS["tests"] += 1
    try:
        return (yield)
    finally:
        ACTIVE[0] = False


def pytest_unconfigure(config):
    with open(os.environ["BENCH_CENSUS"], "w") as out:
        json.dump(COUNTS, out)
'''


# Loaded with -p in the --floor reference runs (plugin off). The marking reference marks whole runs,
# fixtures included; the generated fixtures run no ORM queries, so it marks what the plugin marks.
FLOOR_LISTENER = '''
from sqlalchemy import event
from sqlalchemy.orm import Session

event.listen(Session, "do_orm_execute", lambda state: None)
'''

FLOOR_MARKS = '''
from itertools import count

from sqlalchemy import event
from sqlalchemy.orm import Session

from dbagents.pytest_plugin.recorder import ResultMark, result_of

NUMBERS = count()


def mark(state):
    if state.is_orm_statement and state.is_select and result_of(state) is None:
        state.statement = state.statement.options(ResultMark(next(NUMBERS)))


event.listen(Session, "do_orm_execute", mark)
'''

# Timed configurations: pytest arguments, and the label printed.
RUNS = {
    "off": (("--dbagents-nplusone=off",), "plugin off"),
    "warn": (("--dbagents-nplusone=warn",), "plugin (warn)"),
    "listener": (("--dbagents-nplusone=off", "-p", "bench_floor_listener"), "floor: no-op do_orm_execute listener"),
    "marks": (("--dbagents-nplusone=off", "-p", "bench_floor_marks"), "floor: listener + one mark per top-level query"),
}


def build(root: Path, tests: int, queries: int) -> None:
    (root / "conftest.py").write_text(CONFTEST)
    (root / "bench_census.py").write_text(CENSUS)
    (root / "bench_floor_listener.py").write_text(FLOOR_LISTENER)
    (root / "bench_floor_marks.py").write_text(FLOOR_MARKS)
    (root / "pytest.ini").write_text("[pytest]\ndbagents_repeat_threshold = 1000000\n")
    loops = max(1, queries // 5)  # ~5 statements per loop
    for n in range(tests):
        (root / f"test_q{n}.py").write_text(TEST.format(n=n, loops=loops))


def _child_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _env(root: Path, url: str, census_file: Path | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env.update(PYTHONPATH=f"{INSTALLER}{os.pathsep}{root}", PYTHONPYCACHEPREFIX=str(root / ".pycache"),
               BENCH_DB_URL=url)
    if census_file is not None:
        env["BENCH_CENSUS"] = str(census_file)
    return env


def _pytest(mode: str) -> list[str]:
    return [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly", "-p", "no:xdist",
            *RUNS[mode][0]]


def run_once(root: Path, url: str, mode: str, census_file: Path | None = None) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of one whole pytest run of the generated suite."""
    extra = ["-p", "bench_census"] if census_file is not None else []
    cpu = _child_cpu()
    start = time.perf_counter()
    done = subprocess.run(
        _pytest(mode) + extra, cwd=root, env=_env(root, url, census_file), capture_output=True, text=True,
    )
    elapsed = time.perf_counter() - start
    cpu = _child_cpu() - cpu
    if done.returncode != 0:
        raise SystemExit(f"benchmark suite failed in mode {mode}:\n{done.stdout[-3000:]}{done.stderr[-2000:]}")
    return elapsed, cpu


def census(root: Path, url: str) -> dict[str, int]:
    out = root / "census.json"
    run_once(root, url, "off", census_file=out)
    return json.loads(out.read_text())


def measure(root: Path, url: str, rounds: int, modes: tuple[str, ...]) -> dict[str, list[tuple[float, float]]]:
    for mode in modes:  # warm the file system cache and write the byte code
        run_once(root, url, mode)
    runs: dict[str, list[tuple[float, float]]] = {mode: [] for mode in modes}
    for number in range(rounds):
        shift = number % len(modes)  # which mode goes first rotates every round
        for mode in modes[shift:] + modes[:shift]:
            runs[mode].append(run_once(root, url, mode))
    return runs


def _callgrind(root: Path, url: str, mode: str) -> subprocess.Popen:
    return subprocess.Popen(
        ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", *_pytest(mode)],
        cwd=root, env={**_env(root, url, None), "PYTHONHASHSEED": "0"},
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def report_instructions(root: Path, url: str, modes: tuple[str, ...]) -> None:
    """CPU instructions of one whole pytest run per mode under valgrind's callgrind (two at a time: they
    count instructions, not time), repeatable on a machine whose wall times jitter."""
    counted = {}
    for start in range(0, len(modes), 2):
        runs = {mode: _callgrind(root, url, mode) for mode in modes[start:start + 2]}
        for mode, process in runs.items():
            stdout, stderr = process.communicate()
            counts = [int(n) for n in re.findall(r"Collected : (\d+)", stderr)]
            if process.returncode != 0 or not counts:
                raise SystemExit(f"callgrind run failed in mode {mode}:\n{stdout[-2000:]}{stderr[-2000:]}")
            counted[mode] = max(counts)  # the pytest process (a helper child process may report too)
    off = counted["off"]
    print(f"  instructions (callgrind, one run each): off {off / 1e9:.3f} G")
    for mode in modes[1:]:
        print(f"    {RUNS[mode][1]}: {counted[mode] / 1e9:.3f} G, overhead {100 * (counted[mode] / off - 1):+.1f} %")


def report(label: str, counts: dict[str, int], runs: dict[str, list[tuple[float, float]]]) -> None:
    tests = counts["tests"] or 1
    statements = counts["statements"]
    print(f"{label}: {counts['tests']} tests, {len(runs['off'])} rounds per mode; per test "
          f"{statements // tests} statements, {counts['orm_executions'] // tests} ORM executions, "
          f"{counts['loaded_objects'] // tests} loaded objects, {counts['lazy_loads'] // tests} lazy loads")
    for mode in runs:
        if mode == "off":
            continue
        print(f"  {RUNS[mode][1]}:")
        for kind, index in (("wall", 0), ("cpu", 1)):
            off = [r[index] for r in runs["off"]]
            on = [r[index] for r in runs[mode]]
            ratios = sorted(100 * (b / a - 1) for a, b in zip(off, on))
            low, middle, high = statistics.quantiles(ratios, n=4) if len(ratios) > 1 else ratios * 3
            per_statement = 1e6 * (statistics.median(on) - statistics.median(off)) / max(statements, 1)
            print(f"    {kind:4s} overhead {middle:+5.1f} % (median of per-round ratios; quartiles {low:+.1f} .. "
                  f"{high:+.1f} %); off min {min(off):.3f} s / median {statistics.median(off):.3f} s, "
                  f"{mode} min {min(on):.3f} s / median {statistics.median(on):.3f} s "
                  f"({per_statement:+.1f} us per statement)")


def _postgres(tmp: Path):
    """A throwaway PostgreSQL server (pgserver) and the SQLAlchemy URL of a fresh database in it."""
    try:
        with warnings.catch_warnings():  # platformdirs warns when XDG_RUNTIME_DIR is unset
            warnings.simplefilter("ignore")
            import pgserver
        import psycopg
    except ImportError as error:
        raise SystemExit(f"--db postgresql needs pgserver and psycopg ({error}); pip install 'dbagents[dev]'")
    server = pgserver.get_server(str(tmp / "pg"), cleanup_mode="delete")
    with psycopg.connect(server.get_uri(), autocommit=True) as conn:
        conn.execute('CREATE DATABASE "bench"')
    base, _, query = server.get_uri().partition("?")
    url = re.sub(r"^postgres(ql)?://", "postgresql+psycopg://", base.rsplit("/", 1)[0] + "/bench")
    return server, f"{url}?{query}" if query else url


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=("sqlite", "postgresql", "both"), default="sqlite")
    parser.add_argument("--tests", type=int, default=60)
    parser.add_argument("--queries", type=int, default=150, help="statements per test (about)")
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--callgrind", action="store_true",
                        help="also count CPU instructions of one run per mode under valgrind (slow, repeatable)")
    parser.add_argument("--floor", action="store_true",
                        help="also time a no-op do_orm_execute listener, and that listener plus result marks")
    args = parser.parse_args()
    modes = ("off", "warn", "listener", "marks") if args.floor else ("off", "warn")
    if args.callgrind and shutil.which("valgrind") is None:
        raise SystemExit("--callgrind needs valgrind on PATH")
    databases = ("sqlite", "postgresql") if args.db == "both" else (args.db,)
    tmp = Path(tempfile.mkdtemp(prefix="dbagents-bench-"))
    server = None
    try:
        root = tmp / "suite"
        root.mkdir()
        build(root, args.tests, args.queries)
        for database in databases:
            if database == "postgresql":
                server, url = _postgres(tmp)
                label = "PostgreSQL (pgserver, psycopg 3, Unix socket)"
            else:
                url, label = "sqlite://", "SQLite (in memory)"
            counts = census(root, url)
            report(label, counts, measure(root, url, args.rounds, modes))
            if args.callgrind:
                report_instructions(root, url, modes)
    finally:
        if server is not None:
            server.cleanup()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
