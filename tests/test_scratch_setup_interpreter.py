"""--scratch runs env.py in the project's own interpreter: a virtualenv with SQLAlchemy 1.4 and psycopg2 only
(no psycopg 3, nothing from the interpreter running dbagents), found as the project's .venv or named in
[tool.dbagents.scratch] python. The venv is built once (pip) and cached under ~/.cache/dbagents-tests."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from test_nplusone_support import _locked, cache_dir

pytest.importorskip("psycopg")

FIXTURE = Path(__file__).parent / "fixtures" / "scratch_setup_sa14"
PINS = ("sqlalchemy>=1.4,<1.5", "alembic", "psycopg2-binary")


def _versions(python: Path) -> str | None:
    if not python.exists():
        return None
    done = subprocess.run([str(python), "-c", "import sqlalchemy, alembic, psycopg2; print(sqlalchemy.__version__)"],
                          capture_output=True, text=True)
    return done.stdout.strip() if done.returncode == 0 else None


def sa14_venv() -> Path:
    """A cached venv of its own (no system or parent site-packages): SQLAlchemy 1.4, Alembic, psycopg2."""
    key = hashlib.sha256(f"{sys.executable} {PINS}".encode()).hexdigest()[:10]
    venv = cache_dir() / f"scratch-sa14-py{sys.version_info[0]}{sys.version_info[1]}-{key}"
    python = venv / "bin" / "python"
    with _locked(cache_dir() / f"{venv.name}.lock"):
        if not (_versions(python) or "").startswith("1.4."):
            subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
            subprocess.run([str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", *PINS],
                           check=True)
        if not (_versions(python) or "").startswith("1.4."):
            raise RuntimeError(f"could not build a SQLAlchemy 1.4 venv at {venv}")
    return venv


@pytest.fixture(scope="module")
def venv() -> Path:
    return sa14_venv()


def _findings(stdout: str) -> list[tuple[str, str]]:
    return [(f["rule"], f"{f['path']}: {f['message']}") for f in json.loads(stdout)["findings"]]


@pytest.mark.slow
def test_project_venv_with_sqlalchemy_14_and_psycopg2(run_cli, tmp_path, venv):
    project = tmp_path / "library"
    shutil.copytree(FIXTURE, project)
    os.symlink(venv, project / ".venv")
    result = run_cli("check", "--scratch", "--no-cache", "--format", "json", cwd=project, env={"VIRTUAL_ENV": ""})
    assert result.returncode == 1, result.stderr
    assert f"interpreter {project / '.venv' / 'bin' / 'python'} (the project's .venv; SQLAlchemy 1.4." in result.stderr
    assert "driver psycopg2 (the project's configured driver)" in result.stderr
    found = _findings(result.stdout)
    assert any(rule == "DBA214" and "public.reviews does not exist" in text for rule, text in found)
    assert any(rule == "DBA301" and "public.books(author_id)" in text for rule, text in found)
    assert not any(rule == "DBA215" for rule, _ in found)  # both downgrades restore the schema


@pytest.mark.slow
def test_configured_python_and_a_project_url_naming_psycopg3(run_cli, tmp_path, venv):
    project = tmp_path / "library"
    shutil.copytree(FIXTURE, project)
    ini = project / "alembic.ini"
    ini.write_text(ini.read_text().replace("postgresql://lib:", "postgresql+psycopg://lib:"))
    (project / "pyproject.toml").write_text(f'[tool.dbagents.scratch]\npython = "{venv / "bin" / "python"}"\n')
    result = run_cli("check", "migrations", "--scratch", "--no-cache", "--format", "json", cwd=project)
    assert result.returncode == 1, result.stderr
    assert "([tool.dbagents.scratch] python; SQLAlchemy 1.4." in result.stderr
    assert "driver psycopg2 (installed; the configured psycopg is not)" in result.stderr
    assert any(rule == "DBA214" for rule, _ in _findings(result.stdout))


@pytest.mark.slow
def test_interpreter_without_alembic_is_a_clear_error(run_cli, tmp_path):
    bare = tmp_path / "bare"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(bare)], check=True)
    project = tmp_path / "library"
    shutil.copytree(FIXTURE, project)
    (project / "pyproject.toml").write_text(f'[tool.dbagents.scratch]\npython = "{bare / "bin" / "python"}"\n')
    result = run_cli("check", "--scratch", "--no-cache", cwd=project)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    error = result.stderr.strip().splitlines()[-1]
    assert error.startswith(f"dbagents: error: --scratch runs env.py with {bare / 'bin' / 'python'} "
                            "([tool.dbagents.scratch] python), which has no SQLAlchemy and Alembic")
    assert "library/models.py:4:1: DBA101 [warning]" in result.stdout  # the static findings were printed first
