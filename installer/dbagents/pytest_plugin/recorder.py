"""SQLAlchemy event listeners that record one test's queries and lazy loads (documented events only).

Session `do_orm_execute` (lazy loads, and the query result each loaded object came from) and the
dialect's `do_execute` / `do_executemany` / `do_execute_no_params` events (every statement; observed,
never replaced). Imported only when the plugin is enabled: this is the one module that imports
SQLAlchemy.

Which result loaded an object is known without any per-object work: during a test, every top-level
ORM query (SELECT, `from_statement`, DML that may return objects) gets a `ResultMark` option (a `UserDefinedOption` with `propagate_to_loaders`). SQLAlchemy
itself stores a result's propagating options on each object it loads (and on objects loaded through
it, eagerly or lazily) and puts them on that object's lazy loads, where
`ORMExecuteState.user_defined_options` shows them. The mark's number is not part of the statement's
cache key: all marked executions of a statement share one compiled form.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from itertools import count

from sqlalchemy import event, exc
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, UserDefinedOption

from dbagents.pytest_plugin import allow
from dbagents.pytest_plugin.frames import FrameFilter, Site, Where
from dbagents.pytest_plugin.sqlnorm import is_bookkeeping

# Where a statement came from, for DBA402: plain, an ORM relationship load (lazy, or eager: the
# selectin/subquery load a query sends for its objects), or an allowed block.
PLAIN, RELATIONSHIP, EAGER, ALLOWED = "", "relationship", "eager", "allowed"
# Execution option the recorder puts on a lazy load's statement (user-defined execution options are
# carried unchanged to the statement's execution context, where `_on_execute` reads it).
ORIGIN_OPTION = "dbagents_origin"
# Loader strategies that load a relationship with the query itself: a later lazy load of such an
# attribute means it was expired in between (commit, expire(), refresh()). `immediate` is left out:
# it *is* a lazy load per object.
EAGER_STRATEGIES = frozenset({"selectin", "joined", "subquery"})


class ResultMark(UserDefinedOption):
    """Names one top-level ORM query result (payload: a number, increasing over the pytest session).

    Carried by SQLAlchemy to every object the result loads and to those objects' lazy loads.
    """

    __slots__ = ()
    propagate_to_loaders = True


def result_of(orm_state) -> int | None:
    """The number of the result that loaded a lazy load's owner: the last mark on its statement."""
    for option in reversed(orm_state.user_defined_options):
        if type(option) is ResultMark:
            return option.payload
    return None


@dataclass
class TestLog:
    """Everything recorded during one test's call phase."""

    statements: list[str] = field(default_factory=list)
    # DBA402: (statement text, project stack) -> executions. Only plain statements (not relationship
    # loads, not inside allow_nplusone()) that are not bookkeeping (transaction control, DDL, settings,
    # schema reflection) are counted.
    repeats: dict[tuple[str, tuple], int] = field(default_factory=dict)
    repeat_touched: dict[tuple[str, tuple], Site | None] = field(default_factory=dict)
    repeat_flush: dict[tuple[str, tuple], int] = field(default_factory=dict)  # the flush that last sent it
    order: list[tuple[str, tuple]] = field(default_factory=list)  # the counted executions, in the order run
    # (Model.attr, site, group) -> identity keys of the instances lazy-loaded there. The group is the
    # number of the top-level query result that loaded the instance during this test (directly, or
    # through its eager or lazy loads); two or more owners in one group prove a multi-row result.
    lazy: dict[tuple, set] = field(default_factory=lambda: defaultdict(set))
    lazy_where: dict[tuple, Where] = field(default_factory=dict)  # (Model.attr, site, group) -> first stack
    expired: set = field(default_factory=set)  # (Model.attr, site, group): eager-loaded, then expired
    # result number -> (site of the query, the ORM statement), for this test's top-level queries
    results: dict[int, tuple] = field(default_factory=dict)
    async_lazy: list[tuple[str, Site | None]] = field(default_factory=list)


