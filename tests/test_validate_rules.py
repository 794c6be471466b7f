"""One hand-written broken fixture per validator finding id, plus files Claude Code accepts that must stay clean."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from dbagents.findings import Severity
from dbagents.validate import VALIDATOR_RULES, validate_paths

FIXTURES = Path(__file__).parent / "fixtures" / "validate"
FIXTURE_IDS = sorted(p.name for p in FIXTURES.iterdir() if re.fullmatch(r"CC\d{3}", p.name))
GENERATED_IDS = {"CC007"}  # a >1 MiB file is generated in the test, not committed


@pytest.fixture(autouse=True)
def isolated_home(tmp_path, monkeypatch):
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("USERPROFILE", str(home))
    return home


def ids(findings):
    return {f.rule_id for f in findings}


def test_every_rule_has_a_fixture():
    assert set(VALIDATOR_RULES) == set(FIXTURE_IDS) | GENERATED_IDS


@pytest.mark.parametrize("rule_id", FIXTURE_IDS)
def test_fixture_triggers_its_rule(rule_id):
    findings = validate_paths([FIXTURES / rule_id])
    hits = [f for f in findings if f.rule_id == rule_id]
    assert hits, f"{rule_id} not reported; got {[(f.rule_id, f.message) for f in findings]}"
    for f in hits:
        assert f.severity == VALIDATOR_RULES[rule_id].severity
        assert f.path and not f.path.startswith("/")


def test_file_too_large(tmp_path):
    agents = tmp_path / ".claude" / "agents"
    agents.mkdir(parents=True)
    (agents / "huge.md").write_text("---\nname: huge\ndescription: x\n---\n" + "x" * (1024 * 1024 + 10))
    findings = validate_paths([tmp_path / ".claude"])
    assert [f.rule_id for f in findings] == ["CC007"]


def test_rule_catalogue_is_complete():
    for rid, info in VALIDATOR_RULES.items():
        assert re.fullmatch(r"CC\d{3}", rid) and info.id == rid
        assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", info.name), info.name
        assert info.summary and info.help_uri.startswith("https://")
        for part in ("**What:**", "**Why:**", "**Fix:**"):
            assert part in info.help, (rid, part)
    assert len({i.name for i in VALIDATOR_RULES.values()}) == len(VALIDATOR_RULES)


def by_file(findings):
    out = {}
    for f in findings:
        out.setdefault(f.path.rsplit("/", 1)[-1], []).append(f)
    return out


def test_messages_name_the_problem():
    got = by_file(validate_paths([FIXTURES / "CC020"]))["tools.md"]
    hints = {f.message.split("`")[1]: f.hint for f in got}
    assert hints["Reed"] == "did you mean Read?"
    assert hints["read"] == "did you mean Read?"
    assert "Fetch" in hints
    renamed = validate_paths([FIXTURES / "CC021"])
    assert {f.hint for f in renamed} == {"write `Agent`", "write `TaskStop`", "write `TaskOutput`"}
    mcp = validate_paths([FIXTURES / "CC024"])
    assert [f.message.split("`")[1] for f in mcp] == ["github"]  # ghost is in .mcp.json
    assert "claude mcp add" in mcp[0].hint
    rules = validate_paths([FIXTURES / "CC023"])
    assert len([f for f in rules if f.rule_id == "CC023"]) == 5
    refs = validate_paths([FIXTURES / "CC040"])
    assert sorted((f.line, f.message.split("`")[1]) for f in refs) == [
        (5, ".claude/context/missing.md"), (6, "@docs/absent.md"), (6, "~/.claude/context/nothing.md")]
    slash = validate_paths([FIXTURES / "CC041"])
    assert sorted(f.message.split("`")[1] for f in slash) == sorted([
        "/missing-too", "/no-such-command",
        "/no-such-check", "/dbagents:missing-plugin-command", "/also-missing", "/last-missing"])  # bare mentions
    assert {f.path.rsplit("/", 1)[-1] for f in slash if "-check" in f.message} == {"bare.md"}


def test_hook_files_are_checked():
    found = validate_paths([FIXTURES / "CC055"])
    by_file = {}
    for f in found:
        by_file.setdefault(f.path.split("CC055/", 1)[1], []).append((f.rule_id, f.message, f.hint))
    plugin = by_file["plugin/hooks/hooks.json"]
    assert ("CC055", "hooks: `PostToolUsed` is not a hook event; Claude Code rejects the hooks",
            "did you mean PostToolUse?") in plugin
    assert any("a `command` hook of PostToolUse has no `command`" in m for _, m, _ in plugin)
    assert any('`hooks.Stop.0.hooks.0.type: "shell"`' in m for _, m, _ in plugin)
    settings = by_file["project/.claude/settings.json"]
    assert sorted(m.split("`")[1] for _, m, _ in settings) == ['PreToolUse.0.hooks.0.timeout: "10"',
                                                                "PreToolUse.0.matcher: 5"]
    assert [r for r, _, _ in by_file["project/.claude/settings.local.json"]] == ["CC050"]
    assert len(found) == 6


def test_each_invalid_field_is_reported():
    found = validate_paths([FIXTURES / "CC015"])
    fields = sorted(f.message.split("`")[1].split(":")[0] for f in found if f.rule_id == "CC015")
    assert fields == ["color", "disable-model-invocation", "maxTurns", "memory", "permissionMode", "shell"]


def test_accepted_by_claude_code_is_clean(monkeypatch):
    monkeypatch.setenv("HOME", str(FIXTURES / "clean-home"))
    findings = validate_paths([FIXTURES / "clean" / ".claude"])
    assert findings == [], [(f.path, f.line, f.rule_id, f.message) for f in findings]


def test_clean_plugin_and_marketplace():
    findings = validate_paths([FIXTURES / "clean-plugin"])
    assert findings == [], [(f.path, f.line, f.rule_id, f.message) for f in findings]


@pytest.mark.parametrize("model", ["inherit", "sonnet", "opus", "haiku", "fable", "best", "opusplan", "sonnet[1m]",
                                   "opus[1m]", "claude-sonnet-4-5", "claude-opus-4-1-20250805",
                                   "us.anthropic.claude-sonnet-4-5-20250929-v1:0", "claude-sonnet-4-5@20250929"])
def test_valid_models(tmp_path, model):
    path = tmp_path / ".claude" / "agents" / "m.md"
    path.parent.mkdir(parents=True)
    path.write_text(f"---\nname: m\ndescription: d\nmodel: {model}\n---\nBody.\n")
    assert validate_paths([tmp_path / ".claude"]) == []


@pytest.mark.parametrize("mode", ["acceptEdits", "auto", "bypassPermissions", "default", "dontAsk", "plan"])
def test_valid_permission_modes(tmp_path, mode):
    path = tmp_path / ".claude" / "agents" / "m.md"
    path.parent.mkdir(parents=True)
    path.write_text(f"---\nname: m\ndescription: d\npermissionMode: {mode}\n---\nBody.\n")
    assert validate_paths([tmp_path / ".claude"]) == []


def test_plugin_agent_without_name_uses_filename(tmp_path):
    (tmp_path / ".claude-plugin").mkdir()
    (tmp_path / ".claude-plugin" / "plugin.json").write_text('{"name": "p"}')
    (tmp_path / "agents").mkdir()
    (tmp_path / "agents" / "helper.md").write_text("---\ndescription: d\n---\nBody.\n")
    assert validate_paths([tmp_path]) == []


def test_user_scope_references_resolve_against_home(tmp_path, isolated_home):
    claude = isolated_home / ".claude"
    (claude / "context").mkdir(parents=True)
    (claude / "context" / "pg.mdc").write_text("# pg\n")
    (claude / "agents").mkdir()
    (claude / "agents" / "a.md").write_text("---\nname: a\ndescription: d\n---\nRead ~/.claude/context/pg.mdc.\n")
    assert validate_paths([claude]) == []
    (claude / "context" / "pg.mdc").unlink()
    assert ids(validate_paths([claude])) == {"CC040"}


def test_bundle_like_folder_resolves_claude_references(tmp_path):
    bundle = tmp_path / "_bundle"
    (bundle / "agents").mkdir(parents=True)
    (bundle / "context").mkdir()
    (bundle / "context" / "x.md").write_text("x")
    (bundle / "agents" / "a.md").write_text("---\nname: a\ndescription: d\n---\nRead .claude/context/x.md.\n")
    assert validate_paths([bundle]) == []


def test_severity_levels_follow_the_rule_of_thumb():
    assert VALIDATOR_RULES["CC004"].severity == Severity.WARNING
    assert VALIDATOR_RULES["CC005"].severity == Severity.ERROR
