"""`dbagents install` / `status` / `uninstall` on a project: fresh install, idempotence, dry run, conflicts."""

from __future__ import annotations

import json

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
from dbagents import __version__
from dbagents.install.hashing import sha256_bytes


def test_fresh_install_writes_the_nine_files_and_a_manifest(project):
    root, home = project
    res = dbagents("install", cwd=root, home=home)
    assert res.returncode == 0, res.stderr
    claude = root / ".claude"
    for rel in BUNDLE_FILES:
        assert (claude / rel).read_bytes() == bundle_bytes(rel), rel
        assert f".claude/{rel}: created" in res.stdout
    assert "9 created" in res.stdout
    manifest = read_manifest(claude)
    assert manifest["dbagents_version"] == __version__ and manifest["scope"] == "project"
    assert sorted(manifest["files"]) == BUNDLE_FILES
    for rel, entry in manifest["files"].items():
        assert entry["sha256"] == sha256_bytes((claude / rel).read_bytes())
        assert entry["component"] == rel.split("/")[0]
    assert not (root / ".mcp.json").exists()  # only with --with-mcp


def test_second_run_is_up_to_date_and_writes_nothing(project):
    root, home = project
    assert dbagents("install", cwd=root, home=home).returncode == 0
    before = snapshot(root)
    res = dbagents("install", cwd=root, home=home)
    assert res.returncode == 0, res.stderr
    assert "Everything is up to date" in res.stdout and "nothing written" in res.stdout
    assert res.stdout.count(": unchanged") == 9
    assert snapshot(root) == before  # same files, same bytes, same mtimes (manifest included)


def test_path_option_installs_into_another_project(project, tmp_path):
    root, home = project
    res = dbagents("install", "--path", root, cwd=tmp_path, home=home)
    assert res.returncode == 0, res.stderr
    assert sorted(read_manifest(root / ".claude")["files"]) == BUNDLE_FILES
    assert not (tmp_path / ".claude").exists()
    assert states(status_json(tmp_path, home, "--path", root)) == dict.fromkeys(BUNDLE_FILES, "ok")
    res = dbagents("install", "--path", tmp_path / "nope", cwd=tmp_path, home=home)
    assert res.returncode == 2 and "Traceback" not in res.stderr


def test_dry_run_writes_nothing_fresh_or_on_top_of_changes(project):
    root, home = project
    (root / ".claude" / "agents").mkdir(parents=True)
    (root / ".claude" / "agents" / "db-expert.md").write_text("my own agent\n")
    before = snapshot(root)
    res = dbagents("install", "--dry-run", "--with-mcp", "--force", cwd=root, home=home)
    assert res.returncode == 0, res.stderr
    assert "would create" in res.stdout and "would replace" in res.stdout and "would add MCP server context7" in res.stdout
    assert snapshot(root) == before

    assert dbagents("install", cwd=root, home=home).returncode == 1  # conflict on db-expert.md
    (root / ".claude" / "commands" / "validate-database-schema.md").write_text("edited\n")
    (root / ".claude" / "context" / "database" / "postgresql-standards.mdc").unlink()
    before = snapshot(root)
    for args in (["install", "--dry-run"], ["install", "--dry-run", "--force"], ["uninstall", "--dry-run"],
                 ["uninstall", "--dry-run", "--force"]):
        res = dbagents(*args, cwd=root, home=home)
        assert res.returncode in (0, 1), res.stderr
        assert snapshot(root) == before, args


def test_user_created_file_is_a_conflict_left_alone_then_force_backs_it_up(project):
    root, home = project
    mine = root / ".claude" / "agents" / "db-expert.md"
    mine.parent.mkdir(parents=True)
    mine.write_text("---\nname: db-expert\ndescription: mine\n---\nmy agent\n")
    res = dbagents("install", cwd=root, home=home)
    assert res.returncode == 1
    assert ".claude/agents/db-expert.md: conflict" in res.stdout and "--force" in res.stderr
    assert mine.read_text().endswith("my agent\n")
    assert "agents/db-expert.md" not in read_manifest(root / ".claude")["files"]
    assert states(status_json(root, home))["agents/db-expert.md"] == "conflict"

    res = dbagents("install", "--force", cwd=root, home=home)
    assert res.returncode == 0, res.stderr
    assert mine.read_bytes() == bundle_bytes("agents/db-expert.md")
    backups = list(mine.parent.glob("db-expert.md.dbagents-backup-*"))
    assert len(backups) == 1 and backups[0].read_text().endswith("my agent\n")
    assert "replaced (your version saved as .claude/agents/db-expert.md.dbagents-backup-" in res.stdout
    assert states(status_json(root, home))["agents/db-expert.md"] == "ok"


