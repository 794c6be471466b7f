"""The throwaway server: both kinds start, run unprivileged, and are always removed (also on SIGTERM / Ctrl-C)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dbagents.errors import InputError
from dbagents.scratch import server as srv
from dbagents.scratch.server import choose_kind, find_local_bindir, start_scratch_server

psycopg = pytest.importorskip("psycopg")

KINDS = []
if srv.pgserver_available():
    KINDS.append("pgserver")
if find_local_bindir() is not None:
    KINDS.append("local")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.exists() and stat.read_text().split()[2] == "Z")


def _postmaster_pid(data_dir: Path) -> int:
    return int((data_dir / "data" / "postmaster.pid").read_text().split()[0])


@pytest.mark.slow
@pytest.mark.parametrize("kind", KINDS)
def test_server_starts_and_is_removed(kind):
    with start_scratch_server(kind) as server:
        assert server.kind == kind
        url = server.create_database("probe")
        with psycopg.connect(url) as conn:
            assert conn.execute("SELECT current_database()").fetchone()[0] == "probe"
        pid = _postmaster_pid(server.data_dir)
        if os.geteuid() == 0:  # PostgreSQL refuses root: it must run as someone else
            uid = int(next(ln for ln in Path(f"/proc/{pid}/status").read_text().splitlines()
                           if ln.startswith("Uid:")).split()[1])
            assert uid != 0
        data_dir = server.data_dir
    assert not data_dir.exists()
    deadline = time.time() + 10
    while _alive(pid) and time.time() < deadline:
        time.sleep(0.1)
    assert not _alive(pid)


SCRIPT = """
import sys, time
from dbagents.scratch.server import start_scratch_server
with start_scratch_server(sys.argv[1]) as server:
    print(server.data_dir, flush=True)
    time.sleep(120)
"""


@pytest.mark.slow
@pytest.mark.parametrize(("kind", "sig"), list(zip(KINDS * 2, ("SIGTERM", "SIGINT")))[:2])
def test_signal_removes_server(kind, sig):
    proc = subprocess.Popen([sys.executable, "-c", SCRIPT, kind], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        data_dir = Path(proc.stdout.readline().strip())
        assert data_dir.name.startswith("dbagents-scratch-"), proc.stderr.read()
        pid = _postmaster_pid(data_dir)
        proc.send_signal(getattr(signal, sig))
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode != 0
    assert not data_dir.exists()
    deadline = time.time() + 10
    while _alive(pid) and time.time() < deadline:
        time.sleep(0.1)
    assert not _alive(pid)


def test_no_server_anywhere_says_how_to_get_one(monkeypatch):
    monkeypatch.setattr(srv, "pgserver_available", lambda: False)
    monkeypatch.setattr(srv, "find_local_bindir", lambda: None)
    with pytest.raises(InputError) as err:
        choose_kind("auto")
    text = str(err.value)
    assert "pip install 'dbagents[scratch]'" in text and "postgresql-contrib" in text and "--scratch-url" in text
    with pytest.raises(InputError, match="no local PostgreSQL binaries"):
        choose_kind("local")
    with pytest.raises(InputError, match="unknown scratch server 'docker'"):
        choose_kind("docker")


def test_auto_prefers_pgserver_unless_an_extension_is_missing(monkeypatch, tmp_path):
    ext_dir = tmp_path / "extension"
    ext_dir.mkdir()
    (ext_dir / "vector.control").write_text("")
    monkeypatch.setattr(srv, "pgserver_available", lambda: True)
    monkeypatch.setattr(srv, "pgserver_extension_dir", lambda: ext_dir)
    monkeypatch.setattr(srv, "find_local_bindir", lambda: tmp_path)
    assert choose_kind("auto") == "pgserver"
    assert choose_kind("auto", ("vector",)) == "pgserver"
    assert choose_kind("auto", ("uuid-ossp",)) == "local"
    monkeypatch.setattr(srv, "find_local_bindir", lambda: None)
    assert choose_kind("auto", ("uuid-ossp",)) == "pgserver"  # the run then names the extension


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="only root needs another user")
def test_root_without_unprivileged_user_says_what_to_do(monkeypatch):
    monkeypatch.setenv("DBAGENTS_SCRATCH_USER", "no-such-user-dbagents")
    with pytest.raises(InputError) as err:
        srv._unprivileged_user()
    assert "refuses to run as root" in str(err.value) and "useradd" in str(err.value)


@pytest.mark.slow
def test_pgserver_managed_fallback_is_removed(monkeypatch):
    """When the unprivileged user cannot run pgserver's binaries, pgserver's own start-up is used."""
    if not srv.pgserver_available():
        pytest.skip("pgserver is not installed")
    monkeypatch.setattr(srv, "_runnable_unprivileged", lambda bindir: False)
    with start_scratch_server("pgserver") as server:
        assert not isinstance(server._handle, tuple)
        with psycopg.connect(server.url()) as conn:
            assert conn.execute("SHOW fsync").fetchone()[0] == "off"
        data_dir = server.data_dir
    assert not data_dir.exists()
