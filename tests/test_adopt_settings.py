"""Alembic cut-off and project facts outside the code (issue 13, points 2 and 5)."""

from __future__ import annotations

import json

import pytest
from adopt_fixtures import index_revision, make_project, write

from dbagents.check.project_settings import GRAPH_RULES, LOCK_RULES, POSTGRES_RULES
from dbagents.check.registry import static_rules

NEW = {"migrations/versions/0a9b8c_.py": index_revision("5e6f7a8b", "8c1d7e2f", "id2")}


def _findings(run_cli, cwd, *args):
    proc = run_cli("check", "--no-cache", "--format", "json", *args, cwd=cwd)
    assert proc.returncode in (0, 1), proc.stderr
    return [(f["rule"], f["path"], f["severity"]) for f in json.loads(proc.stdout)["findings"]]


def _config(**keys) -> str:
    return "[tool.dbagents]\n" + "".join(f'{k} = "{v}"\n' for k, v in keys.items())


def test_cut_off_by_revision_id_on_hash_named_files(tmp_path, run_cli):
    make_project(tmp_path, pyproject=_config(**{"migrations-start-after": "8c1d7e2f"}))
    write(tmp_path, NEW)
    got = _findings(run_cli, tmp_path)
    migration = {(r, p) for r, p, _ in got if r.startswith("DBA2")}
    assert migration == {("DBA202", "migrations/versions/0a9b8c_.py"), ("DBA211", "migrations/versions/0a9b8c_.py")}
    assert ("DBA114", "app/models.py", "error") in got


def test_since_revision_from_the_command_line_with_a_prefix(tmp_path, run_cli):
    make_project(tmp_path)
    write(tmp_path, NEW)
    everything = {p for r, p, _ in _findings(run_cli, tmp_path) if r.startswith("DBA2")}
    assert "migrations/versions/d4e5f6_.py" in everything
    cut = {p for r, p, _ in _findings(run_cli, tmp_path, "--since-revision", "8c1d") if r.startswith("DBA2")}
    assert cut == {"migrations/versions/0a9b8c_.py"}


def test_graph_rules_still_see_history(tmp_path, run_cli):
    make_project(tmp_path)
    # a second head branching off the first revision: DBA213 is about the graph, history or not
    write(tmp_path, {"migrations/versions/ffff_.py": index_revision("99aa", "3f2a9c1b", "note2")})
    got = _findings(run_cli, tmp_path, "--since-revision", "99aa")
    assert any(r == "DBA213" for r, _, _ in got)
    assert not any(p == "migrations/versions/ffff_.py" and r != "DBA213" for r, p, _ in got)


def test_unknown_cut_off_is_an_input_error(tmp_path, run_cli):
    make_project(tmp_path, pyproject=_config(**{"migrations-start-after": "nope"}))
    proc = run_cli("check", "--no-cache", cwd=tmp_path)
    assert proc.returncode == 2
    assert "pyproject.toml: migrations-start-after: revision 'nope' is not in any Alembic revision graph" \
        in proc.stderr
    assert "Traceback" not in proc.stderr
    # a run that checks no migrations has nothing to cut
    assert run_cli("check", "--no-cache", "app", cwd=tmp_path).returncode == 1


def test_lock_timeout_set_outside_the_code_satisfies_dba211(tmp_path, run_cli):
    make_project(tmp_path, pyproject=_config(**{"lock-timeout": "role"}))
    rules = {r for r, _, _ in _findings(run_cli, tmp_path)}
    assert "DBA202" in rules and "DBA211" not in rules


def test_offline_migrations_make_lock_rules_info(tmp_path, run_cli):
    make_project(tmp_path, pyproject=_config(**{"migrations-run": "offline"}))
    got = {r: s for r, _, s in _findings(run_cli, tmp_path)}
    assert got["DBA202"] == "info" and got["DBA211"] == "info" and got["DBA114"] == "error"


@pytest.mark.parametrize("dialect", ["sqlite", "mysql"])
def test_other_dialect_turns_postgres_lock_rules_off(tmp_path, run_cli, dialect):
    make_project(tmp_path, pyproject=_config(dialect=dialect))
    rules = {r for r, _, _ in _findings(run_cli, tmp_path)}
    assert rules == {"DBA114"}


def test_bad_setting_value_names_the_file(tmp_path, run_cli):
    make_project(tmp_path, pyproject=_config(**{"migrations-run": "sometimes"}))
    proc = run_cli("check", "--no-cache", cwd=tmp_path)
    assert proc.returncode == 2
    assert "migrations-run must be one of 'online', 'offline'" in proc.stderr


def test_changing_a_setting_is_not_hidden_by_the_cache(tmp_path, run_cli):
    make_project(tmp_path)
    first = run_cli("check", "--format", "json", cwd=tmp_path)  # fills the cache
    assert "DBA211" in {f["rule"] for f in json.loads(first.stdout)["findings"]}
    (tmp_path / "pyproject.toml").write_text(_config(**{"lock-timeout": "pgoptions"}))
    proc = run_cli("check", "--format", "json", cwd=tmp_path)
    assert "DBA211" not in {f["rule"] for f in json.loads(proc.stdout)["findings"]}


@pytest.mark.parametrize("rid", sorted(r for r in static_rules() if r.startswith("DBA2")))
def test_each_affected_rule_documents_the_settings(rid):
    doc = static_rules()[rid].doc
    assert "## Project settings" in doc
    assert "migrations-start-after" in doc
    assert ("do not apply" in doc) == (rid in GRAPH_RULES)
    assert ("migrations-run" in doc) == (rid in LOCK_RULES)
    assert ("dialect" in doc) == (rid in POSTGRES_RULES)
    assert ("lock-timeout" in doc) == (rid == "DBA211")


NOT_VALID = '''"""check total"""
from alembic import op

revision = "{rev}"
down_revision = "{down}"


def upgrade():
    {body}


def downgrade():
    pass
'''


def test_validating_a_constraint_added_by_history_is_not_dba219(tmp_path, run_cli):
    make_project(tmp_path)
    write(tmp_path, {
        "migrations/versions/b1_.py": NOT_VALID.format(rev="b1b1", down="8c1d7e2f", body=(
            'op.create_check_constraint("ck_orders_total", "orders", "id >= 0", postgresql_not_valid=True)')),
        "migrations/versions/b2_.py": NOT_VALID.format(rev="b2b2", down="b1b1", body=(
            'op.execute("ALTER TABLE orders VALIDATE CONSTRAINT ck_orders_total")')),
    })
    assert ("DBA219", "migrations/versions/b2_.py") in {(r, p) for r, p, _ in _findings(run_cli, tmp_path)}
    cut = {(r, p) for r, p, _ in _findings(run_cli, tmp_path, "--since-revision", "b1b1")}
    assert not any(r == "DBA219" for r, _ in cut)
