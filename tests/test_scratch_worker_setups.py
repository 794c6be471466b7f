"""Real project setups through the worker: a Flask app context ("app"), Flask-Migrate's ini without
script_location ("script_location"), a multi-section ini ("ini_section"), and projects whose interpreter has
SQLAlchemy 1.4 / 1.3 or other PostgreSQL drivers (cached venvs, see test_scratch_worker_support.PROJECT_VENVS)."""

from __future__ import annotations

import hashlib

import pytest

from test_scratch_worker_support import FIXTURES, copy_fixture, messages, project_python, run_both, run_worker, sa_url

pytest.importorskip("alembic")
psycopg = pytest.importorskip("psycopg")

pytestmark = pytest.mark.slow

FLASK = FIXTURES / "scratch_setup_flask"  # the runner's Flask-Migrate fixture: shop:create_app, migrations/alembic.ini


def _flask_request(project):
    return {"ini": "migrations/alembic.ini", "script_location": str(project / "migrations")}


# ---------------------------------------------------------------------------------------------- Flask-Migrate


@pytest.fixture
def flask_project(tmp_path):
    pytest.importorskip("flask")
    pytest.importorskip("flask_sqlalchemy")
    pytest.importorskip("flask_migrate")
    return copy_fixture(tmp_path / "shop", "scratch_setup_flask")


def test_flask_app_factory_runs_everything_in_its_app_context(pg_server, flask_project):
    up, down = run_both(flask_project, sa_url(pg_server.createdb("flask")), app="shop:create_app",
                        **_flask_request(flask_project))
    assert (up["fatal"], up["applied"]) == (None, ["f1", "f2"])
    assert messages(up, "DBA214") == ["model table public.coupons does not exist after the migrations (missing "
                                      "migration)"]
    assert (down["fatal"], down["checked"], down["findings"]) == (None, 2, [])


MIGRATING_FACTORY = """
    from flask_migrate import upgrade
    from sqlalchemy import text

    with app.app_context():  # like CTFd: migrate on start, then the plugins' own changes
        upgrade(directory=os.path.join(os.path.dirname(__file__), "..", "migrations"))
        db.session.execute(text("ALTER TABLE orders ADD COLUMN IF NOT EXISTS gift_wrap boolean"))
        db.session.commit()
    return app"""


def test_app_that_migrates_itself_is_undone_before_the_walk(pg_server, flask_project):
    """Like CTFd's create_app(): the factory upgrades to head and changes a table itself when it is created."""
    init = flask_project / "shop" / "__init__.py"
    init.write_text(init.read_text().replace("    return app", MIGRATING_FACTORY.strip("\n")))
    models = flask_project / "shop" / "models.py"  # the model maps the column the app adds itself
    models.write_text(models.read_text().replace("    total_cents = db.Column(db.Integer, nullable=False)\n",
                                                 "    total_cents = db.Column(db.Integer, nullable=False)\n"
                                                 "    gift_wrap = db.Column(db.Boolean)\n"))
    up, down = run_both(flask_project, sa_url(pg_server.createdb("flask")), app="shop:create_app",
                        **_flask_request(flask_project))
    assert (up["fatal"], up["applied"]) == (None, ["f1", "f2"])
    assert up["notes"] == [
        "creating the app shop:create_app built 3 objects in the empty scratch database (public.alembic_version, "
        "public.customers, public.orders): it migrates itself; they were dropped so that the revisions run one by "
        "one from an empty database",
        "differences on public.orders were not reported: creating the app builds these tables differently from this "
        "chain (migrations of its own, e.g. plugins), so the chain alone is not what the app runs on"]
    assert messages(up, "DBA214") == ["model table public.coupons does not exist after the migrations (missing "
                                      "migration)"]
    assert (down["fatal"], down["checked"], down["findings"]) == (None, 2, [])  # gift_wrap is not f2's leftover
    assert down["notes"] == ["creating the app shop:create_app changed the schema (public.orders); those objects "
                             "are left out of the downgrade checks"]


def test_flask_app_instance_is_used_as_it_is(pg_server, flask_project):
    (flask_project / "wsgi.py").write_text("from shop import create_app\n\napp = create_app()\n")
    up = run_worker(flask_project, sa_url(pg_server.createdb("flask")), app="wsgi:app", **_flask_request(flask_project))
    assert (up["fatal"], up["applied"]) == (None, ["f1", "f2"])


