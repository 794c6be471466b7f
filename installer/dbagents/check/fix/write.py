"""Show a fix run as a unified diff, or write it: each file atomically (a temporary file beside it, then a rename
that keeps its mode), only inside the project, only when the file still holds what was checked."""

from __future__ import annotations

import difflib
import os
import tempfile
from pathlib import Path

from dbagents.check.fix.run import BOM, FileFix, FixRun
from dbagents.reporting.paths import display_path


def unified_diff(run: FixRun) -> str:
    """The changes as one unified diff, paths as the report shows them (apply with `patch -p0`)."""
    root = str(run.outcome.project.root)
    out: list[str] = []
    for relpath, change in sorted(run.files.items()):
        shown = display_path(relpath, root)
        lines = difflib.unified_diff(change.before.splitlines(keepends=True), change.after.splitlines(keepends=True),
                                     fromfile=shown, tofile=shown)
        for line in lines:
            out.append(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n")
    return "".join(out)


def write_files(run: FixRun) -> list[str]:
    """Write every changed file; return notes for those left alone (changed on disk meanwhile, outside)."""
    root = run.outcome.project.root.resolve()
    notes: list[str] = []
    for relpath, change in sorted(run.files.items()):
        path = root / relpath
        if path.is_symlink() or not path.resolve().is_relative_to(root):
            notes.append(f"{relpath}: not written: outside the checked folder")
            continue
        expected = (BOM if change.bom else "") + change.before
        if path.read_bytes() != expected.encode("utf-8"):
            notes.append(f"{relpath}: not written: the file changed while dbagents was fixing it; run again")
            continue
        _atomic_write(path, ((BOM if change.bom else "") + change.after).encode("utf-8"))
    return notes


def _atomic_write(path: Path, data: bytes) -> None:
    mode = path.stat().st_mode & 0o7777
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".dbagents-fix")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


__all__ = ["FileFix", "unified_diff", "write_files"]
