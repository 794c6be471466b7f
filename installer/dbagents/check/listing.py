"""What the last walk of a tree saw, folder by folder, so that a warm run re-lists only folders that changed.

A folder's record: its stamp (size, modification and change times, inode), its .gitignore's stamp and content
digest, the checked files it kept, and the sub-folders it walked into or skipped as virtualenvs, each with
its stamp. A record is reused when the folder's stamp and every listed sub-folder's stamp are unchanged
(adding, removing or renaming an entry changes its folder's times; creating or removing a pyvenv.cfg its
sub-folder's) and its .gitignore has the same contents. A .gitignore with other contents (or one that
appeared or went away) has its whole subtree re-listed; so do other .gitignore files above the walk and
another exclude list. A stamp taken less than RACY_NS after its times is never trusted (a change within
the same clock tick would not show), nor a folder holding a symbolic link (its target may change while
no folder does).

Kept in the result cache as plain JSON. Each record is checked before it is used: a malformed one is
re-listed, and a name is used only if it is one path component, so a tampered cache can make a run
re-list folders, never look outside the tree.
"""

from __future__ import annotations

import os
import time

from dbagents.check.codec import CacheError

RACY_NS = 2_000_000_000  # FAT keeps times to 2 s; ext4, APFS and NTFS to 100 ns or better


def now_ns() -> int:
    """The clock stamps are judged against (the file system's clock, in nanoseconds)."""
    return time.time_ns()


def stamp(st: os.stat_result, now: int) -> str | None:
    """What must stay the same for a file's contents, or a folder's listing, to be known unchanged: size,
    modification and change times, inode. None when too recent to trust."""
    if max(st.st_mtime_ns, st.st_ctime_ns) >= now - RACY_NS:
        return None
    return f"{st.st_size:x}.{st.st_mtime_ns:x}.{st.st_ctime_ns:x}.{st.st_ino:x}"


def _stamp(value) -> bool:
    return value is None or value.__class__ is str


def _name(value) -> bool:
    return (value.__class__ is str and value not in ("", ".", "..") and "/" not in value and "\0" not in value
            and os.sep not in value and (os.altsep is None or os.altsep not in value))


def _children(value) -> bool:
    return value.__class__ is list and all(
        c.__class__ is list and len(c) == 2 and _name(c[0]) and _stamp(c[1]) for c in value)


def well_formed(row) -> bool:
    """Is `row` a folder record this module writes: [stamp, .gitignore, files, folders, virtualenvs]?"""
    if row.__class__ is not list or len(row) != 5 or not _stamp(row[0]):
        return False
    ignore, files = row[1], row[2]
    if ignore is not None and not (ignore.__class__ is list and len(ignore) == 2 and _stamp(ignore[0])
                                   and ignore[1].__class__ is str):
        return False
    if files.__class__ is not list or not all(_name(n) for n in files):
        return False
    return _children(row[3]) and _children(row[4])


def checked(data) -> dict | None:
    """A stored listing, if its outline is ours (records are checked one by one when used)."""
    if data is None:
        return None
    if (data.__class__ is not dict or set(data) != {"exclude", "above", "folders"}
            or data["exclude"].__class__ is not list or data["above"].__class__ is not dict
            or data["folders"].__class__ is not dict):
        raise CacheError("the folder listing is malformed")
    return data


class Listing:
    """The records one walk produces, and the previous walk's records it may reuse (`previous`)."""

    def __init__(self, previous: dict | None = None, reuse: bool = False):
        self.previous = previous
        self.reuse = reuse and previous is not None
        self.now = now_ns()
        self.data: dict = {"exclude": [], "above": {}, "folders": {}}
        self.relisted = 0  # folders listed afresh (not reused)

    def start(self, rel: str, exclude: list[str], above: list[list[str]]) -> bool:
        """Record a walk from folder `rel`; True when the previous records below it may be reused."""
        self.data["exclude"] = list(exclude)
        self.data["above"][rel] = above
        prev = self.previous
        return (self.reuse and prev["exclude"] == self.data["exclude"]
                and prev["above"].get(rel) == above)

    def old(self, rel: str) -> list | None:
        row = self.previous["folders"].get(rel) if self.reuse else None
        return row if row is not None and well_formed(row) else None

    def keep(self, rel: str, row: list) -> None:
        self.data["folders"][rel] = row

    def changed(self) -> bool:
        """Does this walk's listing differ from the stored one (so the cache is worth rewriting)?"""
        return self.data != self.previous
