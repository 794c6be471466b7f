"""The installer never writes outside the target .claude folder and never half-writes: bad input -> exit 2,
one clear line, nothing written."""

from __future__ import annotations

import json
import shutil

import pytest

from test_install_support import (
    OLD_BUNDLE,
    dbagents,
    project,  # noqa: F401 - fixture
    read_manifest,
    snapshot,
)


def _one_line_error(res, *needles):
    assert res.returncode == 2, (res.stdout, res.stderr)
    assert "Traceback" not in res.stderr
    lines = [ln for ln in res.stderr.splitlines() if ln.startswith("dbagents: error:")]
    assert len(lines) == 1, res.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


@pytest.mark.parametrize("linked", ["agents", "context", "context/database"])
def test_symlinked_folder_pointing_elsewhere_is_refused_and_nothing_is_written(project, tmp_path, linked):
    root, home = project
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    link = root / ".claude" / linked
    link.parent.mkdir(parents=True)
    link.symlink_to(elsewhere, target_is_directory=True)
    before_root, before_out = snapshot(root), snapshot(elsewhere)
    for args in (["install"], ["install", "--force"], ["install", "--dry-run"]):
        res = dbagents(*args, cwd=root, home=home)
        _one_line_error(res, "refusing to write outside .claude", f".claude/{linked} is a symlink to {elsewhere}")
        assert snapshot(root) == before_root and snapshot(elsewhere) == before_out


def test_symlink_inside_the_claude_folder_is_fine(project):
    root, home = project
    claude = root / ".claude"
    (claude / "real-agents").mkdir(parents=True)
    (claude / "agents").symlink_to(claude / "real-agents", target_is_directory=True)
    res = dbagents("install", cwd=root, home=home)
    assert res.returncode == 0, res.stderr
    assert (claude / "real-agents" / "db-expert.md").is_file()


def test_symlinked_file_pointing_outside_is_refused(project, tmp_path):
    root, home = project
    outside = tmp_path / "secret.md"
    outside.write_text("not yours\n")
    (root / ".claude" / "agents").mkdir(parents=True)
    (root / ".claude" / "agents" / "db-expert.md").symlink_to(outside)
    before = snapshot(root)
    res = dbagents("install", "--force", cwd=root, home=home)
    _one_line_error(res, "refusing to write outside", "db-expert.md is a symlink to")
    assert outside.read_text() == "not yours\n" and snapshot(root) == before


@pytest.mark.parametrize("bad", ["../escaped.md", "agents/../../escaped.md", "/tmp/escaped.md"])
def test_dotdot_names_in_the_manifest_are_refused(project, bad):
    root, home = project
    assert dbagents("install", cwd=root, home=home).returncode == 0
    manifest_path = root / ".claude" / ".dbagents.json"
    manifest = read_manifest(root / ".claude")
    victim = root / "escaped.md"
    victim.write_text("precious\n")
    from dbagents.install.hashing import sha256_bytes

    manifest["files"][bad] = {"component": "agents", "sha256": sha256_bytes(b"precious\n"), "version": "0.1.0"}
    manifest_path.write_text(json.dumps(manifest))
    before = snapshot(root)
    for args in (["uninstall"], ["uninstall", "--force"], ["install"], ["status"]):
        res = dbagents(*args, cwd=root, home=home)
        _one_line_error(res, "refusing to write outside the .claude folder", repr(bad))
        assert snapshot(root) == before, args
    assert victim.read_text() == "precious\n"


def test_broken_manifest_is_an_input_error_naming_file_and_line(project):
    root, home = project
    assert dbagents("install", cwd=root, home=home).returncode == 0
    manifest_path = root / ".claude" / ".dbagents.json"
    manifest_path.write_text('{\n  "tool": "dbagents",\n  "files": {,\n}\n')
    before = snapshot(root)
    res = dbagents("install", cwd=root, home=home)
    _one_line_error(res, f"{manifest_path}:3:", "not valid JSON")
    assert snapshot(root) == before


def test_broken_mcp_json_stops_before_anything_is_written(project):
    root, home = project
    (root / ".mcp.json").write_text('{"mcpServers": {\n  "x": }\n')
    before = snapshot(root)
    res = dbagents("install", "--with-mcp", cwd=root, home=home)
    _one_line_error(res, ".mcp.json:2:", "not valid JSON")
    assert snapshot(root) == before


def test_claude_path_that_is_a_file_is_refused(project):
    root, home = project
    (root / ".claude").write_text("oops")
    res = dbagents("install", cwd=root, home=home)
    _one_line_error(res, ".claude", "not a folder")
    (root / ".claude").unlink()
    (root / ".claude").mkdir()
    (root / ".claude" / "agents").write_text("a file where a folder belongs")
    before = snapshot(root)
    res = dbagents("install", cwd=root, home=home)
    _one_line_error(res, "agents", "is a file where dbagents needs a folder")
    assert snapshot(root) == before


def test_a_bundle_that_fails_validation_is_not_installed(project, tmp_path):
    root, home = project
    broken = tmp_path / "broken-bundle"
    shutil.copytree(OLD_BUNDLE, broken)
    agent = broken / "agents" / "db-expert.md"
    # An agent without `name` or `description` is dropped by Claude Code: a validation error.
    agent.write_text("---\ntools: Read\n---\nno name, no description\n")
    res = dbagents("install", cwd=root, home=home, bundle=broken)
    line = _one_line_error(res, "fails validation", "nothing was installed")
    assert "agents/db-expert.md" in res.stderr, line
    assert snapshot(root) == {}


def test_scope_user_with_path_is_a_usage_error(project):
    root, home = project
    res = dbagents("install", "--scope", "user", "--path", root, cwd=root, home=home)
    _one_line_error(res, "--path")
    assert snapshot(root) == {} and snapshot(home) == {}


def test_claude_folder_itself_may_be_a_symlink(project, tmp_path):
    root, home = project
    dotfiles = tmp_path / "dotfiles-claude"
    dotfiles.mkdir()
    (root / ".claude").symlink_to(dotfiles, target_is_directory=True)
    res = dbagents("install", cwd=root, home=home)
    assert res.returncode == 0, res.stderr
    assert (dotfiles / "agents" / "db-expert.md").is_file() and (dotfiles / ".dbagents.json").is_file()
    assert dbagents("uninstall", cwd=root, home=home).returncode == 0
    assert (root / ".claude").is_symlink()  # the user's link itself is never removed
