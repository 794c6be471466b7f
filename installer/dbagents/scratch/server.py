"""A throwaway PostgreSQL server: embedded pgserver, or the local initdb/pg_ctl binaries.

`start_scratch_server()` is a context manager; the server and its data directory are removed when it exits,
also on Ctrl-C and SIGTERM/SIGHUP (turned into SystemExit while the server is up).
"""

from __future__ import annotations

import glob
import os
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator
from urllib.parse import quote

from dbagents.errors import InputError

HOW_TO_GET_ONE = (
    "install the embedded server (pip install 'dbagents[scratch]', Python < 3.13), or PostgreSQL's server "
    "binaries (Debian/Ubuntu: apt-get install postgresql postgresql-contrib; macOS: brew install postgresql) "
    "so that initdb and pg_ctl are on PATH or under `pg_config --bindir`, or pass --scratch-url with an empty "
    "database of your own"
)
SERVER_KINDS = ("auto", "pgserver", "local")


@dataclass
class ScratchServer:
    """A running scratch server. `url(db)` gives a libpq URL (user postgres, no password): over the unix
    socket, or over TCP on 127.0.0.1 when the server was started with `tcp=True`."""

    kind: str  # "pgserver" or "local"
    socket_dir: Path
    data_dir: Path
    port: int = 5432
    extension_dir: Path | None = None
    _handle: object = field(default=None, repr=False)
    tcp_host: str | None = None

    def url(self, dbname: str = "postgres") -> str:
        if self.tcp_host:
            return f"postgresql://postgres@{self.tcp_host}:{self.port}/{dbname}"
        return f"postgresql://postgres@/{dbname}?host={quote(str(self.socket_dir), safe='/')}&port={self.port}"

    def create_database(self, name: str) -> str:
        import psycopg

        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def has_extension(self, name: str) -> bool | None:
        """Whether the server ships `name` (None = unknown)."""
        if self.extension_dir is None or not self.extension_dir.is_dir():
            return None
        return (self.extension_dir / f"{name}.control").is_file()


# ---------------------------------------------------------------------------------------------- discovery


def pgserver_available() -> bool:
    try:
        import pgserver  # noqa: F401
    except Exception:  # noqa: BLE001 - a broken install is as good as none
        return False
    return True


def pgserver_extension_dir() -> Path | None:
    try:
        import pgserver
    except Exception:  # noqa: BLE001
        return None
    return Path(pgserver.__file__).parent / "pginstall" / "share" / "postgresql" / "extension"


def find_local_bindir() -> Path | None:
    """Directory holding initdb and pg_ctl: PATH, then `pg_config --bindir`, then Debian's layout."""
    initdb = shutil.which("initdb")
    if initdb and shutil.which("pg_ctl"):
        return Path(os.path.realpath(initdb)).parent
    pg_config = shutil.which("pg_config")
    if pg_config:
        try:
            out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, timeout=10).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            out = ""
        if out and (Path(out) / "initdb").is_file() and (Path(out) / "pg_ctl").is_file():
            return Path(out)
    for candidate in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if (Path(candidate) / "initdb").is_file() and (Path(candidate) / "pg_ctl").is_file():
            return Path(candidate)
    return None


def local_extension_dir(bindir: Path) -> Path | None:
    pg_config = bindir / "pg_config"
    if pg_config.is_file():
        try:
            share = subprocess.run([str(pg_config), "--sharedir"], capture_output=True, text=True, timeout=10).stdout
        except (OSError, subprocess.SubprocessError):
            share = ""
        if share.strip():
            return Path(share.strip()) / "extension"
    return None


def choose_kind(kind: str = "auto", extensions: tuple[str, ...] = ()) -> str:
    """'pgserver' or 'local'. auto = pgserver if importable (and it ships every needed extension), else local."""
    if kind not in SERVER_KINDS:
        raise InputError(f"unknown scratch server {kind!r}; use one of {', '.join(SERVER_KINDS)}")
    has_pgserver = pgserver_available()
    bindir = find_local_bindir()
    if kind == "pgserver":
        if not has_pgserver:
            raise InputError("scratch server 'pgserver' is not installed: pip install 'dbagents[scratch]' (Python < 3.13)")
        return kind
    if kind == "local":
        if bindir is None:
            raise InputError(f"no local PostgreSQL binaries (initdb, pg_ctl) found; {HOW_TO_GET_ONE}")
        return kind
    if has_pgserver:
        ext_dir = pgserver_extension_dir()
        missing = [e for e in extensions if ext_dir and not (ext_dir / f"{e}.control").is_file()]
        if missing and bindir is not None:
            return "local"  # pgserver ships no contrib extensions; the local server may
        return "pgserver"
    if bindir is not None:
        return "local"
    raise InputError(f"no PostgreSQL server available for --scratch; {HOW_TO_GET_ONE}")


# ---------------------------------------------------------------------------------------------- signals