def test_edited_file_is_kept_missing_file_restored_and_status_says_so(project):
    root, home = project
    assert dbagents("install", cwd=root, home=home).returncode == 0
    claude = root / ".claude"
    edited = claude / "commands" / "validate-database-schema.md"
    edited.write_text(edited.read_text() + "\nmy team's extra step\n")
    (claude / "context" / "database" / "postgresql-standards.mdc").unlink()

    doc = status_json(root, home)
    assert doc["installed"] is True and doc["installed_version"] == __version__
    got = states(doc)
    assert got["commands/validate-database-schema.md"] == "modified"
    assert got["context/database/postgresql-standards.mdc"] == "missing"
    assert got["agents/db-expert.md"] == "ok"
    assert doc["components"] == {"agents": "ok", "commands": "modified", "context": "missing"}
    text = dbagents("status", cwd=root, home=home).stdout
    assert "modified  .claude/commands/validate-database-schema.md" in text.replace("  modified", "modified")

    res = dbagents("install", cwd=root, home=home)
    assert res.returncode == 0, res.stderr
    assert ".claude/commands/validate-database-schema.md: kept (modified by you)" in res.stdout
    assert ".claude/context/database/postgresql-standards.mdc: restored (was missing)" in res.stdout
    assert edited.read_text().endswith("my team's extra step\n")
    assert not list(claude.rglob("*.new"))  # same bundle version: nothing new to offer


def test_only_installs_the_chosen_components(project):
    root, home = project
    res = dbagents("install", "--only", "agents,context", cwd=root, home=home)
    assert res.returncode == 0, res.stderr
    assert sorted(read_manifest(root / ".claude")["files"]) == [r for r in BUNDLE_FILES if not r.startswith("commands/")]
    assert not (root / ".claude" / "commands").exists()
    doc = status_json(root, home)
    assert doc["components"]["commands"] == "not installed" and doc["components"]["agents"] == "ok"
    res = dbagents("install", "--only", "agents,skills", cwd=root, home=home)
    assert res.returncode == 2 and "unknown component skills" in res.stderr


def test_uninstall_removes_exactly_what_it_installed(project):
    root, home = project
    claude = root / ".claude"
    (claude / "agents").mkdir(parents=True)
    (claude / "agents" / "team-agent.md").write_text("ours\n")
    (claude / "settings.json").write_text("{}\n")
    assert dbagents("install", cwd=root, home=home).returncode == 0
    edited = claude / "agents" / "python-database-administrator.md"
    edited.write_text("edited by me\n")

    res = dbagents("uninstall", cwd=root, home=home)
    assert res.returncode == 0, res.stderr
    assert "kept (modified by you" in res.stdout and "Kept (modified by you): .claude/agents/python-database-administrator.md" in res.stdout
    assert edited.read_text() == "edited by me\n"
    assert (claude / "agents" / "team-agent.md").read_text() == "ours\n" and (claude / "settings.json").exists()
    assert not (claude / "commands").exists() and not (claude / "context").exists()  # left empty -> removed
    assert not (claude / "agents" / "db-expert.md").exists()
    assert list(read_manifest(claude)["files"]) == ["agents/python-database-administrator.md"]
    assert states(status_json(root, home))["agents/python-database-administrator.md"] == "modified"

    res = dbagents("uninstall", "--force", cwd=root, home=home)
    assert res.returncode == 0, res.stderr
    assert not edited.exists()
    backups = list((claude / "agents").glob("python-database-administrator.md.dbagents-backup-*"))
    assert [b.read_text() for b in backups] == ["edited by me\n"]
    assert not (claude / ".dbagents.json").exists()  # nothing left: manifest gone
    assert sorted(p.name for p in claude.iterdir()) == ["agents", "settings.json"]


def test_uninstall_removes_the_claude_folder_it_left_empty(project):
    root, home = project
    assert dbagents("install", cwd=root, home=home).returncode == 0
    res = dbagents("uninstall", cwd=root, home=home)
    assert res.returncode == 0, res.stderr
    assert "Removed 9 file(s)" in res.stdout
    assert not (root / ".claude").exists()
    res = dbagents("uninstall", cwd=root, home=home)
    assert res.returncode == 0 and "Nothing to uninstall" in res.stdout
    doc = status_json(root, home)
    assert doc["installed"] is False and set(states(doc).values()) == {"not installed"}


def test_status_text_and_json_agree(project):
    root, home = project
    assert dbagents("install", cwd=root, home=home).returncode == 0
    text = dbagents("status", cwd=root, home=home).stdout
    doc = status_json(root, home)
    assert f"dbagents {__version__} installed in {root / '.claude'}" in text
    for f in doc["files"]:
        assert f"{f['state']}  .claude/{f['path']}" in text
    assert json.loads(json.dumps(doc))["bundle_version"] == __version__
