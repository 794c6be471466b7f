"""SQLAlchemy event listeners that record one test's queries and lazy loads (public events only).

Imported only when the plugin is enabled: this is the one module that imports SQLAlchemy.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from fnmatch import fnmatchcase

from sqlalchemy import event, exc
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Mapper, Session

from dbagents.pytest_plugin import allow
from dbagents.pytest_plugin.frames import FrameFilter, Site

# Where a statement came from, for DBA402: plain, an ORM relationship load, or an allowed block.
PLAIN, RELATIONSHIP, ALLOWED = "", "relationship", "allowed"
GROUP_KEY = "dbagents.nplusone.group"  # key in InstanceState.info: the result that loaded the instance


@dataclass
class TestLog:
    """Everything recorded during one test's call phase."""

    statements: list[str] = field(default_factory=list)
    counts: dict[tuple[str, str], int] = field(default_factory=dict)
    first_site: dict[str, Site | None] = field(default_factory=dict)
    repeat_site: dict[str, Site | None] = field(default_factory=dict)
    # (load run id, base mapper) -> how many instances that one result loaded. Each instance carries its
    # group in the public `InstanceState.info` dict, so nothing here keeps loaded objects alive (holding
    # them made every garbage collection of a query-heavy test slower). Run ids are unique per process,
    # so a tag left from an earlier test finds no size here and never counts.
    group_sizes: dict[tuple, int] = field(default_factory=lambda: defaultdict(int))
    # (Model.attr, site, group) -> ids of the instances lazy-loaded there
    lazy: dict[tuple, set] = field(default_factory=lambda: defaultdict(set))
    async_lazy: list[tuple[str, Site | None]] = field(default_factory=list)


class Recorder:
    """Installs class-level listeners on Session, Engine and Mapper; records while `log` is set."""

    def __init__(self, *, orm: bool, allow_patterns: tuple[str, ...] = ()) -> None:
        self.orm = orm  # False: only count statements (query budgets)
        self.allow_patterns = allow_patterns
        self.frames = FrameFilter()
        self.log: TestLog | None = None
        self._origin = PLAIN
        self._installed: list[tuple] = []
        self._base_mappers: dict[type, object] = {}

    # -- lifecycle -------------------------------------------------------------------------------
    def install(self) -> None:
        if self._installed:
            return
        listeners = [(Engine, "before_cursor_execute", self._on_cursor_execute, {})]
        if self.orm:
            listeners += [
                (Session, "do_orm_execute", self._on_orm_execute, {}),
                # raw=True: SQLAlchemy hands over the InstanceState, no per-object wrapper call
                (Mapper, "load", self._on_load, {"raw": True}),
            ]
        for target, name, fn, options in listeners:
            event.listen(target, name, fn, **options)
            self._installed.append((target, name, fn))

    def uninstall(self) -> None:
        while self._installed:
            target, name, fn = self._installed.pop()
            if event.contains(target, name, fn):
                event.remove(target, name, fn)

    def start(self) -> TestLog:
        self.log = TestLog()
        self._origin = PLAIN
        return self.log

    def stop(self) -> TestLog | None:
        log, self.log = self.log, None
        return log

    def is_allowed(self, attr: str) -> bool:
        return allow.allowed() or any(fnmatchcase(attr, pattern) for pattern in self.allow_patterns)

    # -- listeners -------------------------------------------------------------------------------
    def _on_load(self, state, context) -> None:
        log = self.log
        if log is None:
            return
        cls = state.class_
        base = self._base_mappers.get(cls)
        if base is None:
            base = self._base_mappers[cls] = state.mapper.base_mapper
        key = (context.runid, base)
        state.info[GROUP_KEY] = key
        log.group_sizes[key] += 1

    def _on_cursor_execute(self, conn, cursor, statement, parameters, context, executemany) -> None:
        log = self.log
        if log is None:
            return
        log.statements.append(statement)
        key = (statement, ALLOWED if allow.allowed() else self._origin)
        seen = log.counts.get(key, 0) + 1
        log.counts[key] = seen
        if seen == 1 and statement not in log.first_site:
            log.first_site[statement] = self.frames.user_site()
        elif seen == 2 and statement not in log.repeat_site:
            log.repeat_site[statement] = self.frames.user_site()

    def _on_orm_execute(self, orm_state):
        log = self.log
        if log is None or not orm_state.is_select:
            return None
        owner = orm_state.lazy_loaded_from
        if owner is None:
            return None
        path = orm_state.loader_strategy_path
        prop = path[-1] if path is not None and len(path) else None
        attr = f"{prop.parent.class_.__name__}.{prop.key}" if prop is not None else f"{owner.class_.__name__}.?"
        site = self.frames.user_site()
        allowed = self.is_allowed(attr)
        group = owner.info.get(GROUP_KEY)
        if group is not None and not allowed and log.group_sizes.get(group, 0) >= 2:
            log.lazy[(attr, site, group)].add(id(owner))
        previous, self._origin = self._origin, (ALLOWED if allowed else RELATIONSHIP)
        try:
            return orm_state.invoke_statement()
        except (exc.MissingGreenlet, exc.StatementError) as error:
            if _is_missing_greenlet(error) and owner.async_session is not None:
                log.async_lazy.append((attr, site))
            raise
        finally:
            self._origin = previous


def _is_missing_greenlet(error: BaseException) -> bool:
    """MissingGreenlet itself, or wrapped in StatementError when raised while executing."""
    return isinstance(error, exc.MissingGreenlet) or isinstance(getattr(error, "orig", None), exc.MissingGreenlet)
