"""The project's Alembic setup as --scratch needs it, read from files: nothing here imports or runs user code.

Which alembic.ini (./alembic.ini, else the only one one or two folders down, e.g. Flask-Migrate's
migrations/alembic.ini), which section, where env.py and the revisions are, which folder Alembic runs from,
and the Flask app factory a Flask-Migrate env.py needs.
"""

from __future__ import annotations

import ast
import configparser
import os
import re
from dataclasses import dataclass
from pathlib import Path

from dbagents.errors import InputError

SKIP_DIRS = {"node_modules", "__pycache__", "site-packages", "build", "dist", "venv", "env"}
TEST_DIRS = {"test", "tests", "testing"}
CREATE_EXTENSION = re.compile(r"create\s+extension\s+(?:if\s+not\s+exists\s+)?[\"'\\]*([\w-]+)", re.IGNORECASE)
APP_FILES = ("__init__.py", "app.py", "wsgi.py")


@dataclass(frozen=True)
class AlembicSetup:
    ini: Path
    section: str
    script_dir: Path | None  # folder of env.py, when it can be found without importing
    script_location: str | None  # sent to the worker when the ini section has none (Flask-Migrate)
    version_dirs: tuple[Path, ...]
    configured_url: str  # the section's sqlalchemy.url (only its driver is used)
    run_dir: Path  # where `alembic` runs from: the folder script_location is relative to (ini or project root)


def display_path(path: Path, root: Path) -> str:
    """`path` relative to the project root when it is inside it."""
    return path.relative_to(root).as_posix() if path.is_relative_to(root) else str(path)


def _searchable(folder: Path) -> bool:
    name = folder.name
    return not (name.startswith(".") or name in SKIP_DIRS or (folder / "pyvenv.cfg").is_file())


def _subdirs(folder: Path) -> list[Path]:
    try:
        return sorted(p for p in folder.iterdir() if p.is_dir() and _searchable(p))
    except OSError:
        return []


def find_alembic_ini(root: Path, explicit: Path | str | None) -> Path:
    """--alembic-ini, else ./alembic.ini, else the only alembic.ini one or two folders down."""
    if explicit:
        ini = Path(explicit)
        ini = ini if ini.is_absolute() else root / ini
        if not ini.is_file():
            raise InputError(f"no Alembic config at {ini}; pass the path of your alembic.ini (--alembic-ini)",
                             path=str(ini))
        return ini
    if (root / "alembic.ini").is_file():
        return root / "alembic.ini"
    found = []
    for first in _subdirs(root):
        found += [p for p in (first / "alembic.ini",) if p.is_file()]
        found += [second / "alembic.ini" for second in _subdirs(first) if (second / "alembic.ini").is_file()]
    if len(found) > 1:  # an alembic.ini among tests is a fixture when the project has its own
        outside_tests = [p for p in found if not TEST_DIRS & set(p.relative_to(root).parts[:-1])]
        found = outside_tests or found
    if len(found) == 1:
        return found[0]
    if not found:
        raise InputError(f"no alembic.ini in {root} or one or two folders below it; pass its path with "
                         "--alembic-ini (or [tool.dbagents.scratch] alembic-ini)")
    shown = ", ".join(display_path(p, root) for p in found)
    raise InputError(f"{len(found)} Alembic configs: {shown}; choose one with --alembic-ini PATH (or "
                     "[tool.dbagents.scratch] alembic-ini)")


def _package_dir(package: str, root: Path, ini: Path) -> Path | None:
    """Folder of an importable package named in `pkg:path` script locations, found by looking, not importing."""
    rel = Path(*package.split("."))
    for base in (root, root / "src", ini.parent, ini.parent.parent, ini.parent.parent / "src"):
        if (base / rel / "__init__.py").is_file() or (base / rel).is_dir():
            return base / rel
    return None


def _relative_base(root: Path, ini: Path, location: str) -> Path:
    """The folder a relative script_location is meant from: Alembic resolves it against the working directory,
    so `alembic -c conf/alembic.ini` run from the project root (checkmate, h) means root/location, while
    `cd backend && alembic upgrade head` means backend/location. The ini's folder wins when env.py is there."""
    for base in (ini.parent, root):
        if (base / location / "env.py").is_file():
            return base
    return ini.parent


