"""Shared helpers for the N+1 plugin tests: a SQLAlchemy 2.0 venv and a small user project.

Not a test module itself (no tests here); imported by tests/test_nplusone_*.py.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import re
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
INSTALLER = REPO / "installer"

MODELS = '''
from __future__ import annotations

from sqlalchemy import ForeignKey, String
from sqlalchemy.ext.asyncio import AsyncAttrs
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class Base(AsyncAttrs, DeclarativeBase):
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
    user: Mapped[User] = relationship(back_populates="posts")
    comments: Mapped[list["Comment"]] = relationship(back_populates="post")


class Comment(Base):
    __tablename__ = "comments"
    id: Mapped[int] = mapped_column(primary_key=True)
    post_id: Mapped[int] = mapped_column(ForeignKey("posts.id"))
    post: Mapped[Post] = relationship(back_populates="comments")
'''

# Three users, two posts each, one comment per post. SCN_URL / SCN_AURL choose the database.
CONFTEST = '''
from __future__ import annotations

import asyncio
import os

import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from scn_models import Base, Comment, Post, User

URL = os.environ["SCN_URL"]
AURL = os.environ["SCN_AURL"]


@pytest.fixture(scope="session")
def engine():
    engine = create_engine(URL)
    Base.metadata.drop_all(engine)
    Base.metadata.create_all(engine)
    with Session(engine) as session:
        for i in range(1, 4):
            user = User(id=i, name=f"user{i}")
            session.add(user)
            for j in range(2):
                post = Post(id=i * 10 + j, user=user)
                session.add_all([post, Comment(id=i * 100 + j, post=post)])
        session.commit()
    yield engine
    engine.dispose()


@pytest.fixture
def session(engine):
    with Session(engine) as session:
        yield session


@pytest.fixture
def lazy_fixture(session):
    """An N+1 inside a fixture: not the test's fault, never reported."""
    for user in session.scalars(select(User)):
        user.posts
    session.expunge_all()
    return session


def run_async(body):
    async def main():
        from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine

        engine = create_async_engine(AURL)
        try:
            async with AsyncSession(engine) as session:
                return await body(session)
        finally:
            await engine.dispose()

    return asyncio.run(main())
'''


def cache_dir() -> Path:
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "dbagents-tests"


@contextmanager
def _locked(path: Path):
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _sa_version(python: Path) -> str | None:
    if not python.exists():
        return None
    done = subprocess.run(
        [str(python), "-c", "import sqlalchemy, greenlet, aiosqlite, pytest; print(sqlalchemy.__version__)"],
        capture_output=True,
        text=True,
    )
    return done.stdout.strip() if done.returncode == 0 else None


def _see_parent_packages(python: Path) -> None:
    """Append this interpreter's site-packages to the venv's path (a .pth file in the venv's site-packages)."""
    own = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                         capture_output=True, text=True, check=True).stdout.strip()
    parents = [p for p in sys.path if p.endswith("-packages") and Path(p).is_dir()]
    Path(own, "zz_parent_packages.pth").write_text("".join(f"{p}\n" for p in parents), encoding="utf-8")


def sa20_python() -> str:
    """A cached venv that sees this interpreter's packages but has SQLAlchemy 2.0.x on top.

    Built once (one `pip install 'sqlalchemy>=2.0,<2.1'`), reused by later runs; the code under test
    comes from this checkout through PYTHONPATH (see `subprocess_env`). The running interpreter's own
    site-packages are appended through a .pth file (after the venv's own), which also works when the tests
    run inside a virtualenv (`--system-site-packages` would only see the base interpreter's packages).
    """
    key = hashlib.sha256(sys.executable.encode()).hexdigest()[:10]
    venv = cache_dir() / f"sa20-py{sys.version_info[0]}{sys.version_info[1]}-{key}"
    python = venv / "bin" / "python"
    with _locked(cache_dir() / f"{venv.name}.lock"):
        version = _sa_version(python)
        if not (version or "").startswith("2.0."):
            subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
            _see_parent_packages(python)
            subprocess.run(
                [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", "sqlalchemy>=2.0,<2.1"],
                check=True,
            )
            version = _sa_version(python)
        if not (version or "").startswith("2.0."):
            raise RuntimeError(f"could not build a SQLAlchemy 2.0 venv at {venv} (got {version!r})")
    return str(python)


def serializer_python() -> str:
    """A cached venv that sees this interpreter's packages and has pydantic 2 installed into its own
    site-packages: a serializer library whose frames touch ORM attributes (`model_validate`)."""
    key = hashlib.sha256(sys.executable.encode()).hexdigest()[:10]
    venv = cache_dir() / f"pydantic2-py{sys.version_info[0]}{sys.version_info[1]}-{key}"
    python = venv / "bin" / "python"
    probe = "import pydantic, sqlalchemy, pytest; print(pydantic.VERSION, pydantic.__file__)"
    with _locked(cache_dir() / f"{venv.name}.lock"):
        done = subprocess.run([str(python), "-c", probe], capture_output=True, text=True) if python.exists() else None
        if done is None or done.returncode != 0 or not done.stdout.startswith("2."):
            subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
            _see_parent_packages(python)
            subprocess.run([str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check",
                            "--ignore-installed", "pydantic>=2,<3"], check=True)
            done = subprocess.run([str(python), "-c", probe], capture_output=True, text=True, check=True)
        if "site-packages" not in done.stdout or not done.stdout.startswith("2."):
            raise RuntimeError(f"could not build a pydantic 2 venv at {venv}: {done.stdout!r}")
    return str(python)


def subprocess_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "DBAGENTS_"))}
    env["PYTHONPATH"] = os.pathsep.join([str(INSTALLER), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env.update(extra)
    return env


def write_project(root: Path, tests: dict[str, str], ini: str = "") -> None:
    root.mkdir(parents=True, exist_ok=True)
    (root / "scn_models.py").write_text(MODELS)
    (root / "conftest.py").write_text(CONFTEST)
    (root / "pytest.ini").write_text("[pytest]\n" + ini)
    for name, body in tests.items():
        (root / name).write_text(body)


def run_pytest(python: str, root: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [python, "-m", "pytest", "-p", "no:cacheprovider", "-p", "no:randomly", *args],
        cwd=root,
        env=subprocess_env(**env),
        capture_output=True,
        text=True,
        timeout=600,
    )


def sqlite_urls(root: Path) -> dict[str, str]:
    db = root / "scn.sqlite"
    return {"SCN_URL": f"sqlite:///{db}", "SCN_AURL": f"sqlite+aiosqlite:///{db}"}


def postgres_urls(uri: str) -> dict[str, str]:
    url = re.sub(r"^postgres(ql)?://", "postgresql+psycopg://", uri)
    return {"SCN_URL": url, "SCN_AURL": url}


def line_of(source: str, marker: str) -> int:
    """Line number (1-based) in `source` of the line carrying the comment `# MARKER`."""
    return next(n for n, line in enumerate(source.splitlines(), 1) if re.search(rf"# {marker}\b", line))


def expected_markers(source: str) -> set[tuple[str, int, str]]:
    """`# EXPECT DBA401 User.posts` comments -> {(rule, line, object)}."""
    found = set()
    for number, line in enumerate(source.splitlines(), 1):
        match = re.search(r"# EXPECT (DBA4\d\d)(?: (\S+))?", line)
        if match:
            found.add((match.group(1), number, match.group(2) or ""))
    return found