@contextmanager
def _signals_raise_exit() -> Iterator[None]:
    """While the server runs, SIGTERM/SIGHUP raise SystemExit so `finally` blocks remove it (Ctrl-C already does)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {}

    def handler(signum, frame):
        raise SystemExit(128 + signum)

    for sig in (signal.SIGTERM, getattr(signal, "SIGHUP", None)):
        if sig is not None:
            previous[sig] = signal.signal(sig, handler)
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


# ---------------------------------------------------------------------------------------------- local binaries


def _unprivileged_user():
    """(uid, gid, name) to run initdb/postgres as when we are root; PostgreSQL refuses to run as root."""
    import pwd

    wanted = os.environ.get("DBAGENTS_SCRATCH_USER") or "nobody"
    try:
        entry = pwd.getpwnam(wanted)
    except KeyError:
        raise InputError(
            f"running as root, and PostgreSQL refuses to run as root; there is no user {wanted!r} to run it as: "
            "create one (useradd --system dbagents) and set DBAGENTS_SCRATCH_USER=dbagents, or run dbagents as a "
            "normal user"
        ) from None
    return entry.pw_uid, entry.pw_gid, wanted


def _run(cmd: list[str], *, as_user, cwd: Path, timeout: float, start_new_session: bool = False) -> None:
    kwargs = {}
    if as_user is not None:
        kwargs.update(user=as_user[0], group=as_user[1], extra_groups=[])
    proc = subprocess.run(
        cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout, start_new_session=start_new_session,
        env={k: v for k, v in os.environ.items() if not k.startswith("PG")} | {"LC_ALL": "C"}, **kwargs,
    )
    if proc.returncode != 0:
        detail = " ".join((proc.stderr or proc.stdout).split())[-400:]
        raise InputError(f"scratch PostgreSQL: {Path(cmd[0]).name} failed ({detail}); {HOW_TO_GET_ONE}")


def _free_port(host: str = "127.0.0.1") -> int:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def _start_local(bindir: Path, data_dir: Path, kind: str = "local", tcp: bool = False) -> ScratchServer:
    as_user = None
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        as_user = _unprivileged_user()
        os.chown(data_dir, as_user[0], as_user[1])
    data_dir.chmod(0o700)
    pgdata = data_dir / "data"
    _run([str(bindir / "initdb"), "-D", str(pgdata), "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync"],
         as_user=as_user, cwd=data_dir, timeout=120)
    port = _free_port() if tcp else 5432  # unix socket only, unless the project needs a host and port
    listen = "127.0.0.1" if tcp else "''"
    options = (f"-k {shlex.quote(str(data_dir))} -c listen_addresses={listen} -p {port} -F "
               "-c full_page_writes=off -c synchronous_commit=off -c max_connections=50")
    _run([str(bindir / "pg_ctl"), "-D", str(pgdata), "-l", str(data_dir / "server.log"), "-w", "-t", "60",
          "-o", options, "start"], as_user=as_user, cwd=data_dir, timeout=90, start_new_session=True)
    ext_dir = pgserver_extension_dir() if kind == "pgserver" else local_extension_dir(bindir)
    return ScratchServer(kind, data_dir, data_dir, port=port, extension_dir=ext_dir,
                         _handle=(bindir, pgdata, as_user), tcp_host="127.0.0.1" if tcp else None)


def _stop_local(server: ScratchServer) -> None:
    bindir, pgdata, as_user = server._handle
    try:
        _run([str(bindir / "pg_ctl"), "-D", str(pgdata), "-m", "immediate", "-w", "-t", "20", "stop"],
             as_user=as_user, cwd=server.data_dir, timeout=30)
    except (InputError, OSError, subprocess.SubprocessError):
        _kill_postmaster(pgdata)


def _kill_postmaster(pgdata: Path) -> None:
    try:
        pid = int((pgdata / "postmaster.pid").read_text().split()[0])
        os.kill(pid, signal.SIGKILL)
    except (OSError, ValueError, IndexError):
        pass


# ---------------------------------------------------------------------------------------------- pgserver


def _start_pgserver(data_dir: Path, tcp: bool = False) -> ScratchServer:
    """pgserver's embedded binaries, run like local ones (no fsync at initdb, fsync off, immediate stop).

    As root, when the unprivileged user cannot execute them (pgserver lives under a private home), fall back
    to pgserver's own start-up, which widens the permissions of the folders above its install itself.
    """
    import pgserver._commands as pg_commands

    bindir = Path(pg_commands.POSTGRES_BIN_PATH)
    if _runnable_unprivileged(bindir):
        return _start_local(bindir, data_dir, kind="pgserver", tcp=tcp)
    if tcp:
        raise InputError("the embedded pgserver can only be started through its own start-up here (as root, its "
                         "binaries are not executable by the server user), which listens on a unix socket only; "
                         "[tool.dbagents.scratch] env needs a host and port: set server = \"local\" (PostgreSQL's "
                         "initdb/pg_ctl) or pass --scratch-url")
    return _start_pgserver_managed(data_dir)


def _runnable_unprivileged(bindir: Path) -> bool:
    if not (hasattr(os, "geteuid") and os.geteuid() == 0):
        return True
    uid, gid, _ = _unprivileged_user()
    try:
        proc = subprocess.run([str(bindir / "initdb"), "--version"], capture_output=True, timeout=30, user=uid,
                              group=gid, extra_groups=[], cwd="/")
    except (OSError, subprocess.SubprocessError):
        return False
    return proc.returncode == 0


def _start_pgserver_managed(data_dir: Path) -> ScratchServer:
    import logging

    import pgserver

    logging.getLogger("pgserver").setLevel(logging.CRITICAL)
    pgdata = data_dir / "data"
    try:
        handle = pgserver.get_server(str(pgdata), cleanup_mode="delete")
    except Exception as exc:  # noqa: BLE001 - pgserver raises assorted errors; one line is what users need
        raise InputError(f"scratch PostgreSQL (pgserver) failed to start: {exc}; {HOW_TO_GET_ONE}") from None
    info = handle.get_postmaster_info()
    socket_dir = Path(info.socket_dir) if info.socket_dir else pgdata
    server = ScratchServer("pgserver", socket_dir, data_dir, port=info.port or 5432,
                           extension_dir=pgserver_extension_dir(), _handle=handle)
    _throwaway_durability(server.url())
    return server


def _throwaway_durability(url: str) -> None:
    """Nothing on a scratch server must survive a crash: skip fsync and full-page writes (reloadable settings)."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        for name in ("fsync", "full_page_writes", "synchronous_commit"):
            conn.execute(f"ALTER SYSTEM SET {name} = off")
        conn.execute("SELECT pg_reload_conf()")