def read_setup(root: Path, ini: Path, section: str = "alembic") -> AlembicSetup:
    """Read one section of alembic.ini (nothing runs): env.py's folder, revision folders, configured URL."""
    parser = configparser.ConfigParser(defaults={"here": str(ini.parent)}, interpolation=None)
    try:
        parser.read(ini, encoding="utf-8")
    except configparser.Error as exc:
        raise InputError(f"cannot parse {ini.name}: {' '.join(str(exc).split())}", path=str(ini)) from None
    here = str(ini.parent)
    with_location = [s for s in parser.sections() if parser.get(s, "script_location", fallback="")]
    if not parser.has_section(section):
        present = (f"sections with a script_location: {', '.join(with_location)}" if with_location
                   else f"sections present: {', '.join(parser.sections()) or 'none'}")
        raise InputError(f"no [{section}] section ({present}); choose one with "
                         "--alembic-name SECTION (or [tool.dbagents.scratch] alembic-name)", path=str(ini))
    values = parser[section]
    location = values.get("script_location", "").replace("%(here)s", here).strip()
    script_location: str | None = None
    run_dir = ini.parent
    script_dir: Path | None = None
    if not location:
        if not (ini.parent / "env.py").is_file():
            others = [s for s in with_location if s != section]
            choose = (f"; sections with a script_location: {', '.join(others)}; choose one with --alembic-name "
                      "SECTION" if others else "; add script_location to it, or pass another --alembic-ini")
            raise InputError(f"[{section}] has no script_location and there is no env.py beside it{choose}",
                             path=str(ini))
        # Flask-Migrate: migrations/alembic.ini sits beside env.py, and `flask db` runs from the project root.
        script_dir, script_location, run_dir = ini.parent, str(ini.parent), root
    elif ":" in location and not Path(location).is_absolute() and not re.match(r"^[A-Za-z]:[\\/]", location):
        package, _, sub = location.partition(":")
        base = _package_dir(package, root, ini)
        run_dir = root  # found by import: where Alembic runs does not matter, and the ini's folder may be a package
        script_dir = base / sub if base else None
    elif Path(location).is_absolute():
        script_dir = Path(location)
    else:
        run_dir = _relative_base(root, ini, location)
        script_dir = run_dir / location
    version_dirs: list[Path] = []
    if script_dir is not None:
        version_dirs.append(script_dir / "versions")
    for extra in re.split(r"[\s,;]+", values.get("version_locations", "").replace("%(here)s", here)):
        if extra and ":" not in extra.lstrip("/"):
            version_dirs.append(Path(extra) if Path(extra).is_absolute() else run_dir / extra)
    return AlembicSetup(ini, section, script_dir, script_location, tuple(version_dirs),
                        values.get("sqlalchemy.url", ""), run_dir)


def needed_extensions(version_dirs) -> tuple[str, ...]:
    """Extensions that revision files create (by text search, nothing is imported)."""
    found: set[str] = set()
    for folder in version_dirs:
        for path in folder.rglob("*.py") if folder.is_dir() else ():
            try:
                found.update(m.lower() for m in CREATE_EXTENSION.findall(path.read_text(encoding="utf-8")))
            except (OSError, UnicodeDecodeError):
                continue
    return tuple(sorted(found))


# ---------------------------------------------------------------------------------------------- Flask app


def env_needs_app(setup: AlembicSetup) -> bool:
    """env.py uses Flask's current_app without making an app context itself (Flask-Migrate's template)."""
    if setup.script_dir is None:
        return False
    try:
        text = (setup.script_dir / "env.py").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    return "current_app" in text and "app_context(" not in text


def _top_level(path: Path) -> tuple[set[str], set[str]]:
    """(functions, assigned names) defined at the top level of a Python file."""
    try:
        tree = ast.parse(path.read_text(encoding="utf-8", errors="replace"))
    except (OSError, SyntaxError, ValueError):
        return set(), set()
    functions = {n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))}
    names = {t.id for n in tree.body if isinstance(n, ast.Assign) for t in n.targets if isinstance(t, ast.Name)}
    return functions, names


