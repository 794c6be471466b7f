"""Upgrade from an older dbagents (bundle 0.0.1 from tests/fixtures/bundles): untouched files are replaced,
edited ones kept with the new version beside them as `.new`, dropped files removed, new files created."""

from __future__ import annotations

from test_install_support import (
    BUNDLE_FILES,
    OLD_BUNDLE,
    bundle_bytes,
    dbagents,
    project,  # noqa: F401 - fixture
    read_manifest,
    snapshot,
    states,
    status_json,
)
from dbagents import __version__

EDITED = "agents/db-expert.md"
UNTOUCHED = "agents/python-database-administrator.md"
DROPPED = "commands/validate-database.md"  # shipped by 0.0.1 only
ADDED = "commands/validate-database-security.md"  # new since 0.0.1


def _install_old_and_edit(root, home):
    res = dbagents("install", cwd=root, home=home, bundle=OLD_BUNDLE)
    assert res.returncode == 0, res.stderr
    claude = root / ".claude"
    assert read_manifest(claude)["dbagents_version"] == "0.0.1"
    assert (claude / DROPPED).exists() and not (claude / ADDED).exists()
    edited = claude / EDITED
    edited.write_text(edited.read_text() + "\nOur team always uses schema `app`.\n")
    return claude, edited.read_bytes()


def test_status_before_upgrade_shows_update_available_and_modified(project):
    root, home = project
    _install_old_and_edit(root, home)
    doc = status_json(root, home)  # the current dbagents looks at a 0.0.1 install
    assert doc["installed_version"] == "0.0.1" and doc["bundle_version"] == __version__
    got = states(doc)
    assert got[UNTOUCHED] == "update available"
    assert got[EDITED] == "modified"
    assert got[DROPPED] == "obsolete"
    assert got[ADDED] == "not installed"


def test_upgrade_replaces_untouched_keeps_edits_and_writes_new_beside_them(project):
    root, home = project
    claude, my_bytes = _install_old_and_edit(root, home)
    res = dbagents("install", cwd=root, home=home)
    assert res.returncode == 0, res.stderr
    out = res.stdout
    assert f".claude/{UNTOUCHED}: updated" in out
    assert f".claude/{EDITED}: kept (modified by you); new version in .claude/{EDITED}.new" in out
    assert f".claude/{DROPPED}: removed (no longer shipped)" in out
    assert f".claude/{ADDED}: created" in out
    assert "new version(s) waiting as .new files" in out

    assert (claude / EDITED).read_bytes() == my_bytes
    assert (claude / f"{EDITED}.new").read_bytes() == bundle_bytes(EDITED)
    assert (claude / UNTOUCHED).read_bytes() == bundle_bytes(UNTOUCHED)
    assert not (claude / DROPPED).exists()
    for rel in BUNDLE_FILES:
        if rel != EDITED:
            assert (claude / rel).read_bytes() == bundle_bytes(rel), rel
    manifest = read_manifest(claude)
    assert manifest["dbagents_version"] == __version__
    assert sorted(manifest["files"]) == BUNDLE_FILES
    assert manifest["files"][EDITED]["version"] == "0.0.1"
    assert manifest["files"][EDITED]["pending_new"]["version"] == __version__

    doc = status_json(root, home)
    got = states(doc)
    assert got[EDITED] == "new pending"
    assert {s for r, s in got.items() if r != EDITED} == {"ok"}
    assert [f["new_file"] for f in doc["files"] if f["path"] == EDITED] == [f"{EDITED}.new"]
    text = dbagents("status", cwd=root, home=home).stdout
    line = next(ln for ln in text.splitlines() if ln.endswith(f".claude/{EDITED} (new version in .claude/{EDITED}.new)"))
    assert line.startswith("new pending ")
    assert "merge each .new file" in text

    # Running the upgrade again changes nothing.
    before = snapshot(root)
    res = dbagents("install", cwd=root, home=home)
    assert res.returncode == 0 and "nothing written" in res.stdout
    assert snapshot(root) == before


def test_taking_the_new_version_resolves_the_pending_file(project):
    root, home = project
    claude, _ = _install_old_and_edit(root, home)
    assert dbagents("install", cwd=root, home=home).returncode == 0
    new = claude / f"{EDITED}.new"
    new.replace(claude / EDITED)  # the user accepts the new version
    assert states(status_json(root, home))[EDITED] == "ok"
    res = dbagents("install", cwd=root, home=home)
    assert res.returncode == 0 and f".claude/{EDITED}: unchanged" in res.stdout
    assert "pending_new" not in read_manifest(claude)["files"][EDITED]
    assert read_manifest(claude)["files"][EDITED]["version"] == __version__


def test_force_upgrade_backs_up_the_edit_and_drops_the_new_file(project):
    root, home = project
    claude, my_bytes = _install_old_and_edit(root, home)
    assert dbagents("install", cwd=root, home=home).returncode == 0
    res = dbagents("install", "--force", cwd=root, home=home)
    assert res.returncode == 0, res.stderr
    assert (claude / EDITED).read_bytes() == bundle_bytes(EDITED)
    assert not (claude / f"{EDITED}.new").exists()
    backups = list((claude / "agents").glob("db-expert.md.dbagents-backup-*"))
    assert [b.read_bytes() for b in backups] == [my_bytes]
    assert set(states(status_json(root, home)).values()) == {"ok"}


def test_edited_file_dropped_from_the_bundle_is_kept(project):
    root, home = project
    res = dbagents("install", cwd=root, home=home, bundle=OLD_BUNDLE)
    assert res.returncode == 0, res.stderr
    dropped = root / ".claude" / DROPPED
    dropped.write_text("I rely on this command\n")
    res = dbagents("install", cwd=root, home=home)
    assert res.returncode == 0, res.stderr
    assert f".claude/{DROPPED}: kept (modified by you; no longer shipped by dbagents)" in res.stdout
    assert dropped.read_text() == "I rely on this command\n"
    assert DROPPED not in read_manifest(root / ".claude")["files"]


def test_uninstall_after_upgrade_removes_pending_new_files_too(project):
    root, home = project
    claude, my_bytes = _install_old_and_edit(root, home)
    assert dbagents("install", cwd=root, home=home).returncode == 0
    res = dbagents("uninstall", cwd=root, home=home)
    assert res.returncode == 0, res.stderr
    assert f".claude/{EDITED}.new: removed (pending new version)" in res.stdout
    assert sorted(p.relative_to(claude).as_posix() for p in claude.rglob("*") if p.is_file()) == [".dbagents.json", EDITED]
    assert (claude / EDITED).read_bytes() == my_bytes