def _stop_pgserver(server: ScratchServer) -> None:
    handle = server._handle
    try:  # immediate stop: no shutdown checkpoint for data we delete anyway; pgserver then only removes files
        from pgserver import _commands

        _commands.pg_ctl(["-w", "-m", "immediate", "stop"], pgdata=server.data_dir / "data",
                         user=getattr(handle, "system_user", None), timeout=30)
    except Exception:  # noqa: BLE001 - handle.cleanup() below stops it the slow way
        pass
    try:
        handle.cleanup()
    except Exception:  # noqa: BLE001 - fall back to killing it below
        _kill_postmaster(server.data_dir / "data")


# ---------------------------------------------------------------------------------------------- public


def _others_can_enter(folder: Path) -> bool:
    return all(p.stat().st_mode & 0o001 for p in (folder, *folder.parents))


def _make_data_dir() -> Path:
    """A fresh private directory; as root it must sit where the unprivileged server user can reach it."""
    data_dir = Path(tempfile.mkdtemp(prefix="dbagents-scratch-"))
    if not (hasattr(os, "geteuid") and os.geteuid() == 0) or _others_can_enter(data_dir.parent):
        return data_dir
    data_dir.rmdir()
    fallback = Path("/tmp")
    if fallback.is_dir() and _others_can_enter(fallback):
        return Path(tempfile.mkdtemp(prefix="dbagents-scratch-", dir=fallback))
    raise InputError(f"running as root, the scratch server runs as an unprivileged user who cannot enter "
                     f"{Path(tempfile.gettempdir())}; set TMPDIR to a directory everyone may enter (chmod o+x)")


@contextmanager
def start_scratch_server(kind: str = "auto", *, extensions: tuple[str, ...] = (),
                         tcp: bool = False) -> Iterator[ScratchServer]:
    """Start a temporary PostgreSQL server; always stop it and delete its data directory afterwards.

    kind: "auto" (pgserver if importable, else local binaries), "pgserver" or "local". `extensions` named by
    the migrations steer "auto" to the local binaries when pgserver lacks one of them. `tcp`: also listen on
    127.0.0.1 (a free port), for projects that build their URL from a host and port.
    """
    chosen = choose_kind(kind, tuple(extensions))
    data_dir = _make_data_dir()
    server: ScratchServer | None = None
    with _signals_raise_exit():
        try:
            if chosen == "pgserver":
                server = _start_pgserver(data_dir, tcp=tcp)
            else:
                bindir = find_local_bindir()
                assert bindir is not None  # choose_kind checked
                server = _start_local(bindir, data_dir, tcp=tcp)
            yield server
        finally:
            try:
                if server is not None:
                    (_stop_local if isinstance(server._handle, tuple) else _stop_pgserver)(server)
                else:
                    _kill_postmaster(data_dir / "data")
            finally:
                shutil.rmtree(data_dir, ignore_errors=True)


def describe(server: ScratchServer) -> str:
    return f"{server.kind} server in {server.data_dir}"


if __name__ == "__main__":  # pragma: no cover - manual check: python -m dbagents.scratch.server [kind]
    import time

    started = time.perf_counter()
    with start_scratch_server(sys.argv[1] if len(sys.argv) > 1 else "auto") as srv:
        print(f"{describe(srv)} up in {time.perf_counter() - started:.2f}s: {srv.url()}")
