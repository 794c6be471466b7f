"""Attacks on the installer through files a cloned repository controls: its .claude/.dbagents.json manifest
and its .mcp.json. Nothing outside the project is ever read for rewriting, rewritten or deleted."""

from __future__ import annotations

import json

import pytest

from test_install_support import (
    dbagents,
    project,  # noqa: F401 - fixture
    read_manifest,
    snapshot,
)


def _refused(res, *needles):
    assert res.returncode == 2, (res.stdout, res.stderr)
    assert "Traceback" not in res.stderr
    errors = [ln for ln in res.stderr.splitlines() if ln.startswith("dbagents: error:")]
    assert len(errors) == 1, res.stderr
    for needle in needles:
        assert needle in errors[0], errors[0]


@pytest.mark.parametrize("name", ["../victim.json", "sub/../../victim.json", "{victim}", "..", "a\\..\\victim.json"])
def test_a_planted_manifest_cannot_point_uninstall_at_a_file_outside_the_project(project, tmp_path, name):
    """The manifest says which .mcp.json dbagents created; a repository could ship one naming any file."""
    root, home = project
    assert dbagents("install", "--with-mcp", cwd=root, home=home).returncode == 0
    added = read_manifest(root / ".claude")["mcp"]["servers"]
    victim = tmp_path / "victim.json"
    victim.write_text(json.dumps({"mcpServers": added}))  # exactly what uninstall would remove, then delete
    manifest_path = root / ".claude" / ".dbagents.json"
    manifest = read_manifest(root / ".claude")
    manifest["mcp"]["file"] = name.format(victim=victim)
    manifest["mcp"]["created_file"] = True
    manifest_path.write_text(json.dumps(manifest))
    before, victim_before = snapshot(root), victim.read_bytes()
    for args in (["uninstall"], ["uninstall", "--force"]):
        res = dbagents(*args, cwd=root, home=home)
        _refused(res, "refusing to write outside the project")
        assert snapshot(root) == before and victim.read_bytes() == victim_before


def test_mcp_json_symlinked_outside_the_project_is_neither_merged_nor_replaced(project, tmp_path):
    root, home = project
    outside = tmp_path / "shared-mcp.json"
    outside.write_text('{"mcpServers": {}}\n')
    (root / ".mcp.json").symlink_to(outside)
    before = snapshot(root)
    res = dbagents("install", "--with-mcp", cwd=root, home=home)
    _refused(res, "refusing to write outside the project", ".mcp.json is a symlink to")
    assert outside.read_text() == '{"mcpServers": {}}\n' and snapshot(root) == before


def test_a_manifest_entry_naming_a_symlinked_folder_cannot_reach_outside(project, tmp_path):
    """`agents` replaced by a link to elsewhere after install: uninstall must not delete through it."""
    root, home = project
    assert dbagents("install", cwd=root, home=home).returncode == 0
    agents = root / ".claude" / "agents"
    elsewhere = tmp_path / "elsewhere"
    agents.rename(elsewhere)
    agents.symlink_to(elsewhere, target_is_directory=True)
    before_out = snapshot(elsewhere)
    res = dbagents("uninstall", "--force", cwd=root, home=home)
    _refused(res, "refusing to write outside .claude", "is a symlink to")
    assert snapshot(elsewhere) == before_out
