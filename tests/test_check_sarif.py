"""SARIF 2.1.0 output: valid against the official schema (shipped in tests/data) and Microsoft's validator."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import jsonschema
import pytest

DATA = Path(__file__).parent / "data"
REPO = Path(__file__).resolve().parents[1]
BAD = "from sqlalchemy import select\nstmt = select(User).where(User.deleted_at is None)\n"


def sarif_for(tmp_path, run_cli, *args):
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "q.py").write_text(BAD)
    (tmp_path / "app" / "new.py").write_text("import sqlalchemy\ntype X = int\n")
    proc = run_cli("check", "--no-cache", "--format", "sarif", *args, ".")
    assert proc.returncode == 1, proc.stderr
    return json.loads(proc.stdout)


def test_sarif_matches_official_schema(tmp_path, run_cli):
    doc = sarif_for(tmp_path, run_cli)
    schema = json.loads((DATA / "sarif-2.1.0-rtm.5.json").read_text())
    jsonschema.Draft4Validator(schema).validate(doc)
    run = doc["runs"][0]
    results = {r["ruleId"]: r for r in run["results"]}
    assert set(results) == {"DBA000", "DBA114"}
    loc = results["DBA114"]["locations"][0]["physicalLocation"]
    assert loc["artifactLocation"]["uri"] == "app/q.py"  # relative to the checked folder
    assert loc["region"] == {"startLine": 2, "startColumn": 27}
    rules = {r["id"]: r for r in run["tool"]["driver"]["rules"]}
    assert rules["DBA114"]["name"] == "python-operator-in-filter"
    assert "## Why is this bad" in rules["DBA114"]["help"]["markdown"]
    assert run["tool"]["driver"]["version"]


def _multitool() -> str | None:
    local = REPO / ".ci" / "node" / "node_modules" / ".bin" / "sarif-multitool"
    return str(local) if local.exists() else shutil.which("sarif-multitool")


def _validate(tool: str, doc: dict, tmp_path: Path) -> list:
    out = tmp_path / "out.sarif"
    out.write_text(json.dumps(doc))
    report = tmp_path / "report.sarif"
    proc = subprocess.run(
        [tool, "validate", str(out), "-o", str(report), "--log", "ForceOverwrite", "--level", "Error", "Warning",
         "--kind", "Fail"],
        capture_output=True, text=True, timeout=300,
    )
    assert report.exists(), proc.stdout + proc.stderr
    return [
        (r["ruleId"], r["message"].get("arguments"))
        for r in json.loads(report.read_text())["runs"][0].get("results", [])
    ]


def test_sarif_passes_microsoft_validator(tmp_path, run_cli):
    tool = _multitool()
    if tool is None:
        if os.environ.get("CI"):
            pytest.fail("sarif-multitool missing in CI: .ci/run must npm install @microsoft/sarif-multitool")
        pytest.skip("npm package @microsoft/sarif-multitool not installed (bash .ci/run installs it)")
    doc = sarif_for(tmp_path, run_cli)
    assert _validate(tool, doc, tmp_path) == []
    # the same validator does catch a broken log (so the assertion above can fail)
    broken = json.loads(json.dumps(doc))
    broken["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["region"]["startLine"] = 0
    assert _validate(tool, broken, tmp_path) != []
