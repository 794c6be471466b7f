"""Write a new revision file atomically, never over an existing file."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from dbagents.errors import InputError


def write_new(path: Path, text: str) -> Path:
    """Create `path` with `text`: written to a temporary file beside it, then linked into place (fails if the name
    exists), so a reader sees no file or the whole file, and nothing is ever overwritten."""
    path = Path(path)
    if path.exists():
        raise InputError("already exists; nothing written (run again for a new revision id)", path=str(path))
    fd, tmp = tempfile.mkstemp(prefix=".dbagents-", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # like any file the user creates (mkstemp makes it private)
        try:
            os.link(tmp, path)
        except FileExistsError:
            raise InputError("already exists; nothing written (run again for a new revision id)",
                             path=str(path)) from None
        except OSError:  # a file system without hard links: exclusive create, then replace the empty file
            with open(path, "x", encoding="utf-8"):
                pass
            os.replace(tmp, path)
    except OSError as exc:
        raise InputError(f"cannot write the revision: {exc.strerror or exc}", path=str(path)) from None
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask
