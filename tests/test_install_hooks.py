"""`--with-hooks`: the `dbagents hook` PostToolUse group merged into .claude/settings.json; the user's settings
and hooks are never touched, uninstall removes only ours, status shows it."""

from __future__ import annotations

import json

from test_install_support import (
    dbagents,
    project,  # noqa: F401 - fixture
    read_manifest,
    snapshot,
    status_json,
)

OURS = {"matcher": "Edit|Write", "hooks": [{"type": "command", "command": "dbagents hook", "timeout": 60}]}
USERS = {
    "permissions": {"allow": ["Bash(make test)"]},
    "hooks": {
        "PostToolUse": [{"matcher": "Write", "hooks": [{"type": "command", "command": "ruff format \"$FILE\""}]}],
        "Stop": [{"hooks": [{"type": "command", "command": "notify-send done"}]}],
    },
}


def test_with_hooks_creates_settings_and_uninstall_deletes_it(project):
    root, home = project
    res = dbagents("install", "--with-hooks", cwd=root, home=home)
    assert res.returncode == 0, res.stderr
    assert ".claude/settings.json: added PostToolUse hook `dbagents hook` (Edit|Write)" in res.stdout
    assert json.loads((root / ".claude" / "settings.json").read_text()) == {"hooks": {"PostToolUse": [OURS]}}
    assert read_manifest(root / ".claude")["hooks"] == {"file": "settings.json", "created_file": True, "entry": OURS}
    assert status_json(root, home)["hook"] == "installed"
    status = dbagents("status", cwd=root, home=home).stdout
    assert "hook      installed (.claude/settings.json: PostToolUse Edit|Write -> dbagents hook)" in status

    before = snapshot(root)
    res = dbagents("install", "--with-hooks", cwd=root, home=home)
    assert "already configured, left as is" in res.stdout and "nothing written" in res.stdout
    assert snapshot(root) == before
    res = dbagents("install", cwd=root, home=home)  # a plain update keeps the record of the hook
    assert read_manifest(root / ".claude")["hooks"]["entry"] == OURS

    res = dbagents("uninstall", cwd=root, home=home)
    assert res.returncode == 0 and ".claude/settings.json: removed the PostToolUse hook" in res.stdout
    assert not (root / ".claude").exists()  # settings.json was ours alone; the folder is empty again


def test_user_settings_and_hooks_are_kept(project):
    root, home = project
    settings = root / ".claude" / "settings.json"
    settings.parent.mkdir()
    settings.write_text(json.dumps(USERS))
    res = dbagents("install", "--with-hooks", cwd=root, home=home)
    assert res.returncode == 0, res.stderr
    merged = json.loads(settings.read_text())
    assert merged["permissions"] == USERS["permissions"] and merged["hooks"]["Stop"] == USERS["hooks"]["Stop"]
    assert merged["hooks"]["PostToolUse"] == [*USERS["hooks"]["PostToolUse"], OURS]
    assert read_manifest(root / ".claude")["hooks"]["created_file"] is False

    res = dbagents("uninstall", cwd=root, home=home)
    assert res.returncode == 0, res.stderr
    assert json.loads(settings.read_text()) == USERS


def test_an_edited_hook_entry_is_the_users(project):
    root, home = project
    assert dbagents("install", "--with-hooks", cwd=root, home=home).returncode == 0
    settings = root / ".claude" / "settings.json"
    doc = json.loads(settings.read_text())
    doc["hooks"]["PostToolUse"][0]["hooks"][0]["command"] = "dbagents hook --min-severity error"
    settings.write_text(json.dumps(doc))
    assert status_json(root, home)["hook"] == "missing"
    doc["hooks"]["PostToolUse"][0]["hooks"][0]["command"] = "dbagents hook"
    doc["hooks"]["PostToolUse"][0]["hooks"][0]["timeout"] = 120
    settings.write_text(json.dumps(doc))
    assert status_json(root, home)["hook"] == "changed by you"
    res = dbagents("uninstall", cwd=root, home=home)
    assert "entry changed since dbagents added it, left as is" in res.stdout
    assert json.loads(settings.read_text()) == doc


def test_user_scope_writes_the_user_settings(project):
    root, home = project
    res = dbagents("install", "--scope", "user", "--with-hooks", cwd=root, home=home)
    assert res.returncode == 0, res.stderr
    assert "~/.claude/settings.json: added PostToolUse hook" in res.stdout
    assert json.loads((home / ".claude" / "settings.json").read_text())["hooks"]["PostToolUse"] == [OURS]


def test_broken_settings_is_an_input_error_and_nothing_is_written(project):
    root, home = project
    settings = root / ".claude" / "settings.json"
    settings.parent.mkdir()
    settings.write_text('{"hooks": {"PostToolUse": {}}}')
    res = dbagents("install", "--with-hooks", cwd=root, home=home)
    assert res.returncode == 2 and "traceback" not in res.stderr.lower()
    assert "'hooks.PostToolUse' must be a JSON array" in res.stderr and "settings.json" in res.stderr
    assert sorted(p.name for p in settings.parent.iterdir()) == ["settings.json"]
    settings.write_text("{not json")
    res = dbagents("install", "--with-hooks", cwd=root, home=home)
    assert res.returncode == 2 and "settings.json:1" in res.stderr and "is not valid JSON" in res.stderr
