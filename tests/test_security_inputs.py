"""Hostile trees: symlinks leading out, huge and absurdly nested files, backtracking globs and a pyproject.toml
naming programs. Each ends with a DBA000 note or a normal run: never a hang, a traceback or a started process."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from dbagents.check import engine
from dbagents.check.engine import MAX_FILE_BYTES, check_tree
from dbagents.check.registry import selected_ids
from dbagents.config import load_config

BAD = "from sqlalchemy import select\nstmt = select(User).where(User.deleted_at is None)\n"  # DBA114
SECRET_URL = "postgresql://admin:hunter2@prod.internal/app"
SECRET = f"from sqlalchemy import create_engine\nengine = create_engine({SECRET_URL!r})\n"  # DBA503 material


def run_check(root: Path, **kwargs):
    config = load_config(root)
    return check_tree([root], root=root, config=config, enabled=selected_ids([], [], []), use_cache=False,
                      **kwargs)


def by_path(outcome) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for f in outcome.findings:
        found.setdefault(f.path, []).append(f.rule_id)
    return found


def test_symlink_to_a_file_outside_the_tree_is_reported_as_skipped_and_never_read(tmp_path, run_cli):
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "settings.py").write_text(SECRET)
    root = tmp_path / "proj"
    (root / "app").mkdir(parents=True)
    (root / "app" / "q.py").write_text(BAD)
    (root / "app" / "db.py").symlink_to(outside / "settings.py")
    (root / "app" / "same.py").symlink_to(root / "app" / "q.py")  # inside the tree: checked as before
    outcome = run_check(root)
    assert by_path(outcome) == {"app/db.py": ["DBA000"], "app/q.py": ["DBA114"], "app/same.py": ["DBA114"]}
    [note] = [f for f in outcome.findings if f.path == "app/db.py"]
    assert "symbolic link to a file outside the checked folder" in note.message
    for fmt in ("json", "sarif", "text"):
        proc = run_cli("check", "--no-cache", "--format", fmt, ".", cwd=root)
        assert proc.returncode in (0, 1), proc.stderr
        assert "hunter2" not in proc.stdout and "prod.internal" not in proc.stdout
        assert "app/db.py" in proc.stdout


def test_a_file_larger_than_the_limit_is_not_read(tmp_path, monkeypatch):
    root = tmp_path / "proj"
    root.mkdir()
    (root / "q.py").write_text(BAD)
    model = "from sqlalchemy.orm import Mapped, mapped_column\n"
    (root / "huge_models.py").write_text(model + "x = 1\n" * ((MAX_FILE_BYTES - len(model)) // 6 + 1))
    reads = []
    real = engine.read_source
    monkeypatch.setattr(engine, "read_source", lambda path: reads.append(path.name) or real(path))
    outcome = run_check(root, jobs=1)
    assert by_path(outcome) == {"huge_models.py": ["DBA000"], "q.py": ["DBA114"]}
    [note] = [f for f in outcome.findings if f.path == "huge_models.py"]
    assert "MiB is more than the 4 MiB dbagents reads of one file" in note.message
    assert outcome.files_parsed == 1


@pytest.mark.parametrize("kind", ["parens", "binop", "attribute", "calls", "sql-concat"])
def test_absurd_nesting_ends_with_a_note(tmp_path, kind):
    """ast.parse gives up near the recursion limit; the analyses (recursive by nature) stop there too."""
    depth = 10_000
    body = {
        "parens": "x = " + "(" * depth + "1" + ")" * depth,
        "binop": "x = " + " + ".join(["a"] * depth),
        "attribute": "x = sa" + ".b" * depth,
        "calls": "x = select" + "(a)" * depth,
        "sql-concat": "session.execute(text(" + " + ".join(['"s"'] * 600) + "))",  # parses; the analysis is deep
    }[kind]
    root = tmp_path / "proj"
    root.mkdir()
    (root / "deep.py").write_text("import sqlalchemy as sa\nfrom sqlalchemy import select, text\n" + body + "\n")
    (root / "q.py").write_text(BAD)
    outcome = run_check(root, jobs=1)
    assert by_path(outcome) == {"deep.py": ["DBA000"], "q.py": ["DBA114"]}


BRANCHY = """from sqlalchemy import text


