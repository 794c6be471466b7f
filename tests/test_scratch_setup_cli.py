"""`dbagents check --scratch` on real project shapes, through the real CLI on a real throwaway PostgreSQL:
findings survive a failed scratch run, Flask-Migrate, --alembic-name, env templating, what ran is said."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

pytest.importorskip("alembic")
pytest.importorskip("psycopg")

FIXTURES = Path(__file__).parent / "fixtures"
NO_VENV = {"VIRTUAL_ENV": ""}  # the interpreter running the tests, not a developer's active virtualenv


def _copy(tmp_path: Path, name: str) -> Path:
    target = tmp_path / name
    shutil.copytree(FIXTURES / name, target)
    return target


def _last_error(stderr: str) -> str:
    lines = [ln for ln in stderr.splitlines() if ln.startswith("dbagents: error:")]
    assert len(lines) == 1, stderr
    return lines[0]


def _findings(stdout: str) -> list[tuple[str, str]]:
    """(rule, "path: message") of each finding in a JSON report."""
    return [(f["rule"], f"{f['path']}: {f['message']}") for f in json.loads(stdout)["findings"]]


def _has(stdout: str, rule: str, text: str) -> bool:
    return any(r == rule and text in where for r, where in _findings(stdout))


@pytest.mark.slow
def test_static_findings_come_before_a_crashing_scratch_run(run_cli, tmp_path):
    project = _copy(tmp_path, "alembic_project")
    (project / "migrations" / "env.py").write_text("import os\nprint('env.py is dying')\nos._exit(3)\n")
    as_json = run_cli("check", "--scratch", "--no-cache", "--format", "json", cwd=project, env=NO_VENV)
    assert as_json.returncode == 2
    report = json.loads(as_json.stdout)  # still one valid JSON document
    assert ("DBA202", "migrations/versions/0005_email_index.py") in {(f["rule"], f["path"]) for f in report["findings"]}
    assert _last_error(as_json.stderr).startswith("dbagents: error: --scratch: running the project's Alembic env "
                                                  "crashed (up phase): env.py is dying")
    as_text = run_cli("check", "--scratch", "--no-cache", cwd=project, env=NO_VENV)
    assert as_text.returncode == 2 and "DBA202 [warning]" in as_text.stdout and "Found " in as_text.stdout
    sarif = run_cli("check", "--scratch", "--no-cache", "--format", "sarif", cwd=project, env=NO_VENV)
    assert sarif.returncode == 2 and json.loads(sarif.stdout)["runs"][0]["results"]


@pytest.mark.slow
def test_a_run_that_changes_nothing_is_not_all_checks_passed(run_cli, tmp_path):
    project = tmp_path / "tenants"
    shutil.copytree(FIXTURES / "scratch_setup_sections", project)
    env_py = project / "revisions" / "tenant" / "env.py"
    env_py.write_text(  # dispatch's tenant env.py: migrate each existing tenant schema (an empty server has none)
        "from alembic import context\nfrom sqlalchemy import engine_from_config, inspect, pool\n"
        "config = context.config\n"
        "engine = engine_from_config(config.get_section(config.config_ini_section), prefix='sqlalchemy.',\n"
        "                            poolclass=pool.NullPool)\n"
        "with engine.connect() as connection:\n"
        "    context.configure(connection=connection)\n"
        "    schemas = [s for s in inspect(connection).get_schema_names() if s.startswith('tenant_')]\n"
        "    with context.begin_transaction():\n"
        "        for schema in schemas:\n"
        "            connection.exec_driver_sql(f'SET search_path TO {schema}')\n"
        "            context.run_migrations()\n"
        "        if not schemas:\n"
        "            context.run_migrations()  # stamps the version table only when nothing is migrated\n"
    )
    for revision in (project / "revisions" / "tenant" / "versions").glob("*.py"):  # upgrade() only on tenants
        text = revision.read_text()
        revision.write_text(text.replace("def upgrade():\n", "def upgrade():\n    if op.get_bind().exec_driver_sql("
                                         "'SHOW search_path').scalar().startswith('tenant_') is False:\n"
                                         "        return\n"))
    result = run_cli("check", "migrations", "--scratch", "--alembic-name", "tenant", "--no-cache",
                     "--select", "DBA213,DBA214,DBA215", cwd=project, env=NO_VENV)
    assert result.returncode == 2, result.stderr
    assert "All checks passed" not in result.stdout
    error = _last_error(result.stderr)  # said by the worker, or by the runner from the schema snapshots
    assert error.startswith("dbagents: error: --scratch: ") and "2 revisions ran" in error
    assert "none changed the scratch database" in error


@pytest.mark.slow
def test_flask_migrate_project_runs_in_its_app_context(run_cli, tmp_path):
    project = _copy(tmp_path, "scratch_setup_flask")
    result = run_cli("check", "--scratch", "--no-cache", "--format", "json", cwd=project,
                     env={**NO_VENV, "FLASK_APP": ""})
    assert "Alembic config migrations/alembic.ini; env.py runs in the app context of shop:create_app (the only "\
           "create_app() in the project)" in result.stderr
    assert result.returncode == 1, result.stderr
    assert _has(result.stdout, "DBA214", "public.coupons")
    assert _has(result.stdout, "DBA301", "public.orders(customer_id)")
    assert not (project / "shop.db").exists() and not (project / "instance").exists()


@pytest.mark.slow
def test_alembic_name_picks_the_section(run_cli, tmp_path):
    project = _copy(tmp_path, "scratch_setup_sections")
    missing = run_cli("check", "migrations", "--scratch", "--no-cache", cwd=project, env=NO_VENV)
    assert missing.returncode == 2
    assert "sections with a script_location: core, tenant; choose one with --alembic-name SECTION" in \
        _last_error(missing.stderr)
    tenant = run_cli("check", "--scratch", "--alembic-name", "tenant", "--no-cache", "--format", "json",
                     cwd=project, env=NO_VENV)
    assert tenant.returncode == 1 and "Alembic config alembic.ini [tenant]" in tenant.stderr
    assert _has(tenant.stdout, "DBA215", "revisions/tenant/versions/t2_tasks.py")
    assert _has(tenant.stdout, "DBA214", "public.projects.task_count")
    assert _has(tenant.stdout, "DBA301", "public.tasks(project_id)")
    core = run_cli("check", "--scratch", "--alembic-name", "core", "--no-cache", "--format", "json",
                   "--select", "DBA213,DBA214,DBA215", cwd=project, env=NO_VENV)
    assert core.returncode == 0 and _findings(core.stdout) == []
    assert "upgrade walk over 1 revision (DBA213)" in core.stderr


@pytest.mark.slow
def test_env_templates_reach_settings_that_build_their_own_url(run_cli, tmp_path):
    project = _copy(tmp_path, "scratch_setup_envurl")
    result = run_cli("check", "--scratch", "--no-cache", "--format", "json", cwd=project, env=NO_VENV)
    assert result.returncode == 1, result.stderr
    assert _has(result.stdout, "DBA214", "public.ingredients.unit")
    assert _has(result.stdout, "DBA301", "public.ingredients(recipe_id)")
    (project / "pyproject.toml").unlink()  # now env.py takes the app's default: a SQLite file in data/
    refused = run_cli("check", "--scratch", "--no-cache", "--format", "json", cwd=project, env=NO_VENV)
    assert refused.returncode == 2 and json.loads(refused.stdout)["findings"]  # the static findings are there
    error = _last_error(refused.stderr)
    assert error.startswith("dbagents: error: --scratch refused a connection") and "kitchen.db" in error
    assert "[tool.dbagents.scratch] env" in error
    assert not (project / "data").exists()


def test_unknown_placeholder_is_an_input_error(run_cli, tmp_path):
    project = _copy(tmp_path, "scratch_setup_envurl")
    (project / "pyproject.toml").write_text('[tool.dbagents.scratch]\nenv = {POSTGRES_SERVER = "{hostname}"}\n')
    result = run_cli("check", "--scratch", "--no-cache", cwd=project, env=NO_VENV)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert f"{project / 'pyproject.toml'}: [tool.dbagents.scratch] env.POSTGRES_SERVER: unknown placeholder " \
           "{hostname}" in _last_error(result.stderr)


@pytest.mark.slow
def test_groups_say_what_ran_and_what_was_left_out(run_cli, tmp_path):
    project = _copy(tmp_path, "scratch_setup_sa14")
    migrations = run_cli("check", "migrations", "--scratch", "--no-cache", "--format", "json", cwd=project,
                         env=NO_VENV)
    assert "--scratch ran: upgrade walk over 2 revisions (DBA213), model comparison (DBA214), downgrade walk " \
           "(DBA215)" in migrations.stderr
    assert "left out: live checks DBA301, DBA302, DBA303, DBA305, DBA306, DBA307, DBA311 (not in group " \
           "migrations; `dbagents check --scratch` runs them)" in migrations.stderr
    assert not any(rule.startswith("DBA3") for rule, _ in _findings(migrations.stdout))
    schema = run_cli("check", "schema", "--scratch", "--no-cache", "--format", "json", cwd=project, env=NO_VENV)
    assert "live checks on the migrated schema (DBA301," in schema.stderr
    assert "downgrade walk DBA215 (not in group schema)" in schema.stderr
    assert _has(schema.stdout, "DBA301", "public.books(author_id)")
