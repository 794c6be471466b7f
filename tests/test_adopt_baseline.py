"""The baseline: adopt on day one, later runs report only new findings (issue 13, point 1)."""

from __future__ import annotations

import json

from adopt_fixtures import MODELS, index_revision, make_project, write

from dbagents.check.baseline import enclosing_scopes, normalise

BASELINE = ".dbagents-baseline.json"


def _rules(proc) -> list[tuple[str, str]]:
    return [(f["rule"], f["path"]) for f in json.loads(proc.stdout)["findings"]]


def test_write_then_check_is_clean_and_no_baseline_shows_everything(tmp_path, run_cli):
    make_project(tmp_path)
    wrote = run_cli("check", "--write-baseline", cwd=tmp_path)
    assert wrote.returncode == 0, wrote.stderr
    assert "Wrote 3 baseline entries to .dbagents-baseline.json" in wrote.stdout
    doc = json.loads((tmp_path / BASELINE).read_text())
    assert doc["format"] == "dbagents-baseline"
    assert [(e["rule"], e["path"]) for e in doc["findings"]] == [
        ("DBA114", "app/models.py"), ("DBA202", "migrations/versions/d4e5f6_.py"),
        ("DBA211", "migrations/versions/d4e5f6_.py")]
    assert all(set(e) == {"path", "rule", "fingerprint"} for e in doc["findings"])  # no line numbers
    clean = run_cli("check", cwd=tmp_path)
    assert clean.returncode == 0
    assert "All checks passed." in clean.stdout
    assert "3 findings hidden by the baseline .dbagents-baseline.json; 0 baseline entries stale." in clean.stdout
    full = run_cli("check", "--no-baseline", "--format", "json", cwd=tmp_path)
    assert full.returncode == 1 and len(_rules(full)) == 3 and "baseline" not in json.loads(full.stdout)


def test_rerun_writes_the_same_bytes(tmp_path, run_cli):
    make_project(tmp_path)
    run_cli("check", "--write-baseline", cwd=tmp_path)
    first = (tmp_path / BASELINE).read_bytes()
    again = run_cli("check", "--write-baseline", cwd=tmp_path)
    assert "(3 kept, 0 new, 0 stale dropped)" in again.stdout
    assert (tmp_path / BASELINE).read_bytes() == first


def test_fingerprints_survive_unrelated_edits(tmp_path, run_cli):
    make_project(tmp_path)
    run_cli("check", "--write-baseline", cwd=tmp_path)
    # lines above move every finding; reformatting and a comment do not change the statement
    write(tmp_path, {"app/models.py": "import os\n\n# helpers\n" + MODELS.replace(
        "return select(User).where(User.deleted_at is None)",
        "return select(User).where(  # active only\n        User.deleted_at is None\n    )")})
    moved = run_cli("check", "--format", "json", cwd=tmp_path)
    assert moved.returncode == 0, moved.stdout
    assert json.loads(moved.stdout)["baseline"] == {"path": BASELINE, "hidden": 3, "stale": 0}


def test_new_findings_are_reported_and_stale_entries_counted(tmp_path, run_cli):
    make_project(tmp_path)
    run_cli("check", "--write-baseline", cwd=tmp_path)
    # the same statement a second time in the same function is a new finding (occurrence index)
    write(tmp_path, {"app/models.py": MODELS + "\n\ndef other(User):\n    return select(User).where(User.x is None)\n",
                     "migrations/versions/0a9b8c_.py": index_revision("5e6f7a8b", "8c1d7e2f", "id2")})
    proc = run_cli("check", "--format", "json", cwd=tmp_path)
    assert proc.returncode == 1
    assert sorted(_rules(proc)) == [("DBA114", "app/models.py"), ("DBA202", "migrations/versions/0a9b8c_.py"),
                                    ("DBA211", "migrations/versions/0a9b8c_.py")]
    # fixing a baselined finding leaves a stale entry; --write-baseline drops it and keeps the rest
    write(tmp_path, {"app/models.py": MODELS.replace("is None", "== None")})
    text = run_cli("check", cwd=tmp_path).stdout
    assert "2 findings hidden by the baseline .dbagents-baseline.json; 1 baseline entry stale" in text
    wrote = run_cli("check", "--write-baseline", cwd=tmp_path).stdout
    assert "(2 kept, 2 new, 1 stale dropped)" in wrote


def test_partial_runs_keep_entries_they_did_not_judge(tmp_path, run_cli):
    make_project(tmp_path)
    run_cli("check", "--write-baseline", cwd=tmp_path)
    before = (tmp_path / BASELINE).read_text()
    # from a subfolder, checking only it: the baseline is the project's (git/config root) and other entries stay
    (tmp_path / "pyproject.toml").write_text("[tool.dbagents]\n")
    sub = run_cli("check", cwd=tmp_path / "app")
    assert sub.returncode == 0 and "1 finding hidden" in sub.stdout and "0 baseline entries stale" in sub.stdout
    run_cli("check", "--write-baseline", cwd=tmp_path / "app")
    assert (tmp_path / BASELINE).read_text() == before
    only = run_cli("check", "--select", "DBA114", cwd=tmp_path)
    assert "0 baseline entries stale" in only.stdout


def test_configured_and_explicit_baseline_paths(tmp_path, run_cli):
    make_project(tmp_path, pyproject='[tool.dbagents]\nbaseline = "ci/dbagents.json"\n')
    assert run_cli("check", "--write-baseline", cwd=tmp_path).returncode == 0
    assert (tmp_path / "ci" / "dbagents.json").is_file() and not (tmp_path / BASELINE).exists()
    assert run_cli("check", cwd=tmp_path / "app").returncode == 0
    assert run_cli("check", "--baseline", "other.json", cwd=tmp_path).returncode == 1  # missing file: no baseline


def test_broken_baseline_is_an_input_error(tmp_path, run_cli):
    make_project(tmp_path)
    (tmp_path / BASELINE).write_text('{"format": "dbagents-baseline",\n "version": 1,\n "findings": [}\n')
    proc = run_cli("check", cwd=tmp_path)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert ".dbagents-baseline.json:3" in proc.stderr and "--write-baseline" in proc.stderr
    (tmp_path / BASELINE).write_text('{"findings": []}\n')
    assert "not a dbagents baseline" in run_cli("check", cwd=tmp_path).stderr


def test_normalised_statement_and_scopes():
    assert normalise("x = f(a,  b)  # why\n") == normalise("x = f(\n    a, b\n)\n")
    assert normalise("x = '#not a comment'\n") != normalise("x = ''\n")
    lines = ["class A:", "    def f(self):", "        if x:", "            y = 1", "    z = 2"]
    assert enclosing_scopes(lines, 4) == "A.f"
    assert enclosing_scopes(lines, 5) == "A"