def test_flask_env_without_app_says_how_to_give_one(pg_server, flask_project):
    up = run_worker(flask_project, sa_url(pg_server.createdb("flask")), **_flask_request(flask_project))
    assert up["fatal_kind"] == "env" and up["findings"] == []
    assert "at migrations/env.py:6" in up["fatal"] and "Working outside of application context" in up["fatal"]
    assert '[tool.dbagents.scratch] app = "module:create_app"' in up["fatal"]


def test_flask_app_that_fails_to_import_is_env(pg_server, flask_project):
    init = flask_project / "shop" / "__init__.py"
    init.write_text(init.read_text().replace("    db.init_app(app)", "    app.config.from_object(SETTINGS)\n"
                                                                     "    db.init_app(app)"))
    up = run_worker(flask_project, sa_url(pg_server.createdb("flask")), app="shop:create_app",
                    **_flask_request(flask_project))
    assert up["fatal_kind"] == "env"
    assert up["fatal"].startswith("importing the app shop:create_app failed at shop/__init__.py:16: NameError: name "
                                  "'SETTINGS' is not defined")


def test_flask_app_pointing_at_its_sqlite_file_is_refused(pg_server, flask_project, tmp_path):
    """The factory's default database is a SQLite file: the guard stops the app's engine, the file is unchanged."""
    db = flask_project / "instance" / "shop.db"
    db.parent.mkdir()
    db.write_bytes(b"")
    up = run_worker(flask_project, sa_url(pg_server.createdb("flask")), app="shop:create_app",
                    env={"DATABASE_URL": f"sqlite:///{db}"}, **_flask_request(flask_project))
    assert up["fatal_kind"] == "guard" and up["attempts"] == [f"sqlite+pysqlite file {str(db)!r}"]
    assert db.read_bytes() == b""


def test_ini_without_script_location_needs_one(pg_server, flask_project):
    up = run_worker(flask_project, sa_url(pg_server.createdb("flask")), app="shop:create_app",
                    ini="migrations/alembic.ini")
    assert up["fatal_kind"] == "env" and "No 'script_location' key found in configuration" in up["fatal"]


# ---------------------------------------------------------------------------------------------- ini sections


def test_ini_section_picks_the_chain(pg_server, tmp_path):
    project = copy_fixture(tmp_path / "proj", "scratch_base", "scratch_tenants")
    up = run_worker(project, sa_url(pg_server.createdb("core")), ini_section="core")
    assert (up["fatal"], up["applied"], up["findings"]) == (None, ["0001", "0002"], [])


@pytest.mark.parametrize(("section", "shown"), [(None, "alembic"), ("nope", "nope")])
def test_missing_ini_section_is_env(pg_server, tmp_path, section, shown):
    project = copy_fixture(tmp_path / "proj", "scratch_base", "scratch_tenants")
    up = run_worker(project, sa_url(pg_server.createdb("core")), ini_section=section)
    assert up["fatal_kind"] == "env"
    assert up["fatal"] == f"alembic.ini has no [{shown}] section (sections: core, tenant)"


# ---------------------------------------------------------------------------------------------- other interpreters


def _drift_expected():
    from test_scratch_worker_diffs import EXPECTED

    return EXPECTED


@pytest.mark.parametrize("venv", ["sa14", "sa13"])
def test_old_sqlalchemy_runs_the_whole_check(pg_server, tmp_path, venv):
    """SQLAlchemy 1.4 (1.4.x + Alembic 1.13) and 1.3 (1.3.24 + Alembic 1.13) with psycopg2: same findings."""
    python = project_python(venv)
    up, down = run_both(FIXTURES / "scratch_drift", sa_url(pg_server.createdb(venv), "psycopg2"), python=python,
                        tmp=tmp_path)
    assert (up["fatal"], up["applied"]) == (None, ["0001"])
    assert {f["obj"]: f["message"] for f in up["findings"]} == _drift_expected()
    assert (down["fatal"], down["checked"]) == (None, 1)


