"""Plain, picklable data describing Alembic projects: values, operations, revisions, envs and the graph."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterator

# ---------------------------------------------------------------------------------------------- values


@dataclass(frozen=True)
class Ref:
    """A name or dotted attribute in the source (`sa.Integer`, `my_table`)."""

    name: str


@dataclass(frozen=True)
class Expr:
    """Any other expression, kept as (shortened) source text."""

    text: str


@dataclass
class Call:
    """A call kept as data: `sa.Column("id", sa.Integer(), nullable=False)`."""

    func: str  # dotted callee, e.g. "sa.Column"
    args: list = field(default_factory=list)
    kwargs: dict = field(default_factory=dict)

    @property
    def short(self) -> str:
        """Last part of the callee: `Column` for `sa.Column`."""
        return self.func.rsplit(".", 1)[-1]

    def has_kwarg(self, name: str) -> bool:
        return name in self.kwargs

    def calls(self) -> Iterator["Call"]:
        """This call and every call nested in its arguments."""
        yield self
        for value in [*self.args, *self.kwargs.values()]:
            yield from iter_calls(value)


def iter_calls(value: Any) -> Iterator[Call]:
    if isinstance(value, Call):
        yield from value.calls()
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from iter_calls(item)


def is_true(value: Any) -> bool:
    """A keyword that is literally True, or an expression we cannot evaluate (benefit of the doubt)."""
    return value is True or isinstance(value, (Ref, Expr, Call))


def literal_name(value: Any) -> str | None:
    """A string name, also through `op.f("…")`, `conv("…")` and `quoted_name("…")`."""
    if isinstance(value, str):
        return value
    if isinstance(value, Call) and value.short in ("f", "conv", "quoted_name") and value.args:
        return literal_name(value.args[0])
    return None


# ------------------------------------------------------------------------------------------ raw SQL


@dataclass(frozen=True)
class SqlAction:
    """One thing a raw SQL string does, recognised from a constant (or mostly constant) string."""

    kind: str  # create_index, drop_index, add_fk, add_check, add_unique, add_pk, validate, add_column, ...
    table: str | None = None
    name: str | None = None
    concurrently: bool = False
    not_valid: bool = False
    detail: str = ""
    schema: str | None = None


# --------------------------------------------------------------------------------------- operations


@dataclass
class Op:
    """One `op.<name>(…)`, `batch_op.<name>(…)` or `<bind>.execute(…)` call inside upgrade()/downgrade()."""

    name: str  # add_column, create_index, execute, …
    phase: str  # upgrade | downgrade
    line: int
    col: int
    end_line: int
    params: dict = field(default_factory=dict)  # positional and keyword arguments bound to Alembic's names
    table: str | None = None  # the table the operation changes (source table for foreign keys)
    schema: str | None = None
    batch: bool = False  # inside `with op.batch_alter_table(...) as batch_op`
    autocommit: bool = False  # inside autocommit_block() or after an explicit COMMIT
    dialect: str | None = None  # "postgresql" / "sqlite" / "other" when guarded by a dialect check
    receiver: str = "op"  # op | batch | bind
    sql: str | None = None  # execute(): the SQL text when it can be read from the source
    actions: tuple[SqlAction, ...] = ()  # execute(): what that SQL does
    data_change: bool = False  # execute(): an UPDATE / ORM update built in Python

    def param(self, name: str, default: Any = None) -> Any:
        return self.params.get(name, default)

    def kw_true(self, name: str) -> bool:
        return name in self.params and is_true(self.params[name])

    @property
    def pg(self) -> bool:
        """False when a dialect guard says this runs on another database only."""
        return self.dialect in (None, "postgresql")


# ---------------------------------------------------------------------------------------- file facts


@dataclass
class Revision:
    """One revision script."""

    revision: str
    down_revisions: tuple[str, ...]
    relpath: str
    line: int  # line of the `revision = …` assignment
    down_line: int = 0  # line of the `down_revision = …` assignment
    branch_labels: tuple[str, ...] = ()
    depends_on: tuple[str, ...] = ()
    down_unknown: bool = False  # down_revision is not a literal we could read
    upgrade_line: int = 0
    downgrade_line: int = 0
    downgrade_kind: str = "missing"  # missing | pass | raise | real
    upgrade_empty: bool = True
    ops: list[Op] = field(default_factory=list)
    creates_tables: set[str] = field(default_factory=set)
    timeout_line: int = 0  # where lock_timeout/statement_timeout is set in this revision (0 = not set)
    timeout_local: bool = False  # ... only with SET LOCAL / set_config(..., true): gone at the next commit
    imports: list[tuple[str, tuple[str, ...], int]] = field(default_factory=list)  # (module, names, line)
    ddl_calls: list[tuple[str, int]] = field(default_factory=list)  # upgrade(): DDL outside op.* (sync_trigger, …)
    env: str = ""  # filled by build(): the env this revision belongs to

    @property
    def is_merge(self) -> bool:
        return len(self.down_revisions) > 1

    def upgrade_ops(self) -> list[Op]:
        return [o for o in self.ops if o.phase == "upgrade"]

    def is_new_table(self, table: str | None) -> bool:
        return bool(table) and table.lower() in self.creates_tables


@dataclass
class EnvScript:
    """Facts from an Alembic env.py."""

    relpath: str
    timeout_line: int = 0
    timeout_local: bool = False  # every timeout it sets is SET LOCAL / set_config(..., true): ends at a commit
    autocommit: bool = False  # isolation_level="AUTOCOMMIT" or transactional_ddl=False: no migration transaction
    transaction_per_migration: bool = False
    configure_line: int = 0


@dataclass
class IniSection:
    name: str
    line: int
    script_location: str | None
    version_locations: list[str] = field(default_factory=list)
    recursive: bool = False
    url: str | None = None


@dataclass
class AlembicConfigFile:
    """alembic.ini (or pyproject.toml [tool.alembic]) with the sections that configure a script folder."""

    relpath: str
    sections: list[IniSection] = field(default_factory=list)
    timeout_line: int = 0


@dataclass
class AlembicFileFacts:
    """What the extractor stores for one file: exactly one of the three is set."""

    revision: Revision | None = None
    env: EnvScript | None = None
    config: AlembicConfigFile | None = None


# ------------------------------------------------------------------------------------------- project


@dataclass
class Env:
    """One migration environment: a script folder, its versions folders and the revisions found there."""

    name: str
    ini: str | None  # relpath of the alembic.ini / pyproject.toml that declares it (None = inferred)
    script_location: str | None  # relpath of the script folder
    versions: list[str] = field(default_factory=list)  # relpaths of versions folders
    env_py: str | None = None
    dialect: str = "postgresql"  # postgresql | sqlite | mysql | other
    timeout_source: str | None = None  # "path:line" where env.py/ini sets a timeout
    autocommit: bool = False
    revisions: dict[str, Revision] = field(default_factory=dict)
    heads: set[str] = field(default_factory=set)
    bases: set[str] = field(default_factory=set)
    duplicates: dict[str, list[Revision]] = field(default_factory=dict)
    missing: list[tuple[Revision, str]] = field(default_factory=list)  # (revision, unknown parent)
    cycles: list[list[str]] = field(default_factory=list)
    complete: bool = True  # False when a versions folder holds .py files this run did not check

    @property
    def pg(self) -> bool:
        return self.dialect == "postgresql"


@dataclass
class AlembicGraph:
    envs: list[Env] = field(default_factory=list)
    revisions: dict[str, Revision] = field(default_factory=dict)  # every revision (first file wins on clashes)
    heads: set[str] = field(default_factory=set)
    # migrations-start-after / --since-revision: the revision named, and the files of it and its ancestors
    cut_off: str | None = None
    history: set[str] = field(default_factory=set)

    def is_history(self, revision: Revision) -> bool:
        """Is this revision at or before the cut-off (applied everywhere long ago)?"""
        return revision.relpath in self.history

    def locate_revision(self, rev: str) -> tuple[str, int] | None:
        found = self.revisions.get(rev)
        return (found.relpath, found.line) if found else None

    def env_of(self, revision: Revision) -> Env | None:
        for env in self.envs:
            if env.name == revision.env:
                return env
        return None

    def all_revisions(self) -> Iterator[tuple[Env, Revision]]:
        """(env, revision) for every revision file, duplicates included."""
        for env in self.envs:
            seen = set()
            for rev in env.revisions.values():
                seen.add(id(rev))
                yield env, rev
            for dups in env.duplicates.values():
                for rev in dups:
                    if id(rev) not in seen:
                        seen.add(id(rev))
                        yield env, rev

    def pg_ops(self, phase: str = "upgrade") -> Iterator[tuple[Env, Revision, Op]]:
        """Operations that run on PostgreSQL in `phase`, for revisions of PostgreSQL envs."""
        for env, rev in self.all_revisions():
            if not env.pg:
                continue
            for op in rev.ops:
                if op.phase == phase and op.pg:
                    yield env, rev, op