def _module_file(module: str, root: Path) -> Path | None:
    rel = Path(*module.split("."))
    for base in (root, root / "src"):
        for candidate in (base / rel.with_suffix(".py"), base / rel / "__init__.py"):
            if candidate.is_file():
                return candidate
    return None


def _flask_app_setting(root: Path) -> tuple[str, str] | None:
    """FLASK_APP from the environment, else from .flaskenv / .env: (value, where)."""
    if os.environ.get("FLASK_APP"):
        return os.environ["FLASK_APP"].strip(), "FLASK_APP"
    for name in (".flaskenv", ".env"):
        try:
            lines = (root / name).read_text(encoding="utf-8", errors="replace").splitlines()
        except OSError:
            continue
        for line in lines:
            match = re.match(r"^\s*(?:export\s+)?FLASK_APP\s*=\s*(.+?)\s*$", line)
            if match:
                return match.group(1).strip("'\""), f"FLASK_APP in {name}"
    return None


def _from_flask_app(value: str, where: str, root: Path) -> str:
    """FLASK_APP ("pkg", "pkg:create_app()", "app.py") as "module:attribute", resolved by reading files."""
    module, _, attr = value.partition(":")
    if module.endswith(".py"):
        module = module[:-3].replace("/", ".").replace("\\", ".")
    call = re.match(r"^(\w+)\s*\(\s*\)$", attr.strip())
    if call:
        attr = call.group(1)
    if attr and not re.match(r"^\w+$", attr):
        raise InputError(f"{where}={value!r}: the factory takes arguments; set [tool.dbagents.scratch] app = "
                         "\"module:attribute\" to a factory or app object that needs none")
    if not attr:
        source = _module_file(module, root)
        functions, names = _top_level(source) if source else (set(), set())
        attr = next((n for n in ("app", "application") if n in names), None) or next(
            (f for f in ("create_app", "make_app") if f in functions), "")
        if not attr:
            raise InputError(f"{where}={value!r}: no app, application, create_app or make_app found in module "
                             f"{module!r}; set [tool.dbagents.scratch] app = \"module:create_app\"")
    return f"{module}:{attr}"


def factory_candidates(root: Path) -> list[str]:
    """`create_app` functions defined at the top level of packages' __init__.py / app.py / wsgi.py."""
    found = [f"{name[:-3]}:create_app" for name in ("app.py", "wsgi.py")
             if (root / name).is_file() and "create_app" in _top_level(root / name)[0]]
    for base in (root, root / "src"):
        for package in _subdirs(base):
            if package.name in TEST_DIRS or not (package / "__init__.py").is_file():
                continue
            for name in APP_FILES:
                path = package / name
                if path.is_file() and "create_app" in _top_level(path)[0]:
                    module = package.name if name == "__init__.py" else f"{package.name}.{name[:-3]}"
                    found.append(f"{module}:create_app")
    return sorted(set(found))


def detect_app(root: Path, setup: AlembicSetup, configured: str) -> tuple[str | None, str]:
    """The Flask app the worker runs env.py in: (module:attr or None, how it was found)."""
    if configured:
        return configured, "[tool.dbagents.scratch] app"
    if not env_needs_app(setup):
        return None, ""
    setting = _flask_app_setting(root)
    if setting:
        return _from_flask_app(setting[0], setting[1], root), setting[1]
    candidates = factory_candidates(root)
    if len(candidates) == 1:
        return candidates[0], "the only create_app() in the project"
    env_py = display_path(setup.script_dir / "env.py", root) if setup.script_dir else "env.py"
    if not candidates:
        raise InputError(f"{env_py} uses Flask's current_app, and no app factory was found (no FLASK_APP, no "
                         "top-level create_app() in a package's __init__.py, app.py or wsgi.py); set "
                         "[tool.dbagents.scratch] app = \"yourpackage:create_app\"")
    raise InputError(f"{env_py} uses Flask's current_app, and {len(candidates)} app factories were found "
                     f"({', '.join(candidates)}); choose one: [tool.dbagents.scratch] app = \"{candidates[0]}\"")
