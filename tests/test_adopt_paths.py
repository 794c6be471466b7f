"""Reported paths open the file: text/json/github relative to the current directory (absolute outside it),
SARIF relative to the repository root under %SRCROOT% (issue 13, point 4)."""

from __future__ import annotations

import json

from adopt_fixtures import git, make_project
from test_check_sarif import _multitool, _validate

TEXT_LINE = ":5:31: DBA114"


def _paths_text(proc) -> list[str]:
    return [line.split(":", 1)[0] for line in proc.stdout.splitlines() if TEXT_LINE in line]


def test_text_from_root_with_folder_and_file_arguments(tmp_path, run_cli):
    make_project(tmp_path)
    assert _paths_text(run_cli("check", "--no-cache", cwd=tmp_path)) == ["app/models.py"]
    # the old bug: `check app/` printed models.py, which does not open from here
    assert _paths_text(run_cli("check", "--no-cache", "app/", cwd=tmp_path)) == ["app/models.py"]
    assert _paths_text(run_cli("check", "--no-cache", "models", "app", cwd=tmp_path)) == ["app/models.py"]
    assert _paths_text(run_cli("check", "--no-cache", "app/models.py", cwd=tmp_path)) == ["app/models.py"]
    mig = run_cli("check", "--no-cache", "migrations/versions", cwd=tmp_path)
    assert "migrations/versions/d4e5f6_.py:10:5: DBA202" in mig.stdout


def test_text_from_subfolder_and_with_dotdot(tmp_path, run_cli):
    make_project(tmp_path)
    app = tmp_path / "app"
    assert _paths_text(run_cli("check", "--no-cache", cwd=app)) == ["models.py"]
    assert _paths_text(run_cli("check", "--no-cache", "models.py", cwd=app)) == ["models.py"]
    # `..` from a subfolder: files below the cwd stay relative, files outside it are absolute
    out = run_cli("check", "--no-cache", "..", cwd=app).stdout
    assert "\nmodels.py:5:31: DBA114" in "\n" + out
    assert f"{tmp_path.resolve()}/migrations/versions/d4e5f6_.py:10:5: DBA202" in out
    sibling = run_cli("check", "--no-cache", "../migrations", cwd=app).stdout
    assert f"{tmp_path.resolve()}/migrations/versions/d4e5f6_.py:10:5" in sibling


def test_json_and_github_follow_the_same_rule(tmp_path, run_cli):
    make_project(tmp_path)
    app = tmp_path / "app"
    doc = json.loads(run_cli("check", "--no-cache", "--format", "json", "..", cwd=app).stdout)
    paths = {f["rule"]: f["path"] for f in doc["findings"]}
    assert paths["DBA114"] == "models.py"
    assert paths["DBA202"] == f"{tmp_path.resolve()}/migrations/versions/d4e5f6_.py"
    gh = run_cli("check", "--no-cache", "--format", "github", "app", cwd=tmp_path).stdout
    assert "file=app/models.py,line=5,col=31" in gh


def _uris(doc) -> dict[str, dict]:
    return {r["ruleId"]: r["locations"][0]["physicalLocation"]["artifactLocation"] for r in doc["runs"][0]["results"]}


def test_sarif_relative_to_repository_root_from_a_subfolder(tmp_path, run_cli):
    make_project(tmp_path, repo=True)
    for cwd, args in ((tmp_path / "app", ()), (tmp_path / "app", ("models.py",)), (tmp_path, ("app",)),
                      (tmp_path / "migrations", ("../app",))):
        doc = json.loads(run_cli("check", "--no-cache", "--format", "sarif", *args, cwd=cwd).stdout)
        assert _uris(doc)["DBA114"] == {"uri": "app/models.py", "uriBaseId": "%SRCROOT%"}, (cwd, args)
        assert doc["runs"][0]["originalUriBaseIds"]["%SRCROOT%"]["uri"] == tmp_path.resolve().as_uri() + "/"


def test_sarif_without_git_is_relative_to_the_cwd_and_absolute_outside_it(tmp_path, run_cli):
    make_project(tmp_path)
    doc = json.loads(run_cli("check", "--no-cache", "--format", "sarif", "..", cwd=tmp_path / "app").stdout)
    uris = _uris(doc)
    assert uris["DBA114"] == {"uri": "models.py", "uriBaseId": "%SRCROOT%"}
    assert uris["DBA202"] == {"uri": (tmp_path.resolve() / "migrations/versions/d4e5f6_.py").as_uri()}
    assert doc["runs"][0]["originalUriBaseIds"]["%SRCROOT%"]["uri"] == (tmp_path / "app").resolve().as_uri() + "/"


def test_sarif_from_subfolder_passes_microsoft_validator(tmp_path, run_cli):
    import os

    import pytest

    tool = _multitool()
    if tool is None:
        if os.environ.get("CI"):
            pytest.fail("sarif-multitool missing in CI")
        pytest.skip("npm package @microsoft/sarif-multitool not installed (bash .ci/run installs it)")
    project = make_project(tmp_path / "repo", repo=True)
    for args in ((), ("..",)):
        doc = json.loads(run_cli("check", "--no-cache", "--format", "sarif", *args, cwd=project / "app").stdout)
        assert doc["runs"][0]["results"]
        assert _validate(tool, doc, tmp_path) == []


def test_validator_output_follows_the_rule(tmp_path, run_cli):
    agents = tmp_path / ".claude" / "agents"
    agents.mkdir(parents=True)
    (agents / "bad.md").write_text("---\nname: bad\n---\nbody\n")
    (tmp_path / "sub").mkdir()
    assert run_cli("validate", ".claude", cwd=tmp_path).stdout.startswith(".claude/agents/bad.md:1:1: CC013")
    from_sub = run_cli("validate", "../.claude", cwd=tmp_path / "sub").stdout
    assert from_sub.startswith(f"{tmp_path.resolve()}/.claude/agents/bad.md:1:1: CC013")
    git(tmp_path, "init", "-q")
    doc = json.loads(run_cli("validate", "--format", "sarif", "../.claude", cwd=tmp_path / "sub").stdout)
    assert _uris(doc)["CC013"] == {"uri": ".claude/agents/bad.md", "uriBaseId": "%SRCROOT%"}
