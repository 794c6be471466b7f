"""Which Python runs the project's env.py, what it has installed, and which PostgreSQL driver the URL names.

The worker runs in the project's own interpreter, with the project's SQLAlchemy (1.3, 1.4 or 2.x) and driver.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from dbagents.errors import InputError

DRIVERS = ("psycopg", "psycopg2", "asyncpg", "pg8000")
# SQLAlchemy dialect driver name -> module it imports
DRIVER_MODULES = {"psycopg": "psycopg", "psycopg2": "psycopg2", "psycopg2cffi": "psycopg2cffi",
                  "asyncpg": "asyncpg", "pg8000": "pg8000"}
PROBE = """
import sys
sys.path[:] = [p for p in sys.path if p not in ("", ".")]  # the working directory may be a package's folder
import importlib, json
out = {"python": sys.version.split()[0], "executable": sys.executable, "drivers": []}
for name in ("sqlalchemy", "alembic"):
    try:
        out[name] = getattr(importlib.import_module(name), "__version__", "0")
    except Exception as exc:
        out[name] = None
        out[name + "_error"] = type(exc).__name__ + ": " + str(exc).splitlines()[0] if str(exc) else type(exc).__name__
for name in %r:
    try:
        importlib.import_module(name)
        out["drivers"].append(name)
    except Exception:
        pass
print("DBAGENTS-PROBE " + json.dumps(out))
""" % (tuple(DRIVER_MODULES.values()),)


@dataclass(frozen=True)
class Interpreter:
    python: str
    how: str  # why this one, for the stderr note
    sqlalchemy: str
    alembic: str
    drivers: tuple[str, ...]

    @property
    def sqlalchemy_version(self) -> tuple[int, ...]:
        return tuple(int(p) for p in re.findall(r"\d+", self.sqlalchemy)[:2]) or (0,)


def _venv_python(venv: Path) -> Path | None:
    for candidate in (venv / "bin" / "python", venv / "Scripts" / "python.exe"):
        if candidate.is_file():
            return candidate
    return None


def choose_python(configured: str, folders: list[Path]) -> tuple[str, str]:
    """[tool.dbagents.scratch] python, else the active virtualenv, else .venv/venv in the project, else ours."""
    if configured:
        path = Path(configured).expanduser()
        if not path.is_absolute() and len(path.parts) > 1:
            path = folders[0] / path
        found = str(path) if path.is_absolute() or len(path.parts) > 1 else shutil.which(configured)
        if not found or not Path(found).is_file():
            raise InputError(f"[tool.dbagents.scratch] python {configured!r} not found; name the interpreter of "
                             "the project's virtualenv (e.g. \".venv/bin/python\")")
        return found, "[tool.dbagents.scratch] python"
    active = os.environ.get("VIRTUAL_ENV")
    if active and _venv_python(Path(active)):
        return str(_venv_python(Path(active))), f"the active virtualenv {active}"
    for folder in dict.fromkeys(folders):
        for name in (".venv", "venv"):
            python = _venv_python(folder / name)
            if python:
                return str(python), f"the project's {name}"
    return sys.executable, "the interpreter running dbagents"


def probe(python: str, how: str, *, cwd: Path, env: dict[str, str]) -> Interpreter:
    """Ask the interpreter (once) for its SQLAlchemy, Alembic and PostgreSQL drivers."""
    try:
        proc = subprocess.run([python, "-c", PROBE], cwd=cwd, env=env, capture_output=True, text=True,
                              stdin=subprocess.DEVNULL, timeout=120)
    except FileNotFoundError:
        raise InputError(f"--scratch: interpreter {python} ({how}) not found") from None
    except (OSError, subprocess.SubprocessError) as exc:
        raise InputError(f"--scratch: cannot run {python} ({how}): {exc}") from None
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("DBAGENTS-PROBE ")), "")
    if not line:
        detail = next((ln.strip() for ln in reversed(proc.stderr.splitlines()) if ln.strip()), "no output")
        raise InputError(f"--scratch: cannot run {python} ({how}): {detail}")
    facts = json.loads(line.split(" ", 1)[1])
    missing = [name for name in ("sqlalchemy", "alembic") if not facts.get(name)]
    if missing:
        labels = " and ".join({"sqlalchemy": "SQLAlchemy", "alembic": "Alembic"}[m] for m in missing)
        detail = "; ".join(facts.get(f"{m}_error", "") for m in missing if facts.get(f"{m}_error"))
        raise InputError(f"--scratch runs env.py with {python} ({how}), which has no {labels} ({detail}); "
                         "install the project's dependencies there, or set [tool.dbagents.scratch] python to the "
                         "interpreter of the project's virtualenv")
    return Interpreter(python, how, facts["sqlalchemy"], facts["alembic"], tuple(facts["drivers"]))


def configured_driver(urls: list[str]) -> str | None:
    """The driver the project's own PostgreSQL URL names (no driver = SQLAlchemy's default, psycopg2)."""
    for url in urls:
        match = re.match(r"^postgres(?:ql)?(?:\+(\w+))?://", (url or "").strip())
        if match:
            return match.group(1) or "psycopg2"
    return None


def choose_driver(interp: Interpreter, urls: list[str]) -> tuple[str, str]:
    """(driver, why): the project's configured driver if installed, else psycopg (SQLAlchemy 2), else psycopg2."""
    usable = {d for d, module in DRIVER_MODULES.items() if module in interp.drivers}
    if interp.sqlalchemy_version < (2, 0):
        usable.discard("psycopg")  # the psycopg 3 dialect arrived in SQLAlchemy 2.0
    if interp.sqlalchemy_version < (1, 4):
        usable.discard("asyncpg")
    wanted = configured_driver(urls)
    if wanted and wanted in usable:
        return wanted, "the project's configured driver"
    for driver in ("psycopg", "psycopg2"):
        if driver in usable:
            return driver, "installed" + (f"; the configured {wanted} is not" if wanted else "")
    choices = "'psycopg2-binary' (or 'psycopg[binary]')" if interp.sqlalchemy_version >= (2, 0) else "psycopg2-binary"
    raise InputError(f"--scratch: {interp.python} ({interp.how}) has SQLAlchemy {interp.sqlalchemy} but no "
                     f"PostgreSQL driver it can use; install one there: {interp.python} -m pip install {choices}")
