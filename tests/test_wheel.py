"""Build the wheel, install it into a fresh venv and run *that* `dbagents` against a temporary project:
proves the wheel (with its bundle under dbagents/_bundle), not the checkout, works."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import time
import venv
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
EXPECTED = {
    "agents": ["db-expert.md", "python-database-administrator.md"],
    "commands": [
        "validate-alembic-migrations.md",
        "validate-database-performance.md",
        "validate-database-schema.md",
        "validate-database-security.md",
        "validate-sqlalchemy-models.md",
    ],
    "context/database": ["postgresql-standards.mdc", "python-sqlalchemy-standards.mdc"],
}

pytestmark = pytest.mark.slow


def _clean_env(home: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "DBAGENTS_", "VIRTUAL_ENV"))}
    env["HOME"] = str(home)
    return env


@pytest.fixture(scope="module")
def wheel_venv(tmp_path_factory):
    """(wheel path, venv bin folder), built once for this module."""
    work = tmp_path_factory.mktemp("wheel")
    started = time.monotonic()
    cmd = [sys.executable, "-m", "build", "--wheel", "--outdir", str(work / "dist"), str(REPO)]
    if importlib.util.find_spec("hatchling") is not None:
        cmd.insert(4, "--no-isolation")  # use the installed backend: fast, works offline
    built = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert built.returncode == 0, built.stdout[-2000:] + built.stderr[-2000:]
    wheel = next((work / "dist").glob("dbagents-*.whl"))
    # Fresh venv; the core deps (click, pyyaml, jsonschema) come from this interpreter's site-packages,
    # dbagents itself only from the wheel (checked below: it must not resolve to the checkout).
    venv.EnvBuilder(with_pip=True, system_site_packages=True).create(work / "venv")
    bindir = work / "venv" / "bin"
    inst = subprocess.run([str(bindir / "python"), "-m", "pip", "install", "--no-deps", "--no-index",
                           "--disable-pip-version-check", "--quiet", str(wheel)],
                          capture_output=True, text=True, timeout=300)
    assert inst.returncode == 0, inst.stderr
    print(f"wheel built and installed in {time.monotonic() - started:.1f}s")
    return wheel, bindir


def test_wheel_carries_the_bundle_and_no_installer_module(wheel_venv):
    wheel, _ = wheel_venv
    names = zipfile.ZipFile(wheel).namelist()
    for folder, files in EXPECTED.items():
        for name in files:
            assert f"dbagents/_bundle/{folder}/{name}" in names
    assert not [n for n in names if n.startswith("installer/")]
    assert "dbagents/install/cli.py" in names


def test_wheel_dbagents_installs_the_bundle_into_a_project(wheel_venv, tmp_path):
    _, bindir = wheel_venv
    project, home = tmp_path / "project", tmp_path / "home"
    project.mkdir(), home.mkdir()
    env = _clean_env(home)
    exe = str(bindir / "dbagents")

    version = subprocess.run([exe, "--version"], cwd=project, env=env, capture_output=True, text=True)
    assert version.returncode == 0, version.stderr
    from dbagents import __version__

    assert version.stdout.strip() == f"dbagents, version {__version__}"

    where = subprocess.run(
        [str(bindir / "python"), "-c", "import dbagents, dbagents.bundle as b; print(dbagents.__file__); print(b.bundle_root())"],
        cwd=project, env=env, capture_output=True, text=True,
    )
    module_file, bundle_root = where.stdout.split()
    venv_root = str(bindir.parent)
    assert module_file.startswith(venv_root) and bundle_root.startswith(venv_root), where.stdout
    assert bundle_root.endswith("_bundle")

    started = time.monotonic()
    res = subprocess.run([exe, "install"], cwd=project, env=env, capture_output=True, text=True, timeout=120)
    elapsed = time.monotonic() - started
    assert res.returncode == 0, res.stdout + res.stderr
    claude = project / ".claude"
    for folder, files in EXPECTED.items():
        assert sorted(p.name for p in (claude / folder).iterdir() if p.is_file()) == files, folder
    assert "9 created" in res.stdout
    print(f"dbagents install from the wheel: {elapsed:.2f}s")

    res = subprocess.run([exe, "status", "--format", "json"], cwd=project, env=env, capture_output=True, text=True)
    assert res.returncode == 0 and '"installed": true' in res.stdout