def build(session, row, flags):
    sql = "SELECT id FROM events WHERE 1 = 1"
{branches}    return session.execute(text(sql))
"""


def test_sql_built_through_many_branches_stays_linear(tmp_path):
    """Each `if/else` joins what both paths built: a SQL string extended in 60 such branches (polar's prompt
    builder has the shape) once doubled its record at every join, 2**60 names, and exhausted memory."""
    branch = ('    if flags[{n}]:\n        sql += f" AND a{n} = {{row.a{n}}}"\n'
              '    else:\n        sql += f" AND b{n} = {{row.b{n}}}"\n')
    root = tmp_path / "proj"
    root.mkdir()
    (root / "query.py").write_text(BRANCHY.format(branches="".join(branch.format(n=n) for n in range(60))))
    code = ("import resource, sys; resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30)); "
            "from dbagents.cli import main; sys.exit(main(['check', '--no-cache', '--no-baseline', '-j', '1', "
            "'--select', 'DBA501', '--format', 'json', '.']))")
    proc = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, timeout=120)
    assert proc.returncode in (0, 1), proc.stderr[-2000:]
    assert [f["rule"] for f in json.loads(proc.stdout)["findings"]] == ["DBA501"]


def test_a_folder_nested_deeper_than_the_recursion_limit_is_walked(tmp_path):
    """Walked with a stack: depth costs no Python frames. (The limit is lowered instead of building a tree
    thousands of folders deep, which pytest's own clean-up, shutil.rmtree, could not remove.)"""
    import inspect

    root = tmp_path / "proj"
    deep = root
    for _ in range(300):
        deep = deep / "d"
        deep.mkdir(parents=True)
    (deep / "q.py").write_text(BAD)
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(len(inspect.stack(0)) + 120)  # fewer frames left than there are folder levels
    try:
        outcome = run_check(root, jobs=1)
    finally:
        sys.setrecursionlimit(limit)
    assert [(f.rule_id, f.path.count("/")) for f in outcome.findings] == [("DBA114", 300)]


HOSTILE_GLOB = "*a" * 24 + "*b"  # a backtracking regex would try every split of a long name: hours


def test_backtracking_globs_in_config_and_gitignore_do_not_hang(tmp_path, run_cli):
    root = tmp_path / "proj"
    root.mkdir()
    (root / "pyproject.toml").write_text(textwrap.dedent(f"""
        [tool.dbagents]
        exclude = ["{HOSTILE_GLOB}", "**/{HOSTILE_GLOB}/**"]
        [tool.dbagents.per-file-ignores]
        "{HOSTILE_GLOB}" = ["DBA114"]
    """))
    (root / ".gitignore").write_text(f"{HOSTILE_GLOB}\n**/a/**/a/**/a/**/a/**/a/**/b\n[z-a]\n{HOSTILE_GLOB}/\n")
    name = "a" * 120
    nested = root.joinpath(*["a"] * 40)
    nested.mkdir(parents=True)
    for folder in (root, nested):
        (folder / f"{name}.py").write_text(BAD)
    # a hang would trip the timeout; the matches themselves are exact
    proc = subprocess.run([sys.executable, "-m", "dbagents", "check", "--no-cache", "--format", "json", "."],
                          cwd=root, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1, proc.stderr
    paths = sorted(f["path"] for f in json.loads(proc.stdout)["findings"])
    assert paths == sorted([f"{name}.py", f"{'a/' * 40}{name}.py"])


AUDIT = r'''
import sys
log = open(sys.argv[1], "a")
STARTS = ("subprocess.Popen", "os.system", "os.exec", "os.posix_spawn", "os.spawn", "os.fork", "os.forkpty",
          "os.startfile", "pty.spawn")
def hook(event, args):
    if event in STARTS:
        log.write(f"{event} {args!r}\n")
        log.flush()
sys.addaudithook(hook)
if sys.argv[2] == "--control":
    import subprocess
    subprocess.run([sys.executable, "-c", "pass"])
    raise SystemExit(0)
from dbagents.cli import main
main(sys.argv[2:])
'''


def test_a_malicious_pyproject_cannot_make_check_start_a_process(tmp_path):
    marker = tmp_path / "PWNED"
    program = tmp_path / "evil.sh"
    program.write_text(f"#!/bin/sh\ntouch {marker}\n")
    program.chmod(0o755)
    root = tmp_path / "proj"
    (root / "migrations" / "versions").mkdir(parents=True)
    (root / "migrations" / "env.py").write_text("from alembic import context\ncontext.run_migrations()\n")
    (root / "alembic.ini").write_text("[alembic]\nscript_location = migrations\n")
    (root / "q.py").write_text(BAD)
    (root / "pyproject.toml").write_text(textwrap.dedent(f"""
        [tool.dbagents]
        exclude = ["$(touch {marker})"]
        [tool.dbagents.scratch]
        python = "{program}"
        server = "local"
        app = "os:system"
        env = {{ PGHOST = "$(touch {marker})" }}
        [tool.dbagents.live]
        statement_timeout_ms = 1
        [tool.alembic]
        script_location = "migrations"
        [tool.pytest.ini_options]
        addopts = "-p evil"
    """))
    script = tmp_path / "audit.py"
    script.write_text(AUDIT)
    log = tmp_path / "starts.log"

    control = subprocess.run([sys.executable, str(script), str(log), "--control"], capture_output=True, text=True,
                             timeout=60)
    assert control.returncode == 0 and "subprocess.Popen" in log.read_text()  # the hook does see process starts
    log.unlink()

    for args in (["check", "--format", "json", "."], ["check", "migrations", "."], ["check", "--no-cache", "-j", "1"]):
        proc = subprocess.run([sys.executable, str(script), str(log), *args], cwd=root, capture_output=True,
                              text=True, timeout=120)
        assert proc.returncode in (0, 1), proc.stderr
        assert "Traceback" not in proc.stderr
        assert not log.exists() or log.read_text() == "", log.read_text()
        assert not marker.exists()


def test_a_checked_repository_cannot_make_check_start_git(tmp_path):
    """The repository root (for SARIF paths and the baseline) is found without starting git, so a checked
    tree's .git/config (core.fsmonitor, hooks) never runs; the root found is the one git would give."""
    marker = tmp_path / "PWNED"
    root = tmp_path / "repo"
    (root / "app").mkdir(parents=True)
    (root / "app" / "q.py").write_text(BAD)
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    subprocess.run(["git", "-C", str(root), "config", "core.fsmonitor", f"touch {marker}; false"], check=True)
    script = tmp_path / "audit.py"
    script.write_text(AUDIT)
    log = tmp_path / "starts.log"
    for args in (["check", "--format", "sarif", "."], ["check", "--format", "json", "."], ["check", "."]):
        proc = subprocess.run([sys.executable, str(script), str(log), *args], cwd=root / "app", capture_output=True,
                              text=True, timeout=120)
        assert proc.returncode == 1, proc.stderr
        assert not log.exists() or log.read_text() == "", log.read_text()
        assert not marker.exists()
        if "sarif" in args:
            (result,) = json.loads(proc.stdout)["runs"][0]["results"]
            assert result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "app/q.py"
