"""--scratch setup, read from files only: which alembic.ini and section, env.py's folder, the Flask app, the
interpreter and driver, and the project's own variables templated with the scratch URL."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

from dbagents.errors import InputError
from dbagents.scratch.interpreter import Interpreter, choose_driver, choose_python
from dbagents.scratch.settings import ScratchSettings, render_env, url_parts
from dbagents.scratch.setup import detect_app, find_alembic_ini, read_setup

FIXTURES = Path(__file__).parent / "fixtures"
FLASK = FIXTURES / "scratch_setup_flask"
SECTIONS = FIXTURES / "scratch_setup_sections"


def _write(path: Path, text: str = "") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_flask_migrate_layout_is_found_and_gets_its_script_location():
    ini = find_alembic_ini(FLASK, None)
    assert ini == FLASK / "migrations" / "alembic.ini"
    setup = read_setup(FLASK, ini)
    assert setup.script_location == str(FLASK / "migrations") and setup.script_dir == FLASK / "migrations"
    assert setup.run_dir == FLASK  # `flask db upgrade` runs from the project root
    assert setup.version_dirs == (FLASK / "migrations" / "versions",)


def test_alembic_ini_two_levels_down_runs_from_its_folder(tmp_path):
    ini = _write(tmp_path / "src" / "app" / "alembic.ini", "[alembic]\nscript_location = migrations\n")
    _write(tmp_path / "tests" / "data" / "alembic.ini", "[alembic]\n")  # a fixture, not the project's config
    _write(tmp_path / "node_modules" / "x" / "alembic.ini", "[alembic]\n")
    assert find_alembic_ini(tmp_path, None) == ini
    setup = read_setup(tmp_path, ini)
    assert setup.run_dir == ini.parent and setup.version_dirs == (ini.parent / "migrations" / "versions",)


def test_several_alembic_inis_are_an_error_naming_them(tmp_path):
    _write(tmp_path / "api" / "alembic.ini", "[alembic]\n")
    _write(tmp_path / "worker" / "db" / "alembic.ini", "[alembic]\n")
    with pytest.raises(InputError, match=r"2 Alembic configs: api/alembic.ini, worker/db/alembic.ini; choose one "
                                         r"with --alembic-ini PATH"):
        find_alembic_ini(tmp_path, None)


def test_root_alembic_ini_wins_and_none_is_an_error(tmp_path):
    with pytest.raises(InputError, match="no alembic.ini in .* or one or two folders below it"):
        find_alembic_ini(tmp_path, None)
    _write(tmp_path / "migrations" / "alembic.ini")
    root_ini = _write(tmp_path / "alembic.ini")
    assert find_alembic_ini(tmp_path, None) == root_ini


def test_sections_are_chosen_by_name_and_a_missing_one_lists_them():
    ini = SECTIONS / "alembic.ini"
    tenant = read_setup(SECTIONS, ini, "tenant")
    assert tenant.script_dir == SECTIONS / "revisions" / "tenant" and tenant.script_location is None
    with pytest.raises(InputError, match=r"\[alembic\] has no script_location and there is no env.py beside it; "
                                         r"sections with a script_location: core, tenant; choose one with "
                                         r"--alembic-name SECTION"):
        read_setup(SECTIONS, ini)
    with pytest.raises(InputError, match=r"no \[tenants\] section \(sections with a script_location: core, tenant\)"):
        read_setup(SECTIONS, ini, "tenants")


def test_package_script_location_is_found_without_importing(tmp_path):
    ini = _write(tmp_path / "src" / "shop" / "alembic.ini", "[core]\nscript_location = shop:db/revisions/core\n")
    _write(tmp_path / "src" / "shop" / "__init__.py", "raise SystemExit('must not be imported')\n")
    setup = read_setup(tmp_path, ini, "core")
    assert setup.script_dir == tmp_path / "src" / "shop" / "db" / "revisions" / "core"


def test_flask_app_factory_detection(tmp_path, monkeypatch):
    monkeypatch.delenv("FLASK_APP", raising=False)
    setup = read_setup(FLASK, FLASK / "migrations" / "alembic.ini")
    assert detect_app(FLASK, setup, "") == ("shop:create_app", "the only create_app() in the project")
    assert detect_app(FLASK, setup, "other:make")[0] == "other:make"  # the setting wins
    monkeypatch.setenv("FLASK_APP", "shop:create_app()")
    assert detect_app(FLASK, setup, "") == ("shop:create_app", "FLASK_APP")


def test_flask_app_from_flaskenv_and_ambiguity(tmp_path, monkeypatch):
    monkeypatch.delenv("FLASK_APP", raising=False)
    project = tmp_path / "proj"
    shutil.copytree(FLASK, project)
    _write(project / "admin" / "__init__.py", "def create_app():\n    pass\n")
    setup = read_setup(project, project / "migrations" / "alembic.ini")
    with pytest.raises(InputError, match=r"2 app factories were found \(admin:create_app, shop:create_app\); "
                                         r"choose one: \[tool.dbagents.scratch\] app = "):
        detect_app(project, setup, "")
    _write(project / ".flaskenv", "FLASK_ENV=development\nFLASK_APP=shop\n")
    assert detect_app(project, setup, "") == ("shop:create_app", "FLASK_APP in .flaskenv")


def test_no_app_needed_without_current_app():
    setup = read_setup(SECTIONS, SECTIONS / "alembic.ini", "core")
    assert detect_app(SECTIONS, setup, "") == (None, "")


def test_env_templates_are_validated_and_rendered():
    settings = ScratchSettings.from_mapping({"env": {"POSTGRES_SERVER": "{host}", "POSTGRES_PORT": "{port}",
                                                     "DATABASE_CREDENTIALS": "{user}:{password}",
                                                     "SQLALCHEMY_URL": "{url}", "DB": "{database}"}})
    libpq = "postgresql://postgres@127.0.0.1:6543/dbagents_scratch"
    parts = url_parts("postgresql+psycopg2://postgres@127.0.0.1:6543/dbagents_scratch", libpq, "psycopg2")
    assert render_env(settings.env, parts) == {
        "POSTGRES_SERVER": "127.0.0.1", "POSTGRES_PORT": "6543", "DATABASE_CREDENTIALS": "postgres:",
        "SQLALCHEMY_URL": "postgresql+psycopg2://postgres@127.0.0.1:6543/dbagents_scratch", "DB": "dbagents_scratch"}
    socket = url_parts("", "postgresql://postgres@/db?host=/tmp/s&port=5433", "psycopg")
    assert (socket["host"], socket["port"], socket["database"]) == ("/tmp/s", "5433", "db")


def test_unknown_placeholder_names_pyproject_and_key():
    with pytest.raises(InputError) as err:
        ScratchSettings.from_mapping({"env": {"POSTGRES_HOST": "{hostname}"}}, "/p/pyproject.toml")
    assert str(err.value).startswith("/p/pyproject.toml: [tool.dbagents.scratch] env.POSTGRES_HOST: unknown "
                                     "placeholder {hostname}; use {url}, {libpq_url}, {host}")
    with pytest.raises(InputError, match="env must be a table"):
        ScratchSettings.from_mapping({"env": "DATABASE_URL={url}"})
    with pytest.raises(InputError, match="app must be \"module:attribute\""):
        ScratchSettings.from_mapping({"app": "create_app"})


def _interp(sqlalchemy: str, *drivers: str) -> Interpreter:
    return Interpreter("/venv/bin/python", "the project's .venv", sqlalchemy, "1.13.1", drivers)


def test_driver_follows_the_project_then_psycopg_then_psycopg2():
    assert choose_driver(_interp("2.0.30", "psycopg", "psycopg2"), ["postgresql+psycopg2://x@h/db"])[0] == "psycopg2"
    assert choose_driver(_interp("2.0.30", "psycopg", "psycopg2"), ["postgresql://x@h/db"])[0] == "psycopg2"
    assert choose_driver(_interp("2.0.30", "asyncpg", "psycopg"), ["", "postgresql+asyncpg://h/db"])[0] == "asyncpg"
    assert choose_driver(_interp("2.0.30", "psycopg", "psycopg2"), ["sqlite:///x.db"])[0] == "psycopg"
    # psycopg 3 needs SQLAlchemy 2.0's dialect; 1.4 gets psycopg2 even when the URL names psycopg
    assert choose_driver(_interp("1.4.52", "psycopg", "psycopg2"), ["postgresql+psycopg://h/db"]) == (
        "psycopg2", "installed; the configured psycopg is not")
    with pytest.raises(InputError, match=r"has SQLAlchemy 1.4.52 but no PostgreSQL driver it can use; install one "
                                         r"there: /venv/bin/python -m pip install psycopg2-binary"):
        choose_driver(_interp("1.4.52", "psycopg"), [])


def test_interpreter_detection_order(tmp_path, monkeypatch):
    monkeypatch.delenv("VIRTUAL_ENV", raising=False)
    assert choose_python("", [tmp_path]) == (sys.executable, "the interpreter running dbagents")
    venv_python = _write(tmp_path / "venv" / "bin" / "python")
    assert choose_python("", [tmp_path]) == (str(venv_python), "the project's venv")
    dot = _write(tmp_path / ".venv" / "bin" / "python")
    assert choose_python("", [tmp_path]) == (str(dot), "the project's .venv")
    active = _write(tmp_path / "active" / "bin" / "python")
    monkeypatch.setenv("VIRTUAL_ENV", str(tmp_path / "active"))
    assert choose_python("", [tmp_path])[0] == str(active)
    assert choose_python("venv/bin/python", [tmp_path]) == (str(venv_python), "[tool.dbagents.scratch] python")
    with pytest.raises(InputError, match="python 'nope/python' not found"):
        choose_python("nope/python", [tmp_path])


def test_script_location_relative_to_the_project_root_runs_from_there(tmp_path):
    """checkmate's shape: conf/alembic.ini says script_location = pkg/migrations, meant from the project root
    (`alembic -c conf/alembic.ini upgrade head`), not from conf/."""
    ini = _write(tmp_path / "conf" / "alembic.ini", "[alembic]\nscript_location = pkg/migrations\n")
    _write(tmp_path / "pkg" / "migrations" / "env.py")
    setup = read_setup(tmp_path, ini)
    assert setup.run_dir == tmp_path and setup.script_dir == tmp_path / "pkg" / "migrations"
    assert setup.version_dirs == (tmp_path / "pkg" / "migrations" / "versions",)
    _write(tmp_path / "conf" / "pkg" / "migrations" / "env.py")  # beside the ini wins, as `cd conf && alembic`
    assert read_setup(tmp_path, ini).run_dir == ini.parent
