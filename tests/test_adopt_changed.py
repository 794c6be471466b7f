"""Changed-files mode: --changed-since REF and the pre-commit hook's --only-files (issue 13, point 3)."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import yaml
from adopt_fixtures import MODELS, git, index_revision, make_project, write

from dbagents.check.changed import parse_diff

REPO = Path(__file__).resolve().parents[1]
NEW_REV = {"migrations/versions/0a9b8c_.py": index_revision("5e6f7a8b", "8c1d7e2f", "id2")}
MORE_MODELS = MODELS + "\n\ndef other(User):\n    return select(User).where(User.x is None)\n"


def _found(proc) -> list[tuple[str, str, int]]:
    assert proc.returncode in (0, 1), proc.stderr
    return sorted((f["rule"], f["path"], f["line"]) for f in json.loads(proc.stdout)["findings"])


def _branch(tmp_path) -> Path:
    make_project(tmp_path, repo=True)
    git(tmp_path, "checkout", "-q", "-b", "feature")
    write(tmp_path, {"app/models.py": MORE_MODELS})
    git(tmp_path, "commit", "-qam", "other()")
    return tmp_path


def test_changed_since_judges_changed_lines_and_untracked_files(tmp_path, run_cli):
    _branch(tmp_path)
    write(tmp_path, NEW_REV)  # untracked: changed in full
    got = _found(run_cli("check", "--no-cache", "--format", "json", "--changed-since", "main", cwd=tmp_path))
    # the old DBA114 (line 5) and the old revision's findings are not on changed lines; DBA202 on the new
    # revision needs a fact from another file (orders was created by the first revision)
    assert got == [("DBA114", "app/models.py", 9), ("DBA202", "migrations/versions/0a9b8c_.py", 10),
                   ("DBA211", "migrations/versions/0a9b8c_.py", 10)]
    text = run_cli("check", "--no-cache", "--changed-since", "main", cwd=tmp_path).stdout
    assert "Judged only changed since main (merge base " in text


def test_changed_since_uses_the_merge_base(tmp_path, run_cli):
    _branch(tmp_path)
    git(tmp_path, "checkout", "-q", "main")
    # main moves on after the branch point: compared with main's tip, line 10 of this revision would differ
    write(tmp_path, {"migrations/versions/d4e5f6_.py": index_revision("8c1d7e2f", "3f2a9c1b", "other")})
    git(tmp_path, "commit", "-qam", "landed on main after the branch point")
    git(tmp_path, "checkout", "-q", "feature")
    got = _found(run_cli("check", "--no-cache", "--format", "json", "--changed-since", "main", cwd=tmp_path))
    assert got == [("DBA114", "app/models.py", 9)]


def test_changed_since_from_a_subfolder_and_uncommitted_edits(tmp_path, run_cli):
    make_project(tmp_path, repo=True)
    write(tmp_path, {"app/models.py": MORE_MODELS})  # not committed: the work tree counts
    proc = run_cli("check", "--no-cache", "--format", "json", "--changed-since", "HEAD", cwd=tmp_path / "app")
    assert _found(proc) == [("DBA114", "models.py", 9)]


def test_changed_since_errors(tmp_path, run_cli):
    make_project(tmp_path)
    proc = run_cli("check", "--changed-since", "main", cwd=tmp_path)
    assert proc.returncode == 2 and "needs a git repository" in proc.stderr
    git(tmp_path, "init", "-q")
    git(tmp_path, "add", ".")
    git(tmp_path, "commit", "-qm", "x")
    proc = run_cli("check", "--changed-since", "no-such-branch", cwd=tmp_path)
    assert proc.returncode == 2 and "'no-such-branch' is not a commit here" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_only_files_judges_named_files_with_project_facts(tmp_path, run_cli):
    make_project(tmp_path, repo=True)
    write(tmp_path, NEW_REV)
    rev = "migrations/versions/0a9b8c_.py"
    got = _found(run_cli("check", "--format", "json", "--only-files", rev, cwd=tmp_path))
    assert got == [("DBA202", rev, 10), ("DBA211", rev, 10)]
    # from a subfolder, with `..`: same project, paths relative to the cwd
    sub = _found(run_cli("check", "--format", "json", "--only-files", "../app/models.py", "env.py",
                         cwd=tmp_path / "migrations"))
    assert sub == [("DBA114", str(tmp_path.resolve() / "app/models.py"), 5)]
    empty = run_cli("check", "--only-files", cwd=tmp_path)
    assert empty.returncode == 0 and "All checks passed." in empty.stdout
    assert run_cli("check", "--only-files", "app", cwd=tmp_path).returncode == 2


def test_only_files_respects_the_baseline(tmp_path, run_cli):
    make_project(tmp_path, repo=True)
    assert run_cli("check", "--write-baseline", cwd=tmp_path).returncode == 0
    write(tmp_path, {"app/models.py": "import os\n" + MORE_MODELS})
    proc = run_cli("check", "--format", "json", "--only-files", "app/models.py", cwd=tmp_path)
    assert _found(proc) == [("DBA114", "app/models.py", 10)]
    assert json.loads(proc.stdout)["baseline"]["stale"] == 0  # entries of files not judged are not stale


def test_pre_commit_hook_passes_filenames_to_only_files(tmp_path, run_cli):
    hooks = {h["id"]: h for h in yaml.safe_load((REPO / ".pre-commit-hooks.yaml").read_text())}
    hook = hooks["dbagents-check"]
    assert hook["pass_filenames"] is True
    argv = shlex.split(hook["entry"])
    assert argv[:2] == ["dbagents", "check"] and "--only-files" in argv
    make_project(tmp_path, repo=True)
    write(tmp_path, NEW_REV)
    import re

    staged = [p for p in ("app/models.py", "migrations/versions/0a9b8c_.py", "README.md")
              if re.search(hook["files"], p)]
    assert staged == ["app/models.py", "migrations/versions/0a9b8c_.py"]
    proc = run_cli(*argv[1:], *hook.get("args", []), *staged, cwd=tmp_path)
    assert proc.returncode == 1
    assert "app/models.py:5:31: DBA114" in proc.stdout and "d4e5f6_" not in proc.stdout


def test_parse_diff_hunks():
    diff = ("diff --git a/x.py b/x.py\n--- a/x.py\n+++ b/x.py\n@@ -1,0 +2,3 @@\n+a\n+b\n+c\n"
            "@@ -9 +12 @@\n-x\n+y\n@@ -20,2 +22,0 @@\n-gone\n-gone\n"
            "diff --git a/old.py b/new.py\n--- a/old.py\n+++ b/new.py\n@@ -3 +3 @@\n-p\n+q\n")
    assert parse_diff(diff) == {"x.py": {2, 3, 4, 12}, "new.py": {3}}
