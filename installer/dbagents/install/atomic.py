"""Atomic file writes: a temp file in the same folder, fsync, then os.replace (and fsync of the folder).

A process killed at any point leaves either the old file or the new one, never a half-written file; at
worst a temp file named ``.<name>.dbagents-tmp-*`` stays behind, which the next run sweeps away.

Test-only hooks (environment variables, never set them in normal use):
  DBAGENTS_TEST_KILL_AT=<stage>:<n>  SIGKILL this process at the n-th atomic write, stage
                                     ``before-replace`` (temp written, not renamed) or ``after-replace``.
  DBAGENTS_TEST_PAUSE=<seconds>      sleep after every atomic write (lets a test kill us from outside).
"""

from __future__ import annotations

import os
import signal
import tempfile
import time
from pathlib import Path
from typing import Iterable

TMP_TAG = ".dbagents-tmp-"

_writes_done = 0


def _test_hook(stage: str) -> None:
    spec = os.environ.get("DBAGENTS_TEST_KILL_AT")
    if spec:
        want_stage, _, count = spec.partition(":")
        if want_stage == stage and str(_writes_done) == count:
            os.kill(os.getpid(), signal.SIGKILL)
    if stage == "after-replace":
        pause = os.environ.get("DBAGENTS_TEST_PAUSE")
        if pause:
            time.sleep(float(pause))


def _default_mode() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory fds
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(fd)


def atomic_write(path: Path, data: bytes) -> None:
    """Write `data` to `path` so that readers see the old or the new content, nothing in between."""
    global _writes_done
    _writes_done += 1
    mode = path.stat().st_mode & 0o7777 if path.is_file() and not path.is_symlink() else _default_mode()
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}{TMP_TAG}", dir=path.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fchmod(handle.fileno(), mode)
            os.fsync(handle.fileno())
        _test_hook("before-replace")
        os.replace(tmp, path)
    except BaseException:
        try:
            tmp.unlink()
        except FileNotFoundError:
            pass
        raise
    _fsync_dir(path.parent)
    _test_hook("after-replace")


def remove_file(path: Path) -> None:
    """Unlink a file and make the removal durable."""
    path.unlink()
    _fsync_dir(path.parent)


def make_dirs(path: Path) -> None:
    path.mkdir(parents=True, exist_ok=True)


def is_temp_file(path: Path) -> bool:
    return path.name.startswith(".") and TMP_TAG in path.name


def sweep_temp_files(folders: Iterable[Path]) -> list[Path]:
    """Remove temp files an earlier, interrupted run left in these folders (not recursive)."""
    removed = []
    for folder in sorted(set(folders)):
        if not folder.is_dir() or folder.is_symlink():
            continue
        for entry in sorted(folder.iterdir()):
            if entry.is_file() and not entry.is_symlink() and is_temp_file(entry):
                entry.unlink()
                removed.append(entry)
    return removed