@pytest.mark.parametrize("venv", ["sa14", "sa13"])
def test_old_sqlalchemy_guard_and_first_error(pg_server, tmp_path, venv):
    python = project_python(venv)
    project = copy_fixture(tmp_path / "proj", "scratch_base", "scratch_settings_url")
    db = project / "dev" / "data" / "app.db"
    db.parent.mkdir(parents=True)
    import sqlite3

    sqlite3.connect(db).executescript("CREATE TABLE authors (id INTEGER PRIMARY KEY); INSERT INTO authors VALUES (1);")
    digest = hashlib.sha256(db.read_bytes()).hexdigest()
    up = run_worker(project, sa_url(pg_server.createdb(venv), "psycopg2"), python=python)
    assert up["fatal_kind"] == "guard" and up["attempts"] == [f"sqlite+pysqlite file {str(db)!r}"]
    assert hashlib.sha256(db.read_bytes()).hexdigest() == digest

    from test_scratch_worker_results import SWALLOWING_REVISION

    project = copy_fixture(tmp_path / "proj2", "scratch_base",
                           files={"migrations/versions/0003_archive.py": SWALLOWING_REVISION})
    # A psycopg (3) URL names a dialect SQLAlchemy 1.x does not have: the worker switches to the psycopg2 it has.
    up = run_worker(project, sa_url(pg_server.createdb(venv)), python=python)
    assert messages(up, "DBA213") == ['upgrade to revision 0003 fails: UndefinedTable: relation "note_archive" does '
                                      "not exist; statement: UPDATE note_archive SET body = NULL"]


def _socket_dir(url: str) -> str:
    return url.split("host=", 1)[1].split("&")[0]


@pytest.mark.parametrize("driver", ["psycopg2", "asyncpg", "pg8000", "psycopg-async"])
def test_every_postgres_driver_reaches_scratch_and_nothing_else(pg_server, tmp_path, driver):
    """env.py builds its URL from settings with the project's driver: to the scratch database it runs, to another
    database on the same server it is refused (rows unchanged) — cparams differ per driver, the guard reads them all."""
    python = project_python("sa2drivers")
    scratch, other = pg_server.createdb("drv"), pg_server.createdb("drv_other")
    with psycopg.connect(other, autocommit=True) as conn:
        conn.execute("CREATE TABLE authors (id int PRIMARY KEY, name text NOT NULL); INSERT INTO authors VALUES (1, 'x')")

    def url_for(libpq: str) -> str:
        base = libpq.split("?")[0]
        if driver == "pg8000":
            return sa_url(base, "pg8000") + f"?unix_sock={_socket_dir(libpq)}/.s.PGSQL.5432"
        return sa_url(libpq, driver.replace("-async", ""))

    use_async = "1" if driver in ("asyncpg", "psycopg-async") else "0"
    project = copy_fixture(tmp_path / "proj", "scratch_base", "scratch_settings_url")
    up, down = run_both(project, sa_url(scratch, "psycopg2"), python=python,
                        env={"APP_DATABASE_URL": url_for(scratch), "APP_ASYNC": use_async})
    assert (up["fatal"], up["applied"], down["checked"]) == (None, ["0001", "0002"], 2)

    refused = run_worker(project, sa_url(pg_server.createdb("drv2"), "psycopg2"), python=python,
                         env={"APP_DATABASE_URL": url_for(other), "APP_ASYNC": use_async})
    assert refused["fatal_kind"] == "guard"
    assert refused["attempts"][0].startswith(f"postgresql+{driver.replace('-async', '')} database 'drv_other_")
    with psycopg.connect(other) as conn:
        assert conn.execute("SELECT count(*) FROM authors").fetchone()[0] == 1
        assert conn.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'").fetchone()[0] == 1


def test_mysql_is_refused(pg_server, tmp_path):
    python = project_python("sa2drivers")
    project = copy_fixture(tmp_path / "proj", "scratch_base", "scratch_settings_url")
    up = run_worker(project, sa_url(pg_server.createdb("mysql"), "psycopg2"), python=python,
                    env={"APP_DATABASE_URL": "mysql+pymysql://root:pw@db.example:3306/shop"})
    assert up["fatal_kind"] == "guard"
    assert up["attempts"] == ["mysql+pymysql database 'shop' on db.example:3306 as user 'root' (password ***)"]
