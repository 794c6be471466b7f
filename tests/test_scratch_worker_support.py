"""Helpers for the scratch worker tests: run `_worker.py` the way the runner does (a subprocess in the project's
directory, a request file in, a result file out) against a database on the session's real PostgreSQL."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
WORKER = REPO / "installer" / "dbagents" / "scratch" / "_worker.py"
FIXTURES = Path(__file__).parent / "fixtures"


def sa_url(pg_url: str, driver: str = "psycopg") -> str:
    """The pg_server fixture's libpq URL as a SQLAlchemy URL with `driver`."""
    return pg_url.replace("postgresql://", f"postgresql+{driver}://", 1)


def copy_fixture(target: Path, *layers: str, files: dict[str, str] | None = None) -> Path:
    """tests/fixtures/`layers` copied over each other at `target` (e.g. "scratch_base", "scratch_settings_url"),
    then `files` (relative path -> text) written over them."""
    for layer in layers:
        shutil.copytree(FIXTURES / layer, target, dirs_exist_ok=True)
    for rel, text in (files or {}).items():
        path = target / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return target


def run_worker(project: Path, url: str, *, phase: str = "up", ini: str = "alembic.ini", python: str | None = None,
               env: dict[str, str] | None = None, tmp: Path | None = None, **request) -> dict:
    """Run the worker on `project` against `url`; returns the result JSON (asserts the worker wrote one).

    Request and result files go to `tmp`, else to a temporary directory removed afterwards (never beside a
    fixture in the repository)."""
    if tmp is None:
        with tempfile.TemporaryDirectory(prefix="dbagents-worker-test-") as own:
            return run_worker(project, url, phase=phase, ini=ini, python=python, env=env, tmp=Path(own), **request)
    req_path, res_path = tmp / f"{project.name}-{phase}-request.json", tmp / f"{project.name}-{phase}-result.json"
    res_path.unlink(missing_ok=True)
    body = {"project_root": str(project), "ini": str(project / ini), "url": url, "phase": phase,
            "extension_hint": "(extension hint)", **request}
    req_path.write_text(json.dumps(body), encoding="utf-8")
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("PG") and k != "DATABASE_URL"}
    full_env.update({"DATABASE_URL": url, "PYTHONPATH": str(project), "PYTHONDONTWRITEBYTECODE": "1"})
    full_env.update(env or {})
    done = subprocess.run([python or sys.executable, str(WORKER), str(req_path), str(res_path)], cwd=project,
                          env=full_env, capture_output=True, text=True, timeout=600, stdin=subprocess.DEVNULL)
    assert res_path.is_file(), f"the worker wrote no result (exit {done.returncode}):\n{done.stdout}\n{done.stderr}"
    return json.loads(res_path.read_text(encoding="utf-8"))


def run_both(project: Path, url: str, **kwargs) -> tuple[dict, dict | None]:
    """The up phase, then (when it applied revisions and has no fatal) the down phase, as the runner does."""
    up = run_worker(project, url, **kwargs)
    if up.get("fatal") or not up.get("applied"):
        return up, None
    down = run_worker(project, url, phase="down", applied=up["applied"], snapshots=up["snapshots"], **kwargs)
    return up, down


def messages(result: dict, rule: str) -> list[str]:
    return [f["message"] for f in result["findings"] if f["rule"] == rule]


# ---------------------------------------------------------------------------------------------- project venvs

# Isolated interpreters standing in for projects pinned to other SQLAlchemy versions or using other drivers.
# Built once under ~/.cache/dbagents-tests (pip install from the package index), reused by later runs.
PROJECT_VENVS: dict[str, tuple[str, ...]] = {
    "sa13": ("sqlalchemy>=1.3,<1.4", "alembic>=1.7,<1.14", "psycopg2-binary>=2.9"),
    "sa14": ("sqlalchemy>=1.4,<2", "alembic>=1.7,<1.14", "psycopg2-binary>=2.9", "asyncpg>=0.27", "greenlet>=1"),
    "sa2drivers": ("sqlalchemy>=2,<3", "alembic>=1.12", "psycopg[binary]>=3.1", "psycopg2-binary>=2.9",
                   "asyncpg>=0.27", "pg8000>=1.29", "pymysql>=1", "greenlet>=1"),
}
PROBE = "import sqlalchemy, alembic; print(sqlalchemy.__version__)"


def _cache_dir() -> Path:
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "dbagents-tests"


def project_python(name: str) -> str:
    """The interpreter of the cached venv `name` (see PROJECT_VENVS), built on first use."""
    import fcntl
    import hashlib

    requirements = PROJECT_VENVS[name]
    key = hashlib.sha256("\n".join((sys.executable, *requirements)).encode()).hexdigest()[:10]
    venv = _cache_dir() / f"scratch-{name}-py{sys.version_info[0]}{sys.version_info[1]}-{key}"
    python = venv / "bin" / "python"
    venv.parent.mkdir(parents=True, exist_ok=True)
    with open(venv.parent / f"{venv.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        ready = venv / ".ready"
        if not ready.is_file():
            subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
            subprocess.run([str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", *requirements],
                           check=True)
            subprocess.run([str(python), "-c", PROBE], check=True, capture_output=True)
            ready.write_text("ok", encoding="utf-8")
        fcntl.flock(lock, fcntl.LOCK_UN)
    return str(python)
