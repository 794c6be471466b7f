"""What a file is for, from where it sits: the role that decides which rules are worth saying there.

Detection (first match wins; `[tool.dbagents.roles]` globs come before all of it):
- test: a folder named tests, test, testing or fixtures on the path; test_*.py, *_test.py, conftest.py.
- revision / past-revision: an Alembic revision file of the revision graph. Past = at or before the
  `migrations-start-after` cut-off when one is set; without a cut-off, every revision more than RECENT_DEPTH (1)
  step below a head: the head is being written, the one below it may still be unreleased (two revisions in one
  change are common); anything older has shipped, and nobody edits it. A revision file in the run's scope
  (`--changed-since`, `--only-files`, the Claude Code hook) is never past: it is being written now.
- bench: a folder named bench, benchmark or benchmarks.
- script: an operator's one-off or command-line entry point — a folder named scripts, script, bin or cli,
  a top-level tools/ folder, Django's management/commands/, or a module named cli.py, manage.py.
- code: everything else.
"""

from __future__ import annotations

import fnmatch
import os
import re

from dbagents.config import ROLE_NAMES as ROLES  # one list: the config validates against it

TEST_DIRS = frozenset({"tests", "test", "testing", "fixtures"})
BENCH_DIRS = frozenset({"bench", "benchmark", "benchmarks"})
SCRIPT_DIRS = frozenset({"scripts", "script", "bin", "cli"})
SCRIPT_FILES = frozenset({"cli.py", "manage.py"})
TEST_FILE = re.compile(r"^(test_.*|.*_test|conftest)\.py$")


def path_role(relpath: str) -> str:
    """The role a path shows by itself (revision files are known from the graph, not the path)."""
    parts = relpath.split("/")
    folders, name = parts[:-1], parts[-1]
    if TEST_DIRS.intersection(folders) or TEST_FILE.match(name):
        return "test"
    if BENCH_DIRS.intersection(folders):
        return "bench"
    if (SCRIPT_DIRS.intersection(folders) or name in SCRIPT_FILES or "management/commands/" in relpath
            or folders[:1] == ["tools"]):
        return "script"
    return "code"


def configured_role(relpath: str, globs: dict[str, list[str]]) -> str | None:
    """The role `[tool.dbagents.roles]` gives this path (a glob on the path or on the file name), if any."""
    name = relpath.rsplit("/", 1)[-1]
    for role, patterns in globs.items():
        if any(fnmatch.fnmatch(relpath, p) or fnmatch.fnmatch(name, p) for p in patterns):
            return role
    return None


RECENT_DEPTH = 1  # without a cut-off, a head and the revisions up to this many steps below it are not past


def _recent(env) -> set[str]:
    """Revision ids of the heads and of their ancestors within RECENT_DEPTH steps."""
    recent: set[str] = set()
    level = set(env.heads)
    for _ in range(RECENT_DEPTH + 1):
        recent |= level
        level = {down for rid in level if rid in env.revisions for down in env.revisions[rid].down_revisions}
    return recent


def revision_roles(graph) -> dict[str, str]:
    """relpath -> "revision" | "past-revision" for every revision file of the Alembic graph."""
    roles: dict[str, str] = {}
    for env in graph.envs:
        recent = set() if graph.cut_off else _recent(env)
        for rid, rev in env.revisions.items():
            past = rev.relpath in graph.history if graph.cut_off else rid not in recent
            for r in (rev, *env.duplicates.get(rid, ())):
                if roles.get(r.relpath) != "revision":  # a file that is a head anywhere stays a head
                    roles[r.relpath] = "past-revision" if past else "revision"
    return roles


class FileRoles:
    """Role of each reported path; the revision graph is built only when a path could be a revision."""

    def __init__(self, project):
        self.project = project
        self.globs = project.config.roles
        self._revisions: dict[str, str] | None = None

    def _revision_files(self) -> dict[str, str]:
        if self._revisions is None:
            self._revisions = revision_roles(self.project.get("alembic"))
        return self._revisions

    def _is_revision_file(self, relpath: str) -> bool:
        """A file whose own facts hold a revision (the graph then says whether it is past)."""
        result = self.project.files.get(relpath)
        facts = result.facts.get("alembic") if result is not None else None
        return getattr(facts, "revision", None) is not None

    def of(self, relpath: str, need_revisions: bool = True) -> str:
        chosen = configured_role(relpath, self.globs)
        if chosen:
            return chosen
        role = path_role(relpath)
        if role == "test":
            return role
        if need_revisions and self._is_revision_file(relpath):
            rev = self._revision_files().get(relpath)
            if rev == "past-revision" and self._in_progress(relpath):
                return "revision"  # being written or changed in this run's scope: not shipped history
            if rev:
                return rev
        return role

    def _in_progress(self, relpath: str) -> bool:
        judged = self.project.config.in_progress
        return bool(judged) and os.path.normpath(os.path.join(self.project.root, relpath)) in judged
