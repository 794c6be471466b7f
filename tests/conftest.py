"""Shared fixtures: a real PostgreSQL server for the whole test session (embedded pgserver, or local binaries)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO


@pytest.fixture(scope="session", autouse=True)
def _private_result_cache(tmp_path_factory):
    """`dbagents check` keeps its result cache per user; tests (and the CLIs they start) use their own."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DBAGENTS_CACHE_DIR", str(tmp_path_factory.mktemp("dbagents-cache")))
        yield


@pytest.fixture(scope="session")
def pg_server(tmp_path_factory):
    """A throwaway PostgreSQL server (embedded pgserver); yields an object with `.uri(dbname)` and `.createdb()`."""
    pytest.importorskip("psycopg")
    try:
        import pgserver
    except ImportError:  # pragma: no cover - Python 3.13 without a pgserver wheel
        pytest.skip("pgserver is not installed; install dbagents[dev]")
    # Not under pytest's basetemp: its retention policy may delete old run folders while a server lives there,
    # and pgserver (as root) must make every parent folder traversable for its unprivileged user.
    data = Path(tempfile.mkdtemp(prefix="dbagents-pg-"))
    server = pgserver.get_server(str(data), cleanup_mode="delete")
    try:
        yield _PG(server)
    finally:
        server.cleanup()
        shutil.rmtree(data, ignore_errors=True)


class _PG:
    def __init__(self, server):
        self._server = server
        self._counter = 0

    def uri(self, dbname: str = "postgres") -> str:
        base = self._server.get_uri()  # postgresql://postgres:@/postgres?host=/tmp/...
        head, _, query = base.partition("?")
        head = head.rsplit("/", 1)[0] + "/" + dbname
        return f"{head}?{query}" if query else head

    def createdb(self, prefix: str = "t") -> str:
        """Create a fresh empty database and return its URI."""
        import psycopg

        self._counter += 1
        name = f"{prefix}_{os.getpid()}_{self._counter}"
        with psycopg.connect(self.uri(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.uri(name)


@pytest.fixture
def run_cli(tmp_path):
    """Run the real `dbagents` CLI in a subprocess; returns CompletedProcess (text)."""

    def run(*args, cwd=None, input=None, env=None):
        # A DATABASE_URL of the developer's shell must not leak into tests; a test may pass its own.
        full_env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
        full_env.update(env or {})
        return subprocess.run(
            [sys.executable, "-m", "dbagents", *map(str, args)],
            cwd=cwd or tmp_path,
            input=input,
            capture_output=True,
            text=True,
            env=full_env,
            timeout=600,
        )

    return run
