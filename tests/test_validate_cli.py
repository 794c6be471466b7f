"""`dbagents validate` on the command line: exit codes, default path, formats."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures" / "validate"


@pytest.fixture
def env(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    return {"HOME": str(home)}


def copy(name: str, dest: Path) -> Path:
    shutil.copytree(FIXTURES / name, dest / name)
    return dest / name


def test_clean_exits_0(run_cli, tmp_path):
    project = copy("clean-plugin", tmp_path)
    result = run_cli("validate", project, env={"HOME": str(tmp_path)})
    assert result.returncode == 0, result.stdout + result.stderr
    assert "All checks passed." in result.stdout


def test_default_path_is_dot_claude(run_cli, tmp_path, env):
    project = copy("CC013", tmp_path)
    result = run_cli("validate", cwd=project, env=env)
    assert result.returncode == 1
    assert result.stdout.startswith(".claude/agents/nodesc.md:1:1: CC013 [error]")


def test_warnings_fail_only_with_fail_on_warning(run_cli, tmp_path, env):
    project = copy("CC012", tmp_path)
    assert run_cli("validate", ".claude", cwd=project, env=env).returncode == 0
    result = run_cli("validate", "--fail-on", "warning", ".claude", cwd=project, env=env)
    assert result.returncode == 1 and "CC012 [warning]" in result.stdout


def test_missing_path_exits_2(run_cli, tmp_path, env):
    result = run_cli("validate", tmp_path / "nope", env=env)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr and "nope" in result.stderr


def test_bad_option_exits_2(run_cli, env):
    assert run_cli("validate", "--format", "xml", env=env).returncode == 2


def test_json_format(run_cli, tmp_path, env):
    project = copy("CC020", tmp_path)
    result = run_cli("validate", "--format", "json", ".claude", cwd=project, env=env)
    doc = json.loads(result.stdout)
    assert result.returncode == 1
    assert {f["rule"] for f in doc["findings"]} == {"CC020"}
    assert doc["rules"]["CC020"]["name"] == "unknown-tool"


def test_sarif_format(run_cli, tmp_path, env):
    project = copy("CC022", tmp_path)
    result = run_cli("validate", "--format", "sarif", "--fail-on", "warning", cwd=project, env=env)
    assert result.returncode == 1
    sarif = json.loads(result.stdout)
    run = sarif["runs"][0]
    assert {r["ruleId"] for r in run["results"]} == {"CC022"}
    rule_ids = [r["id"] for r in run["tool"]["driver"]["rules"]]
    assert "CC001" in rule_ids and "CC054" in rule_ids
    loc = run["results"][0]["locations"][0]["physicalLocation"]
    assert loc["artifactLocation"]["uri"] == ".claude/agents/removed.md" and loc["region"]["startLine"] == 4


def test_sarif_matches_official_schema(run_cli, tmp_path, env, repo_root):
    schema_path = repo_root / ".ci" / "node" / "node_modules" / "@microsoft" / "jest-sarif" / "lib" / "schemas"
    schema_file = next(iter(sorted(schema_path.glob("sarif-2.1.0*.json"))), None) if schema_path.is_dir() else None
    if schema_file is None:
        pytest.skip("@microsoft/jest-sarif is not installed in .ci/node")
    import jsonschema

    project = copy("CC015", tmp_path)
    result = run_cli("validate", "--format", "sarif", cwd=project, env=env)
    jsonschema.validate(json.loads(result.stdout), json.loads(schema_file.read_text()))


def test_github_format(run_cli, tmp_path, env):
    project = copy("CC011", tmp_path)
    result = run_cli("validate", "--format", "github", cwd=project, env=env)
    assert result.returncode == 1 and "::error" in result.stdout and "CC011" in result.stdout


def test_single_files_and_kind(run_cli, tmp_path, env):
    loose = tmp_path / "loose.md"
    loose.write_text("---\ndescription: x\nallowed-tools: Reed\n---\nBody\n")
    result = run_cli("validate", loose, env=env)
    assert result.returncode == 1 and "CC020" in result.stdout and "did you mean Read?" in result.stdout
    result = run_cli("validate", "--kind", "agent", loose, env=env)
    assert "CC010" in result.stdout and "CC016" in result.stdout


def test_binary_junk_never_tracebacks(run_cli, tmp_path, env):
    agents = tmp_path / ".claude" / "agents"
    agents.mkdir(parents=True)
    (agents / "junk.md").write_bytes(bytes(range(256)) * 10)
    (agents / "dir.md").mkdir()
    (tmp_path / ".claude" / "skills" / "empty-skill").mkdir(parents=True)
    (tmp_path / ".claude" / "skills" / "empty-skill" / "notes.txt").write_text("x")
    result = run_cli("validate", cwd=tmp_path, env=env)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "CC009" in result.stdout and "CC034" in result.stdout


def test_validate_paths_public_api_relative_paths(tmp_path, monkeypatch):
    from dbagents.validate import validate_paths

    monkeypatch.setenv("HOME", str(tmp_path))
    project = copy("CC032", tmp_path)
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    findings = validate_paths([project / ".claude"])
    assert sorted(f.path for f in findings) == [".claude/agents/one.md", ".claude/agents/sub/two.md"]


def test_rule_prints_validator_rule_docs(run_cli):
    for name in ("CC041", "cc041", "unknown-slash-command"):
        result = run_cli("rule", name)
        assert result.returncode == 0, result.stderr
        lines = result.stdout.splitlines()
        assert lines[0] == "# CC041 unknown-slash-command"
        assert "Default severity: warning. Checked by `dbagents validate`." in lines
        assert "**What:**" in result.stdout and "**Why:**" in result.stdout and "**Fix:**" in result.stdout
    assert run_cli("rule", "CC055").stdout.startswith("# CC055 invalid-hooks")
    result = run_cli("rule", "CC999")
    assert result.returncode == 2 and result.stderr.count("\n") == 1 and "CC001…CC055" in result.stderr


def test_hook_file_findings_on_the_command_line(run_cli, tmp_path, env):
    project = copy("CC055", tmp_path)
    result = run_cli("validate", project, env=env)
    assert result.returncode == 1
    assert "plugin/hooks/hooks.json:4:1: CC055 [error] hooks: `PostToolUsed` is not a hook event" in result.stdout
