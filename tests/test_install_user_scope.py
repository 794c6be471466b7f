"""`--scope user`: ~/.claude (honouring $HOME), context references rewritten to ~/.claude/context/...,
and `dbagents validate ~/.claude` passes afterwards."""

from __future__ import annotations

import re

from test_install_support import (
    BUNDLE_FILES,
    bundle_bytes,
    dbagents,
    project,  # noqa: F401 - fixture
    read_manifest,
    snapshot,
    states,
    status_json,
)
from dbagents.install.hashing import sha256_bytes

PROJECT_REF = re.compile(r"(?<![\w~/.-])(?:\./)?\.claude/context/")


def test_user_scope_installs_into_home_with_rewritten_context_references(project):
    root, home = project
    res = dbagents("install", "--scope", "user", cwd=root, home=home)
    assert res.returncode == 0, res.stderr
    assert "~/.claude/agents/db-expert.md: created" in res.stdout
    assert not (root / ".claude").exists()
    claude = home / ".claude"
    manifest = read_manifest(claude)
    assert manifest["scope"] == "user" and sorted(manifest["files"]) == BUNDLE_FILES
    rewritten = 0
    for rel in BUNDLE_FILES:
        text = (claude / rel).read_text()
        assert not PROJECT_REF.search(text), rel  # no project-relative context reference is left
        shipped = bundle_bytes(rel).decode()
        rewritten += shipped.count(".claude/context/") != 0 and text != shipped
        assert manifest["files"][rel]["sha256"] == sha256_bytes(text.encode())  # what was written
    assert rewritten >= 2  # both agents name the context docs
    pda = (claude / "agents" / "python-database-administrator.md").read_text()
    assert "~/.claude/context/database/python-sqlalchemy-standards.mdc" in pda
    for ref in re.findall(r"~/\.claude/(context/[\w./-]+\.mdc)", pda):
        assert (claude / ref).is_file(), ref


def test_validate_passes_on_the_user_folder_afterwards(project):
    root, home = project
    assert dbagents("install", "--scope", "user", cwd=root, home=home).returncode == 0
    res = dbagents("validate", home / ".claude", cwd=root, home=home)
    assert res.returncode == 0, res.stdout + res.stderr


def test_user_scope_is_idempotent_and_status_and_uninstall_work(project):
    root, home = project
    assert dbagents("install", "--scope", "user", cwd=root, home=home).returncode == 0
    (home / ".claude" / "settings.json").write_text("{}\n")
    before = snapshot(home)
    res = dbagents("install", "--scope", "user", cwd=root, home=home)
    assert res.returncode == 0 and "nothing written" in res.stdout
    assert snapshot(home) == before
    doc = status_json(root, home, "--scope", "user")
    assert doc["scope"] == "user" and set(states(doc).values()) == {"ok"}
    # a project-scope status in the same folder knows nothing of the user install
    assert status_json(root, home)["installed"] is False
    res = dbagents("uninstall", "--scope", "user", cwd=root, home=home)
    assert res.returncode == 0, res.stderr
    assert sorted(p.name for p in (home / ".claude").iterdir()) == ["settings.json"]
