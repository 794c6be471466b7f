"""Overhead of the N+1 pytest plugin: one query-heavy suite, run with the plugin off and on.

    python bench/bench_nplusone.py [--tests 60] [--queries 150] [--rounds 5]

Each generated test runs ORM queries on SQLite (selects with eager loading, session.get, lazy loads
on single objects, Core statements). Runs alternate off/warn to spread machine noise; min and median of wall time and
of the child's CPU time (less sensitive to a busy machine) are printed. Goal: <= 5 % wall time.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

INSTALLER = Path(__file__).resolve().parents[1] / "installer"

CONFTEST = '''
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
    engine = create_engine("sqlite://")
    Base.metadata.create_all(engine)
    with Session(engine) as session:
        for i in range(1, 21):
            user = User(id=i, name=f"u{i}")
            session.add(user)
            session.add_all([Post(id=i * 10 + j, user=user, title=f"t{j}") for j in range(5)])
        session.commit()
    return engine


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


def build(root: Path, tests: int, queries: int) -> None:
    (root / "conftest.py").write_text(CONFTEST)
    (root / "pytest.ini").write_text("[pytest]\ndbagents_repeat_threshold = 1000000\n")
    loops = max(1, queries // 5)  # ~5 statements per loop
    for n in range(tests):
        (root / f"test_q{n}.py").write_text(TEST.format(n=n, loops=loops))


def _child_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_once(root: Path, mode: str) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of one pytest run of the generated suite."""
    env = {**os.environ, "PYTHONPATH": str(INSTALLER), "PYTHONDONTWRITEBYTECODE": "1"}
    cpu = _child_cpu()
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly",
         f"--dbagents-nplusone={mode}"],
        cwd=root, env=env, capture_output=True, text=True,
    )
    elapsed = time.perf_counter() - start
    cpu = _child_cpu() - cpu
    if done.returncode != 0:
        raise SystemExit(f"benchmark suite failed in mode {mode}:\n{done.stdout[-3000:]}{done.stderr[-2000:]}")
    return elapsed, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tests", type=int, default=60)
    parser.add_argument("--queries", type=int, default=150, help="statements per test (about)")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="dbagents-bench-") as tmp:
        root = Path(tmp)
        build(root, args.tests, args.queries)
        run_once(root, "off")  # warm the file system cache and imports
        runs: dict[str, list[tuple[float, float]]] = {"off": [], "warn": []}
        for _ in range(args.rounds):
            for mode in ("off", "warn"):
                runs[mode].append(run_once(root, mode))
    statements = args.tests * max(1, args.queries // 5) * 6
    print(f"suite: {args.tests} tests, ~{statements} SQL statements, {args.rounds} rounds per mode")
    for label, index in (("wall", 0), ("cpu", 1)):
        off = [r[index] for r in runs["off"]]
        on = [r[index] for r in runs["warn"]]
        for name, pick in (("min", min), ("median", statistics.median)):
            base, plugin = pick(off), pick(on)
            print(
                f"{label:4s} {name:6s}: off {base:.3f} s, warn {plugin:.3f} s, overhead "
                f"{100 * (plugin - base) / base:+.1f} % ({1e6 * (plugin - base) / statements:+.1f} us per statement)"
            )


if __name__ == "__main__":
    main()
