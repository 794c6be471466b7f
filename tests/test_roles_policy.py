"""File roles and the central per-rule policy (check/roles.py), on small trees run through the real CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from dbagents.check.facts._file_roles import path_role
from dbagents.check.registry import all_rule_infos, static_rules
from dbagents.check.roles import POLICY, action

SECRETS = '''from sqlalchemy import create_engine, text

engine = create_engine("postgresql://app:s3cr3tpw@db.internal/app")


def find(conn, name):
    return conn.execute(text(f"SELECT * FROM users WHERE name = '{name}'"))
'''


def check(root: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "dbagents", "check", "--no-baseline", "--format", "json", *args, "."],
                          cwd=root, capture_output=True, text=True, timeout=120)


def findings(root: Path, *args: str) -> list[dict]:
    proc = check(root, *args)
    assert proc.returncode in (0, 1), proc.stderr
    return json.loads(proc.stdout)["findings"]


def seen(found, rule):
    return sorted((f["path"], f["severity"]) for f in found if f["rule"] == rule)


def write(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return root


@pytest.mark.parametrize("path, role", [
    ("tests/api/test_users.py", "test"), ("app/conftest.py", "test"), ("pkg/users_test.py", "test"),
    ("src/pkg/testing/factories.py", "test"), ("tests/fixtures/data.py", "test"), ("bench/bench_x.py", "bench"),
    ("benchmarks/q.py", "bench"), ("server/scripts/backfill.py", "script"), ("bin/run.py", "script"),
    ("indico/cli/event.py", "script"), ("tools/conv.py", "script"), ("lnbits/tools/helpers.py", "code"),
    ("shop/management/commands/purge.py", "script"), ("src/app/cli.py", "script"),
    ("manage.py", "script"), ("app/models.py", "code"), ("app/testimonials.py", "code"),
    ("app/management/views.py", "code"), ("app/scriptures.py", "code"),
])
def test_path_roles(path, role):
    assert path_role(path) == role


def test_tests_and_scripts_follow_the_policy(tmp_path):
    root = write(tmp_path, {"app/db.py": SECRETS, "tests/test_db.py": SECRETS, "scripts/fix.py": SECRETS,
                            "bench/load.py": SECRETS})
    found = findings(root)
    assert seen(found, "DBA502") == [("app/db.py", "error"), ("scripts/fix.py", "error")]
    assert seen(found, "DBA501") == [("app/db.py", "info")]


def test_per_role_overrides_and_role_globs(tmp_path):
    root = write(tmp_path, {"app/db.py": SECRETS, "tests/test_db.py": SECRETS, "qa/db_checks.py": SECRETS,
                            "scripts/fix.py": SECRETS})
    (root / "pyproject.toml").write_text(
        '[tool.dbagents]\nroles = { test = ["qa/*"], code = ["scripts/fix.py"] }\n\n'
        '[tool.dbagents.per-role]\ntest = { DBA502 = "on", DBA5 = "info" }\ncode = { DBA501 = "off" }\n')
    found = findings(root)
    # DBA502: the exact id beats the DBA5 prefix (reported in tests again, at the rule's own severity there);
    # qa/ is a test folder by glob; scripts/fix.py is code by glob
    assert [p for p, _ in seen(found, "DBA502")] == ["app/db.py", "qa/db_checks.py", "scripts/fix.py",
                                                     "tests/test_db.py"]
    assert seen(found, "DBA501") == [("qa/db_checks.py", "info"), ("tests/test_db.py", "info")]


@pytest.mark.parametrize("toml, words", [
    ('[tool.dbagents.per-role]\nspecs = { DBA501 = "on" }\n', "unknown role 'specs'"),
    ('[tool.dbagents.per-role]\ntest = { DBA501 = "loud" }\n', 'test.DBA501 must be "on", "info" or "off"'),
    ('[tool.dbagents]\nroles = { test = 3 }\n', "roles.test must be a list of strings"),
    ('[tool.dbagents.per-role]\ntest = { DBA999 = "off" }\n', "per-role.test: 'DBA999' matches no rule"),
    ('[tool.dbagents]\nsqlalchemy = "latest"\n', "give the SQLAlchemy version"),
])
def test_bad_settings_are_one_line_errors(tmp_path, toml, words):
    root = write(tmp_path, {"app/db.py": SECRETS, "pyproject.toml": toml})
    proc = check(root)
    assert proc.returncode == 2 and words in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr


REVISION = '''from alembic import op

revision = "r{n}"
down_revision = {down}


def upgrade():
    conn = op.get_bind()
    conn.execute("UPDATE t SET x = {n}")
    op.create_index("ix_t_x{n}", "t", ["x"])


def downgrade():
    pass
'''


def _chain(root: Path) -> Path:
    files = {"alembic.ini": "[alembic]\nscript_location = migrations\n"}
    for n in (1, 2, 3, 4):
        down = "None" if n == 1 else f'"r{n - 1}"'
        files[f"migrations/versions/r{n}.py"] = REVISION.format(n=n, down=down)
    return write(root, files)


def test_past_revisions_are_not_judged(tmp_path):
    root = _chain(tmp_path)

    def where(found, rule):
        return [p.rsplit("/", 1)[1] for p, _ in seen(found, rule)]

    found = findings(root, "--select", "DBA101,DBA202")  # r4 is the head, r3 right below it: recent
    assert where(found, "DBA101") == where(found, "DBA202") == ["r3.py", "r4.py"]
    (root / "pyproject.toml").write_text('[tool.dbagents]\nmigrations-start-after = "r1"\n')
    found = findings(root, "--select", "DBA101,DBA202")  # with a cut-off, everything after it is judged
    assert where(found, "DBA101") == where(found, "DBA202") == ["r2.py", "r3.py", "r4.py"]
    (root / "pyproject.toml").write_text('[tool.dbagents.per-role]\npast-revision = { DBA101 = "on" }\n')
    found = findings(root, "--select", "DBA101,DBA202")
    assert where(found, "DBA101") == ["r1.py", "r2.py", "r3.py", "r4.py"]
    assert where(found, "DBA202") == ["r3.py", "r4.py"]


def test_every_static_rule_doc_says_where_it_applies():
    infos = all_rule_infos()
    for rid in static_rules():
        assert "\n## Where it applies\n" in infos[rid].help, rid
    for rid, cells in POLICY.items():
        section = infos[rid].help.split("## Where it applies", 1)[1]
        for role, verdict in cells.items():
            assert action(rid, role, {}) == verdict
            assert ("not reported" if verdict == "off" else "reported as info") in section, (rid, role)
    assert "Everywhere.\n" in infos["DBA104"].help.split("## Where it applies", 1)[1]
    assert "- past Alembic revisions: not reported." in infos["DBA202"].help  # every migration rule
    assert "past Alembic revisions" not in infos["DBA213"].help.split("## Where it applies", 1)[1]
    proc = subprocess.run([sys.executable, "-m", "dbagents", "rule", "DBA502"], capture_output=True, text=True)
    assert "- test files: not reported." in proc.stdout


def _run(root: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "dbagents", *args], cwd=root, input=stdin, capture_output=True,
                          text=True, timeout=120)


def _git(root: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args], cwd=root, check=True,
                   capture_output=True)


def test_revisions_in_the_runs_scope_are_never_past(tmp_path):
    """A change that adds several revisions: the oldest of them sits two steps below the head, but it is being
    written now. --changed-since, --only-files and the hook judge it; a plain run still treats it as history."""
    root = _chain(tmp_path)
    _git(root, "init", "-q", "-b", "main")
    _git(root, "add", "alembic.ini", "migrations/versions/r1.py")
    _git(root, "commit", "-q", "-m", "shipped")
    _git(root, "checkout", "-q", "-b", "feature")
    _git(root, "add", ".")
    _git(root, "commit", "-q", "-m", "three new revisions")

    plain = findings(root, "--select", "DBA202")
    assert [p for p, _ in seen(plain, "DBA202")] == ["migrations/versions/r3.py", "migrations/versions/r4.py"]

    proc = _run(root, "check", "--no-baseline", "--format", "json", "--select", "DBA202", "--changed-since", "main")
    assert proc.returncode in (0, 1), proc.stderr
    judged = [f["path"] for f in json.loads(proc.stdout)["findings"]]
    assert judged == [f"migrations/versions/r{n}.py" for n in (2, 3, 4)]  # r1 is not in the change

    proc = _run(root, "check", "--no-baseline", "--format", "json", "--select", "DBA202", "--only-files",
                "migrations/versions/r2.py")
    assert [f["path"] for f in json.loads(proc.stdout)["findings"]] == ["migrations/versions/r2.py"], proc.stderr

    payload = json.dumps({"hook_event_name": "PostToolUse", "tool_name": "Edit", "cwd": str(root),
                          "tool_input": {"file_path": str(root / "migrations/versions/r2.py")}})
    proc = _run(root, "hook", stdin=payload)
    assert proc.returncode == 2 and "r2.py:10:" in proc.stderr and "DBA202" in proc.stderr, proc.stderr


def test_a_scoped_run_learns_no_role_outside_its_scope(tmp_path, monkeypatch):
    """The hook judges one file: findings elsewhere (here DBA202 on revisions) are dropped by the filter stage
    anyway, so the context step must not build the revision graph to learn their roles (30 ms a hook on polar)."""
    from dbagents.check.engine import check_tree
    from dbagents.check.facts import _file_roles
    from dbagents.config import Config

    root = _chain(tmp_path)
    write(root, {"app/models.py": "from datetime import datetime\nfrom sqlalchemy import Column, DateTime, Integer\n"
                                  "from sqlalchemy.orm import declarative_base\nBase = declarative_base()\n"
                                  "class Event(Base):\n    __tablename__ = 'events'\n"
                                  "    id = Column(Integer, primary_key=True)\n    at = Column(DateTime)\n"})
    built = []
    real = _file_roles.revision_roles
    monkeypatch.setattr(_file_roles, "revision_roles", lambda graph: built.append(1) or real(graph))
    enabled = {"DBA105", "DBA202"}
    whole = check_tree([root], root=root.resolve(), config=Config(), enabled=enabled, jobs=1, use_cache=False)
    assert built and {f.rule_id for f in whole.findings} == {"DBA105", "DBA202"}
    built.clear()
    scoped = Config(in_progress=frozenset({str((root / "app/models.py").resolve())}))
    outcome = check_tree([root], root=root.resolve(), config=scoped, enabled=enabled, jobs=1, use_cache=False)
    assert not built
    assert [(f.rule_id, f.path) for f in outcome.findings] == [("DBA105", "app/models.py")]
