"""bench/audit_real.py end to end: a review sheet from a real check of a tiny tree, and a precision table."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TOOL = REPO / "bench" / "audit_real.py"

APP = '''from sqlalchemy import create_engine, text

engine = create_engine("postgresql://app:s3cr3tpw@db.internal/app")


def find(conn, name):
    return conn.execute(text(f"SELECT * FROM users WHERE name = '{name}'"))
'''


def _run(*args, cwd=None):
    return subprocess.run([sys.executable, str(TOOL), *args], capture_output=True, text=True, cwd=cwd, timeout=300)


def test_sheet_samples_per_rule_and_keeps_code_out_of_the_sheet(tmp_path):
    tree = tmp_path / "tiny"
    tree.mkdir()
    (tree / "app.py").write_text(APP)
    out = tmp_path / "review" / "s"
    proc = _run("sheet", "--repo", f"tiny={tree}@abc123", "--seed", "3", "--per-rule", "1", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    sheet = json.loads(out.with_suffix(".json").read_text())
    assert sheet["seed"] == 3 and len(sheet["engine_commit"]) == 40
    rules = [e["rule"] for e in sheet["entries"]]
    assert rules == sorted(set(rules)) and {"DBA501", "DBA502"} <= set(rules)  # one per rule
    assert all(e["repo"] == "tiny" and e["commit"] == "abc123" and e["verdict"] == "" for e in sheet["entries"])
    assert "create_engine" not in out.with_suffix(".json").read_text()  # no code in the sheet
    review = out.with_suffix(".md").read_text()
    assert '>    7     return conn.execute(text(f"SELECT' in review  # the code is in the reviewer's file

    again = tmp_path / "again"
    assert _run("sheet", "--repo", f"tiny={tree}@abc123", "--seed", "3", "--per-rule", "1",
                "--out", str(again)).returncode == 0
    assert json.loads(again.with_suffix(".json").read_text())["entries"] == sheet["entries"]  # seeded

    inside = _run("sheet", "--repo", f"tiny={tree}@abc123", "--seed", "3", "--out", str(REPO / "bench" / "x"))
    assert inside.returncode == 2 and "outside" in inside.stderr
    assert not (REPO / "bench" / "x.md").exists()


def test_table_counts_verdicts_per_rule_and_rejects_bad_sheets(tmp_path):
    entries = [
        {"repo": "tiny", "commit": "abc123", "path": "app.py", "line": 7, "rule": "DBA501", "verdict": "true",
         "reason": "name comes from the request"},
        {"repo": "tiny", "commit": "abc123", "path": "app.py", "line": 3, "rule": "DBA502", "verdict": "false",
         "reason": "placeholder password"},
        {"repo": "tiny", "commit": "abc123", "path": "t.py", "line": 9, "rule": "DBA502", "verdict": "noise",
         "reason": "a test fixture"},
        {"repo": "tiny", "commit": "abc123", "path": "u.py", "line": 1, "rule": "DBA502", "verdict": "true",
         "reason": "real credential"},
    ]
    sheet = tmp_path / "security-2026-12-03.json"
    sheet.write_text(json.dumps({"date": "2026-12-03", "seed": 5, "engine_commit": "f" * 40, "entries": entries}))
    proc = _run("table", str(sheet))
    assert proc.returncode == 0, proc.stderr
    assert "| DBA501 | 1 | 1 | 0 | 0 | 0 % | 0 % |" in proc.stdout
    assert "| DBA502 | 3 | 1 | 1 | 1 | 33 % | 33 % |" in proc.stdout
    assert "| all | 4 | 2 | 1 | 1 | 25 % | 25 % |" in proc.stdout
    assert "security-2026-12-03.json` (2026-12-03, seed 5" in proc.stdout and "tiny abc123" in proc.stdout

    page = tmp_path / "audit.md"
    page.write_text("# Audit\n<!-- audit-table:start -->\nold\n<!-- audit-table:end -->\nafter\n")
    assert _run("table", str(sheet), "--into", str(page)).returncode == 0
    text = page.read_text()
    assert "old" not in text and "| DBA502 | 3 | 1 | 1 | 1 | 33 % | 33 % |" in text and text.endswith("end -->\nafter\n")
    page.write_text("# no markers\n")
    missing = _run("table", str(sheet), "--into", str(page))
    assert missing.returncode == 2 and "audit-table:start" in missing.stderr and page.read_text() == "# no markers\n"

    entries[1]["verdict"] = "maybe"
    sheet.write_text(json.dumps({"entries": entries}))
    bad = _run("table", str(sheet))
    assert bad.returncode == 2 and "entry 2" in bad.stderr and "maybe" in bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1


def test_by_severity_samples_info_apart_and_table_keeps_audits_apart(tmp_path):
    findings = [{"rule": "DBA101", "severity": sev, "path": f"m{n}.py", "line": n, "message": "x"}
                for n, sev in enumerate(["warning", "info", "info", "error"], 1)]
    report = tmp_path / "tiny.json"
    report.write_text(json.dumps({"findings": findings}))
    tree = tmp_path / "tiny"
    tree.mkdir()
    out = tmp_path / "review" / "models-2026-12-03-after"
    proc = _run("sheet", "--repo", f"tiny={tree}@abc123", "--report", f"tiny={report}", "--engine", "e" * 40,
                "--seed", "1", "--per-rule", "1", "--by-severity", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    sheet = json.loads(out.with_suffix(".json").read_text())
    assert sheet["engine_commit"] == "e" * 40 and sheet["population"] == {"DBA101": 2, "DBA101 (info)": 2}
    assert sorted(e["severity"] for e in sheet["entries"]) in (["info", "warning"], ["error", "info"])

    for e in sheet["entries"]:
        e["verdict"], e["reason"] = "true", "right"
    after = tmp_path / "models-2026-12-03-after.json"
    after.write_text(json.dumps(sheet))
    before = tmp_path / "models-2026-12-03.json"
    before.write_text(json.dumps({"date": "2026-12-03", "seed": 7, "entries": [
        {"repo": "tiny", "commit": "abc123", "path": "m1.py", "line": 1, "rule": "DBA101", "verdict": "noise",
         "reason": "test file"}]}))
    table = _run("table", str(after), str(before))
    assert table.returncode == 0, table.stderr
    first, second = table.stdout.split("### Audit 2026-12-03 (after)")
    assert "### Audit 2026-12-03\n" in first and "| DBA101 | 1 | 0 | 0 | 1 | 0 % | 100 % |" in first
    assert "| DBA101 | 2 | 1 | 1 | 0 | 0 |" in second and "| DBA101 (info) | 2 | 1 | 1 | 0 | 0 |" in second
    assert "seed 1, engine eeeeeeeeeeee, 2 findings" in second and "seed 7" not in second
