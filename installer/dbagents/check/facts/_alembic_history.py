"""The Alembic cut-off: a revision named in `migrations-start-after` (or `--since-revision`) and everything
before it in the revision graph are history, applied everywhere long ago."""

from __future__ import annotations

from dbagents.check.facts._alembic_model import AlembicGraph, Env
from dbagents.errors import InputError


def _matches(env: Env, wanted: str) -> list[str]:
    """Revision ids of `env` that `wanted` names: the exact id, else ids it is a prefix of (like alembic)."""
    if wanted in env.revisions:
        return [wanted]
    return [rid for rid in env.revisions if rid.startswith(wanted)]


def mark_history(graph: AlembicGraph, wanted: str, source: str) -> None:
    """Fill `graph.history` with the files of `wanted` and all its ancestors (down_revision and depends_on).

    The cut-off is found on the graph by revision id, whatever the files are called. A graph with no
    revisions (a check of models only) has nothing to cut; a graph without that revision is an input error.
    """
    graph.cut_off = wanted
    found: list[tuple[Env, str]] = []
    for env in graph.envs:
        found.extend((env, rid) for rid in _matches(env, wanted))
    if len({rid for _env, rid in found}) > 1:
        ids = ", ".join(sorted({rid for _env, rid in found})[:5])
        raise InputError(f"{source}: {wanted!r} is the start of several revision ids ({ids}); give more of it")
    if not found:
        if any(env.revisions for env in graph.envs):
            raise InputError(f"{source}: revision {wanted!r} is not in any Alembic revision graph that was checked; "
                             "name a revision id from `alembic history` (check the whole project)")
        return
    for env, start in found:
        stack = [start]
        seen: set[str] = set()
        while stack:
            rid = stack.pop()
            if rid in seen or rid not in env.revisions:
                continue
            seen.add(rid)
            rev = env.revisions[rid]
            graph.history.add(rev.relpath)
            for dup in env.duplicates.get(rid, ()):
                graph.history.add(dup.relpath)
            stack.extend(rev.down_revisions)
            stack.extend(rev.depends_on)