class Recorder:
    """Installs class-level listeners on Session and Engine; records (and marks results) while `log`
    is set."""

    def __init__(self, *, orm: bool, allow_patterns: tuple[str, ...] = (), rootdir=None,
                 library_paths: tuple[str, ...] = ()) -> None:
        self.orm = orm  # False: only count statements (query budgets)
        self.allow_patterns = allow_patterns
        self.frames = FrameFilter(rootdir, library_paths)
        self.log: TestLog | None = None
        self._thread: int | None = None  # the thread running the test body
        self._stash: tuple[int, Where] | None = None  # (thread, stack) of the ORM query about to execute
        self._installed: list[tuple] = []
        self._results = count(1)  # numbers the top-level ORM query results (ResultMark payloads)
        self._flushes = count(1)
        self._flush = 0  # the number of the flush running now (0: none)
        self._first_result = 0  # results numbered up to this were loaded before the current test
        self._attr_names: dict[object, str] = {}  # loader path -> "Model.attr"
        self._allowed_attrs: dict[str, bool] = {}  # "Model.attr" -> matches an allowlist pattern

    # -- lifecycle -------------------------------------------------------------------------------
    def install(self) -> None:
        if self._installed:
            return
        # Statements are counted with the dialect's execute events, not ConnectionEvents: any
        # ConnectionEvents listener switches every Connection onto SQLAlchemy's slower "has events"
        # path (about 6 % of a query-heavy test on its own); a dialect event is one dispatch per
        # statement. The listener only observes (returns None), so the dialect still executes.
        listeners = [
            (Engine, "do_execute", self._on_execute, {}),
            (Engine, "do_executemany", self._on_execute, {}),
            (Engine, "do_execute_no_params", self._on_execute_no_params, {}),
        ]
        if self.orm:
            listeners.append((Session, "do_orm_execute", self._on_orm_execute, {}))
            # One flush may send the same INSERT/UPDATE/DELETE once per row: SQLAlchemy's unit of work,
            # not a loop in the project. DBA402 counts such a statement once per flush.
            listeners.append((Session, "before_flush", self._on_flush_start, {}))
            listeners.append((Session, "after_flush_postexec", self._on_flush_end, {}))
            listeners.append((Session, "after_rollback", self._on_flush_end, {}))  # a flush that failed
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
        self._thread = threading.get_ident()
        self._flush = 0
        self._stash = None
        self._first_result = next(self._results)  # results of this test are numbered above it
        return self.log

    def stop(self) -> TestLog | None:
        log, self.log = self.log, None
        return log

    def is_allowed(self, attr: str) -> bool:
        """Inside `allow_nplusone()`, or `attr` matches an ini allowlist pattern."""
        if allow.depth > 0:
            return True
        known = self._allowed_attrs.get(attr)
        if known is None:
            known = self._allowed_attrs[attr] = any(fnmatchcase(attr, p) for p in self.allow_patterns)
        return known

    # -- listeners -------------------------------------------------------------------------------
    def _on_execute(self, cursor, statement, parameters, context) -> None:
        log = self.log
        if log is None:
            return
        log.statements.append(statement)
        stash, self._stash = self._stash, None  # the stack an ORM query's mark found, if it was this one
        if self.orm is False or allow.depth:
            return  # budgets only, or an allowed block
        if context is not None and context.execution_options.get(ORIGIN_OPTION, PLAIN) != PLAIN:
            return  # a relationship load: DBA401's business
        if is_bookkeeping(statement):
            return
        if stash is not None and stash[0] == threading.get_ident():
            where = stash[1]
        else:
            where = self.frames.where(None, self._thread)
        key = (statement, where.stack)
        seen = log.repeats.get(key)
        if seen is None:
            log.repeats[key] = 1
            log.repeat_touched[key] = where.touched
            log.order.append(key)
        elif not self._flush or log.repeat_flush.get(key) != self._flush:
            log.repeats[key] = seen + 1
            log.order.append(key)
        if self._flush:
            log.repeat_flush[key] = self._flush

    def _on_flush_start(self, session, flush_context, instances) -> None:
        self._flush = next(self._flushes)

    def _on_flush_end(self, session, flush_context=None) -> None:
        self._flush = 0

    def _on_execute_no_params(self, cursor, statement, context) -> None:
        self._on_execute(cursor, statement, None, context)

    def _on_orm_execute(self, orm_state):
        log = self.log
        if log is None or not orm_state.is_orm_statement:
            return None  # outside a test, or a Core statement: it loads no objects
        if not orm_state.is_select:
            # `select(Model).from_statement(text(...))` and ORM DML with `returning(Model)` load
            # objects too (never lazily).
            self._mark(orm_state)
            return None
        group = result_of(orm_state)
        if group is None:
            # Nothing marked during this test loaded this statement's subject: a top-level query,
            # or a lazy load of an object loaded elsewhere. Its result gets a fresh mark. Loads on
            # behalf of marked objects (lazy, selectin, subquery, refresh) carry their mark already,
            # so every marked statement has exactly one mark (SQLAlchemy caches a statement with
            # marks apart from the same statement without).
            where = self._mark(orm_state)
        else:
            where = None
        owner = orm_state.lazy_loaded_from
        if owner is None:
            if group is not None and orm_state.is_relationship_load:
                # a selectin/subquery load for a marked query's objects: it repeats exactly when that
                # query does, which DBA402 counts already (a refresh after expiry is no relationship load)
                orm_state.update_execution_options(**{ORIGIN_OPTION: EAGER})
            return None
        path = orm_state.loader_strategy_path
        attr = self._attr_name(path, owner)
        if where is None:
            where = self.frames.where(None, self._thread)
        site = where.site
        allowed = self.is_allowed(attr)
        if group is not None and group > self._first_result and not allowed:
            key = (attr, site, group)
            owners = log.lazy.get(key)
            if owners is None:
                owners = log.lazy[key] = set()
                log.lazy_where[key] = where  # the call chain of this result's loads, not another's
                if self._eager_then_expired(path, group, log):
                    log.expired.add(key)
            owners.add(owner.identity_key)
        # The lazy load's own statement carries its origin to `_on_execute` (DBA402 skips it).
        orm_state.update_execution_options(**{ORIGIN_OPTION: ALLOWED if allowed else RELATIONSHIP})
        if owner.async_session is None:
            return None  # SQLAlchemy runs the statement as usual
        # Under an AsyncSession, run it here to see a MissingGreenlet (DBA404).
        try:
            return orm_state.invoke_statement()
        except (exc.MissingGreenlet, exc.StatementError) as error:
            if _is_missing_greenlet(error):
                log.async_lazy.append((attr, site))
            raise

    def _mark(self, orm_state) -> Where:
        """Give the statement's result a fresh number (a ResultMark option); remember the query and
        the project line that ran it (DBA401 names them as "loaded by"). The stack is kept for the
        statement's own execution, which follows at once in this thread (one walk, not two)."""
        number = next(self._results)
        statement = orm_state.statement
        where = self.frames.where(None, self._thread)
        self._stash = (threading.get_ident(), where)
        self.log.results[number] = (where.site, statement)
        orm_state.statement = statement.options(ResultMark(number))
        return where

    @staticmethod
    def _eager_then_expired(path, group: int, log: TestLog) -> bool:
        """The relationship being lazy-loaded was loaded eagerly with its owner (a loader option on the
        query that produced the owner, or `lazy=` on the mapping): the value was expired since."""
        prop = path[-1] if path is not None and len(path) else None
        if prop is None:
            return False
        strategy = getattr(prop, "lazy", None)
        loaded = log.results.get(group)
        for option in getattr(loaded[1], "_with_options", ()) if loaded else ():
            for element in getattr(option, "context", ()):
                element_path = getattr(getattr(element, "path", None), "path", ())
                if any(part is prop for part in element_path[-2:]):
                    strategy = dict(getattr(element, "strategy", None) or ()).get("lazy", strategy)
        return strategy in EAGER_STRATEGIES

    def _attr_name(self, path, owner) -> str:
        """`Model.attr` of the relationship being lazy-loaded (cached per loader path)."""
        name = self._attr_names.get(path)
        if name is None:
            prop = path[-1] if path is not None and len(path) else None
            if prop is None:
                return f"{owner.class_.__name__}.?"
            name = self._attr_names[path] = f"{prop.parent.class_.__name__}.{prop.key}"
        return name


def _is_missing_greenlet(error: BaseException) -> bool:
    """MissingGreenlet itself, or wrapped in StatementError when raised while executing."""
    return isinstance(error, exc.MissingGreenlet) or isinstance(getattr(error, "orig", None), exc.MissingGreenlet)
