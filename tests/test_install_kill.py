"""Kill `dbagents install` at many points (SIGKILL: no cleanup runs), rerun, and get exactly the state of an
uninterrupted install, with no half-written or temp file left behind."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import pytest

from test_install_support import (
    BUNDLE_FILES,
    OLD_BUNDLE,
    bundle_bytes,
    cli_env,
    dbagents,
    project,  # noqa: F401 - fixture
    read_manifest,
    states,
    status_json,
)


def _files(root):
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _assert_clean_install(root, home):
    claude = root / ".claude"
    for rel in BUNDLE_FILES:
        assert (claude / rel).read_bytes() == bundle_bytes(rel), rel
    assert sorted(read_manifest(claude)["files"]) == BUNDLE_FILES
    assert not [p for p in root.rglob("*") if ".dbagents-tmp-" in p.name]
    assert set(states(status_json(root, home)).values()) == {"ok"}


# 9 files + manifest = 10 atomic writes on a fresh install; kill before and after several of them.
@pytest.mark.parametrize("point", ["before-replace:1", "after-replace:1", "before-replace:5", "after-replace:5",
                                   "before-replace:9", "before-replace:10", "after-replace:9"])
def test_fresh_install_killed_then_rerun_converges(project, point):
    root, home = project
    killed = dbagents("install", cwd=root, home=home, DBAGENTS_TEST_KILL_AT=point)
    assert killed.returncode == -signal.SIGKILL, (killed.stdout, killed.stderr)
    stage, n = point.split(":")
    leftovers = [p for p in root.rglob("*") if ".dbagents-tmp-" in p.name]
    assert bool(leftovers) == (stage == "before-replace")  # the kill really hit mid-write
    for rel in BUNDLE_FILES:  # every file is either absent or complete, never partial
        path = root / ".claude" / rel
        assert not path.exists() or path.read_bytes() == bundle_bytes(rel)
    rerun = dbagents("install", cwd=root, home=home)
    assert rerun.returncode == 0, rerun.stderr
    _assert_clean_install(root, home)


@pytest.mark.parametrize("point", ["before-replace:1", "after-replace:2", "before-replace:4", "after-replace:6"])
def test_upgrade_killed_then_rerun_converges(project, tmp_path, point):
    root, home = project
    assert dbagents("install", cwd=root, home=home, bundle=OLD_BUNDLE).returncode == 0
    edited = root / ".claude" / "agents" / "db-expert.md"
    edited.write_text("my version\n")
    killed = dbagents("install", cwd=root, home=home, DBAGENTS_TEST_KILL_AT=point)
    assert killed.returncode == -signal.SIGKILL
    assert dbagents("install", cwd=root, home=home).returncode == 0

    # Same end state as an uninterrupted upgrade of an identical project.
    ref_root, ref_home = tmp_path / "ref", tmp_path / "refhome"
    ref_root.mkdir(), ref_home.mkdir()
    assert dbagents("install", cwd=ref_root, home=ref_home, bundle=OLD_BUNDLE).returncode == 0
    (ref_root / ".claude" / "agents" / "db-expert.md").write_text("my version\n")
    assert dbagents("install", cwd=ref_root, home=ref_home).returncode == 0
    assert _files(root) == _files(ref_root)
    assert edited.read_text() == "my version\n"
    assert not [p for p in root.rglob("*") if ".dbagents-tmp-" in p.name]


def test_killed_from_outside_mid_install_then_rerun_converges(project):
    root, home = project
    env = cli_env(home, DBAGENTS_TEST_PAUSE="0.3")
    proc = subprocess.Popen([sys.executable, "-m", "dbagents", "install"], cwd=root, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    seen = []
    deadline = time.monotonic() + 60
    while len(seen) < 4 and time.monotonic() < deadline:  # header + 3 files written
        line = proc.stdout.readline()
        if not line:
            break
        seen.append(line)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    written = [p for p in (root / ".claude").rglob("*") if p.is_file()]
    assert 3 <= len(written) < len(BUNDLE_FILES)  # really interrupted halfway
    assert not (root / ".claude" / ".dbagents.json").exists()
    rerun = dbagents("install", cwd=root, home=home)
    assert rerun.returncode == 0, rerun.stderr
    _assert_clean_install(root, home)
