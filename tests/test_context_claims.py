"""What the standards claim about locks, rewrites, scans, settings and emitted SQL, observed on real PostgreSQL.

CLAIM_SYNTAX: one HTML comment per line, right after a code block's closing fence (several lines in a row allowed):

    <!-- expect: N takes MODE on TABLE -->        the strongest lock statement N itself acquires on TABLE is MODE
    <!-- expect: N under MODE on TABLE -->        statement N starts while its session already holds MODE on TABLE
    <!-- expect: N not-under MODE on TABLE -->    ... does not hold MODE on TABLE (left over from earlier statements)
    <!-- expect: N rewrites TABLE -->             pg_class.relfilenode of TABLE changes across statement N
    <!-- expect: N no-rewrite TABLE -->           ... stays the same
    <!-- expect: N scans TABLE -->                statement N reads TABLE with a sequential scan (pg_stat_get_xact_numscans)
    <!-- expect: N no-scan TABLE -->              ... does not scan it
    <!-- expect: N setting NAME = VALUE -->       SHOW NAME gives VALUE when statement N starts (e.g. lock_timeout)
    <!-- expect: N sql TEXT -->                   statement N (whitespace folded) starts with TEXT

N counts the block's own statements from 1: the statements of a SQL block (its setups are not counted), or the SQL
statements a migration block's ``upgrade()`` sends. MODE is a pg_locks mode (AccessExclusiveLock, ...).

How each is observed: a second connection reads pg_locks for the block's backend right before and right after each
statement (the transaction is still open, so every lock taken is still held); a statement that PostgreSQL refuses to
run in a transaction (CONCURRENTLY) is observed while it waits for a concurrent writer the harness holds open.
SQL blocks and single migration blocks run in a fresh schema. Migration blocks of a ``chain=NAME`` also run as one
real Alembic project (the chain's env.py from the docs, ``alembic upgrade head`` with every revision pending), with
``transaction_per_migration`` as the env.py sets it, and the tests below prove the claims fail when the env.py
drops the settings the standards prescribe.
"""

from __future__ import annotations

import re
import sys
import textwrap
import threading
import time
import types
from dataclasses import dataclass, field

import pytest

from test_context_docs import (
    ALL_BLOCKS,
    PY_DOC,
    SETUPS,
    Block,
    exec_in_module,
    run_migration,
    scratch_schema,
    setup_chain,
    split_sql,
)

MODES = ("AccessShareLock", "RowShareLock", "RowExclusiveLock", "ShareUpdateExclusiveLock", "ShareLock",
         "ShareRowExclusiveLock", "ExclusiveLock", "AccessExclusiveLock")
CLAIM = re.compile(
    r"^(?P<n>\d+) (?:(?P<lock>takes|under|not-under) (?P<mode>\w+) on (?P<table>\w+)"
    r"|(?P<rel>rewrites|no-rewrite|scans|no-scan) (?P<rtable>\w+)"
    r"|setting (?P<setting>\w+) = (?P<value>\S+)"
    r"|sql (?P<sql>.+))$"
)
NO_TRANSACTION = re.compile(r"\bCONCURRENTLY\b", re.I)


@dataclass
class Claim:
    block: Block
    text: str
    n: int
    verb: str
    table: str | None = None
    mode: str | None = None
    setting: str | None = None
    value: str | None = None

    @property
    def where(self) -> str:
        return f"{self.block.id}: `{self.text}`"


def parse_claim(block: Block, text: str) -> Claim:
    m = CLAIM.match(text)
    assert m, f"{block.id}: cannot read claim `{text}` (see CLAIM_SYNTAX)"
    n = int(m["n"])
    if m["lock"]:
        assert m["mode"] in MODES, f"{block.id}: unknown lock mode {m['mode']}"
        return Claim(block, text, n, m["lock"], table=m["table"], mode=m["mode"])
    if m["rel"]:
        return Claim(block, text, n, m["rel"], table=m["rtable"])
    if m["setting"]:
        return Claim(block, text, n, "setting", setting=m["setting"], value=m["value"])
    return Claim(block, text, n, "sql", value=m["sql"])


@dataclass
class Step:
    """What was observed around one statement."""

    sql: str
    before: dict = field(default_factory=dict)  # table -> set of granted modes
    after: dict | None = None  # None: the statement's own locks were not observable
    relfile: tuple = ({}, {})  # (before, after): table -> relfilenode
    scans: tuple | None = None  # (before, after): table -> xact seq scans; None outside a transaction
    settings: dict = field(default_factory=dict)


def strongest(modes) -> str | None:
    ranked = [m for m in MODES if m in modes]
    return ranked[-1] if ranked else None


def judge(claim: Claim, steps: list[Step]) -> str | None:
    """None when the claim holds for the observed steps, else why not."""
    if claim.n > len(steps):
        return f"{claim.where}: only {len(steps)} statements ran"
    step = steps[claim.n - 1]
    if claim.verb == "sql":
        got = " ".join(step.sql.split())
        return None if got.startswith(claim.value) else f"{claim.where}: statement {claim.n} was `{got[:200]}`"
    if claim.verb == "setting":
        got = step.settings.get(claim.setting)
        return None if got == claim.value else f"{claim.where}: {claim.setting} was {got!r}"
    table = claim.table
    if claim.verb in ("under", "not-under"):
        held = step.before.get(table, set())
        ok = (claim.mode in held) == (claim.verb == "under")
        return None if ok else f"{claim.where}: held on {table} before statement {claim.n}: {sorted(held)}"
    if claim.verb == "takes":
        if step.after is None:
            return f"{claim.where}: statement {claim.n} ran in autocommit; its own locks are not observable"
        taken = step.after.get(table, set()) - step.before.get(table, set())
        got = strongest(taken)
        return None if got == claim.mode else f"{claim.where}: statement {claim.n} took {sorted(taken)} on {table}"
    if claim.verb in ("rewrites", "no-rewrite"):
        before, after = step.relfile
        assert table in before and table in after, f"{claim.where}: {table} is not there before and after"
        changed = before[table] != after[table]
        ok = changed == (claim.verb == "rewrites")
        return None if ok else f"{claim.where}: relfilenode {before[table]} -> {after[table]}"
    if step.scans is None:
        return f"{claim.where}: scans are only observable inside a transaction"
    before, after = step.scans
    scanned = after.get(table, 0) > before.get(table, 0)
    ok = scanned == (claim.verb == "scans")
    return None if ok else f"{claim.where}: sequential scans of {table}: {before.get(table)} -> {after.get(table)}"


# ---------------------------------------------------------------- observing a session


class Observer:
    """Reads what the session with backend `pid` holds, from a second connection; names are resolved by the
    observed session itself (it sees its own uncommitted tables)."""

    def __init__(self, url: str, tables: set[str], settings: set[str]):
        import psycopg

        self.side = psycopg.connect(url, autocommit=True)
        self.tables = tables
        self.settings = settings

    def close(self):
        self.side.close()

    def _oids(self, run) -> dict[int, str]:
        rows = run("SELECT t, to_regclass(t)::oid FROM unnest(%s::text[]) AS t", [sorted(self.tables)])
        return {oid: name for name, oid in rows if oid is not None}

    def locks(self, pid: int, run, waiting_ok: bool = False) -> dict:
        names = self._oids(run)
        rows = self.side.execute(
            "SELECT relation::bigint, mode FROM pg_locks WHERE pid = %s AND granted AND locktype = 'relation'",
            (pid,),
        ).fetchall()
        out: dict = {}
        for oid, mode in rows:
            if oid in names:
                out.setdefault(names[oid], set()).add(mode)
        return out

    def relfiles(self, run) -> dict:
        rows = run("SELECT t, (SELECT relfilenode FROM pg_class WHERE oid = to_regclass(t)) FROM unnest(%s::text[]) t",
                   [sorted(self.tables)])
        return {name: node for name, node in rows if node is not None}

    def scans(self, run) -> dict:
        rows = run("SELECT t, pg_stat_get_xact_numscans(to_regclass(t)) FROM unnest(%s::text[]) t "
                   "WHERE to_regclass(t) IS NOT NULL", [sorted(self.tables)])
        return dict(rows)

    def show(self, run) -> dict:
        return {name: run(f"SHOW {name}", None)[0][0] for name in sorted(self.settings)}


def claims_of(block: Block) -> list[Claim]:
    return [parse_claim(block, text) for text in block.claims]


def wants(claims: list[Claim]) -> tuple[set[str], set[str]]:
    tables = {c.table for c in claims if c.table}
    settings = {c.setting for c in claims if c.setting}
    return tables, settings


# ---------------------------------------------------------------- SQL blocks


def _psycopg_runner(conn):
    def run(sql, params):
        with conn.cursor() as cur:
            cur.execute(sql, params)
            return cur.fetchall()
    return run


def observe_sql_block(block: Block, url: str) -> list[Step]:
    """Run a SQL block (after its setups) and observe each of its own statements."""
    import psycopg

    claims = claims_of(block)
    tables, settings = wants(claims)
    autocommit = "no-transaction" in block.flags
    steps: list[Step] = []
    with scratch_schema(url) as schema:
        observer = Observer(url, tables, settings)
        conn = psycopg.connect(url, autocommit=autocommit, options=schema.options)
        run = _psycopg_runner(conn)
        try:
            for setup in setup_chain(block):
                for statement in split_sql(setup.code):
                    conn.execute(statement)
            if not autocommit:
                conn.commit()  # the setup's tables exist before the block starts, as they would in production
            for statement in split_sql(block.code):
                if autocommit and NO_TRANSACTION.search(statement):
                    steps.append(_observe_waiting(conn, statement, observer, url, schema.options))
                    continue
                wrap = autocommit  # same locks as autocommit, but held until we have looked
                if wrap:
                    conn.execute("BEGIN")
                step = Step(statement, before=observer.locks(conn.info.backend_pid, run),
                            settings=observer.show(run))
                relfile, scans = observer.relfiles(run), observer.scans(run)
                conn.execute(statement)
                step.after = observer.locks(conn.info.backend_pid, run)
                step.relfile = (relfile, observer.relfiles(run))
                step.scans = (scans, observer.scans(run))
                if wrap:
                    conn.execute("COMMIT")
                steps.append(step)
        finally:
            if not autocommit:
                conn.rollback()
            conn.close()
            observer.close()
    return steps


def _observe_waiting(conn, statement: str, observer: Observer, url: str, options: str) -> Step:
    """A statement that cannot run in a transaction (CONCURRENTLY): hold a writer's transaction open on every
    claimed table so the statement waits for it, and read the locks it holds while it waits."""
    import psycopg

    run = _psycopg_runner(conn)
    step = Step(statement, before=observer.locks(conn.info.backend_pid, run), settings=observer.show(run))
    step.relfile = (observer.relfiles(run), {})
    writer = psycopg.connect(url, options=options)
    for table in observer.tables:
        writer.execute(f"LOCK TABLE {table} IN ROW EXCLUSIVE MODE")
    errors: list = []
    thread = threading.Thread(target=lambda: _run_catching(conn, statement, errors))
    thread.start()
    pid = conn.info.backend_pid
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            waiting = observer.side.execute("SELECT count(*) FROM pg_locks WHERE pid = %s AND NOT granted",
                                            (pid,)).fetchone()[0]
            if waiting or not thread.is_alive():
                break
            time.sleep(0.01)
        names = {}
        for table in observer.tables:
            oid = observer.side.execute(
                "SELECT c.oid::bigint FROM pg_class c WHERE c.relname = %s AND c.relnamespace = "
                "(SELECT oid FROM pg_namespace WHERE nspname = %s)", (table, options.split("=", 1)[1])).fetchone()
            if oid:
                names[oid[0]] = table
        rows = observer.side.execute(
            "SELECT relation::bigint, mode FROM pg_locks WHERE pid = %s AND granted AND locktype = 'relation'",
            (pid,)).fetchall()
        step.after = {}
        for oid, mode in rows:
            if oid in names:
                step.after.setdefault(names[oid], set()).add(mode)
    finally:
        writer.commit()
        writer.close()
        thread.join(60)
    if errors:
        raise errors[0]
    step.relfile = (step.relfile[0], observer.relfiles(run))
    return step


def _run_catching(conn, statement, errors):
    try:
        conn.execute(statement)
    except Exception as exc:  # re-raised in the caller's thread
        errors.append(exc)


# ---------------------------------------------------------------- migration blocks


class MigrationRecorder:
    """SQLAlchemy cursor events on an engine: observe every statement the migration sends."""

    def __init__(self, observer: Observer):
        self.observer = observer
        self.steps: list[Step] = []
        self.revision: str | None = None  # set by chain runs: which revision's upgrade() is running
        self.by_revision: dict[str, list[Step]] = {}

    def attach(self, engine):
        from sqlalchemy import event

        event.listen(engine, "before_cursor_execute", self.before)
        event.listen(engine, "after_cursor_execute", self.after)

    @staticmethod
    def _raw(conn):
        raw = conn.connection.dbapi_connection

        def run(sql, params):
            with raw.cursor() as cur:
                cur.execute(sql, params)
                return cur.fetchall()
        return raw, run

    def before(self, conn, cursor, statement, parameters, context, executemany):
        raw, run = self._raw(conn)
        in_tx = not raw.autocommit
        step = Step(statement, before=self.observer.locks(raw.info.backend_pid, run), settings=self.observer.show(run))
        step.relfile = (self.observer.relfiles(run), {})
        step.scans = (self.observer.scans(run), {}) if in_tx else None
        self.steps.append(step)
        if self.revision is not None:
            self.by_revision.setdefault(self.revision, []).append(step)

    def after(self, conn, cursor, statement, parameters, context, executemany):
        raw, run = self._raw(conn)
        step = self.steps[-1]
        if not raw.autocommit:
            step.after = self.observer.locks(raw.info.backend_pid, run)
            step.scans = (step.scans[0], self.observer.scans(run))
        step.relfile = (step.relfile[0], self.observer.relfiles(run))


def observe_migration_block(block: Block, url: str) -> list[Step]:
    tables, settings = wants(claims_of(block))
    observer = Observer(url, tables, settings)
    recorder = MigrationRecorder(observer)
    try:
        run_migration(url, block, listen=recorder.attach, upgrade_only=True)
    finally:
        observer.close()
    setup = sum(len(split_sql(s.code)) for s in setup_chain(block))
    return recorder.steps[setup:]  # the setup's statements ran on the same engine first


# ---------------------------------------------------------------- the claims in the docs

CLAIMED = [b for b in ALL_BLOCKS if b.claims]
CHAINED = {b.id for b in ALL_BLOCKS if "chain" in b.attrs}


def test_the_standards_carry_claims_and_they_parse():
    kinds = {parse_claim(b, t).verb for b in CLAIMED for t in b.claims}
    assert {"takes", "under", "not-under", "rewrites", "no-rewrite", "scans", "no-scan", "setting", "sql"} <= kinds
    for block in CLAIMED:
        assert block.lang == "sql" or "migration" in block.flags, f"{block.id}: claims need a SQL or migration block"
        assert "expect-error" not in block.attrs, f"{block.id}: a failing block cannot carry claims"


@pytest.fixture(scope="module")
def claims_db(pg_server):
    return pg_server.createdb("claims")


@pytest.mark.parametrize("block", [b for b in CLAIMED if b.id not in CHAINED], ids=lambda b: b.id)
def test_claim_holds_on_postgresql(block, claims_db):
    if block.lang == "sql":
        steps = observe_sql_block(block, claims_db)
    else:
        steps = observe_migration_block(block, claims_db)
    failures = [why for why in (judge(c, steps) for c in claims_of(block)) if why]
    assert not failures, "\n".join(failures)


def test_a_false_claim_fails(claims_db):
    """The harness is not a rubber stamp: flipping each verb of a real claim makes it fail."""
    block = next(b for b in CLAIMED if b.lang == "sql" and any(" takes " in t for t in b.claims))
    steps = observe_sql_block(block, claims_db)
    flips = {"takes": "takes AccessShareLock", "under": "not-under", "not-under": "under", "rewrites": "no-rewrite",
             "no-rewrite": "rewrites", "scans": "no-scan", "no-scan": "scans"}
    for text in block.claims:
        claim = parse_claim(block, text)
        assert judge(claim, steps) is None
        if claim.verb == "takes":
            wrong = Claim(block, text, claim.n, "takes", table=claim.table,
                          mode="AccessShareLock" if claim.mode != "AccessShareLock" else "AccessExclusiveLock")
        elif claim.verb in flips:
            wrong = Claim(block, text, claim.n, flips[claim.verb], table=claim.table, mode=claim.mode)
        else:
            continue
        assert judge(wrong, steps), f"{block.id}: `{text}` also passes when flipped"


# ---------------------------------------------------------------- chains: a real `alembic upgrade head`

PROBE = "_dbagents_doc_chain_probe"
TRAILER = '''

_doc_upgrade = upgrade


def upgrade() -> None:  # added by the test: tells the observer whose statements these are
    import {probe} as probe

    probe.current = {rev!r}
    try:
        _doc_upgrade()
    finally:
        probe.current = None
'''


def chain(name: str) -> tuple[Block, list[Block]]:
    members = [b for b in ALL_BLOCKS if b.doc == PY_DOC and b.attrs.get("chain") == name]
    envs = [b for b in members if "migration" not in b.flags]
    assert len(envs) == 1, f"chain {name}: needs exactly one env.py block"
    return envs[0], [b for b in members if b is not envs[0]]


def write_project(root, env_code: str, revisions: list[Block], edit=None) -> None:
    """alembic.ini, the env.py, myapp.models (the docs' shop model: Base with the naming convention), a base
    revision made of the chain's SQL setup, then one revision per block."""
    edit = edit or (lambda block, code: code)
    (root / "alembic.ini").write_text(f"[alembic]\nscript_location = {root / 'migrations'}\n")
    (root / "migrations" / "versions").mkdir(parents=True)
    (root / "migrations" / "env.py").write_text(env_code)
    (root / "myapp").mkdir()
    (root / "myapp" / "__init__.py").write_text("")
    (root / "myapp" / "models.py").write_text(SETUPS[(PY_DOC, "shop")].code)
    base = [s for s in setup_chain(revisions[0]) if s.lang == "sql"]
    body = "".join(f"    op.execute({stmt!r})\n" for part in base for stmt in split_sql(part.code))
    (root / "migrations" / "versions" / "r0_base.py").write_text(
        f"from alembic import op\n\nrevision = 'r0'\ndown_revision = None\n\n\ndef upgrade():\n{body}\n\n"
        "def downgrade():\n    op.execute('DROP TABLE invoice, account')\n")
    for number, block in enumerate(revisions, start=1):
        code = edit(block, block.code)
        header = f"revision = 'r{number}'\ndown_revision = 'r{number - 1}'\n"
        (root / "migrations" / "versions" / f"r{number}.py").write_text(
            header + code + TRAILER.format(probe=PROBE, rev=f"r{number}"))


@dataclass
class ChainRun:
    steps: dict  # revision -> [Step]
    error: BaseException | None
    url: str


def run_chain(tmp_path, pg_server, name: str = "deploy", env_edit=None, block_edit=None, target="head") -> ChainRun:
    from alembic import command
    from alembic.config import Config
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    env, revisions = chain(name)
    env_code = env_edit(env.code) if env_edit else env.code
    write_project(tmp_path, env_code, revisions, block_edit)
    url = pg_server.createdb("chain")
    claims = [c for b in revisions for c in claims_of(b)]
    tables, settings = wants(claims)
    observer = Observer(url, tables | {"invoice", "account"}, settings | {"lock_timeout"})
    recorder = MigrationRecorder(observer)
    probe = types.ModuleType(PROBE)
    probe.current = None
    sys.modules[PROBE] = probe

    def before(*args):
        if probe.current:
            recorder.revision = probe.current
            recorder.before(*args)

    def after(*args):
        if probe.current:
            recorder.after(*args)

    event.listen(Engine, "before_cursor_execute", before)
    event.listen(Engine, "after_cursor_execute", after)
    sys.path.insert(0, str(tmp_path))
    error = None
    # a URL-encoded password ('p@ss'): the server trusts local connections, but env.py must still parse it
    host_url = url.replace("postgresql://postgres:", "postgresql+psycopg://postgres:p%40ss", 1)
    old_env = {k: v for k, v in __import__("os").environ.items() if k == "DATABASE_URL"}
    __import__("os").environ["DATABASE_URL"] = host_url
    try:
        command.upgrade(Config(str(tmp_path / "alembic.ini")), target)
    except Exception as exc:  # the tests below look at it
        error = exc
    finally:
        event.remove(Engine, "before_cursor_execute", before)
        event.remove(Engine, "after_cursor_execute", after)
        sys.path.remove(str(tmp_path))
        for module in [m for m in sys.modules if m == "myapp" or m.startswith("myapp.")]:
            del sys.modules[module]
        __import__("os").environ.pop("DATABASE_URL", None)
        __import__("os").environ.update(old_env)
        observer.close()
    return ChainRun(recorder.by_revision, error, url)


def chain_failures(run: ChainRun, name: str = "deploy") -> list[str]:
    _env, revisions = chain(name)
    out = []
    for number, block in enumerate(revisions, start=1):
        steps = run.steps.get(f"r{number}", [])
        out += [why for why in (judge(c, steps) for c in claims_of(block)) if why]
    return out


def test_chain_claims_hold_in_a_real_alembic_upgrade_of_all_pending_revisions(tmp_path, pg_server):
    import psycopg
    from alembic import command
    from alembic.config import Config

    run = run_chain(tmp_path, pg_server)
    assert run.error is None, repr(run.error)
    assert not chain_failures(run), "\n".join(chain_failures(run))
    _env, revisions = chain("deploy")
    with psycopg.connect(run.url) as conn:
        assert conn.execute("SELECT version_num FROM alembic_version").fetchone()[0] == f"r{len(revisions)}"
        # every constraint the chain added NOT VALID is validated by the end of it (DBA302)
        assert not conn.execute("SELECT conname FROM pg_constraint WHERE NOT convalidated").fetchall()
        assert conn.execute("SELECT attnotnull FROM pg_attribute WHERE attrelid = 'invoice'::regclass "
                            "AND attname = 'note'").fetchone()[0]
    # and it goes all the way down again
    import os

    os.environ["DATABASE_URL"] = run.url.replace("postgresql://", "postgresql+psycopg://", 1)
    sys.path.insert(0, str(tmp_path))
    try:
        command.downgrade(Config(str(tmp_path / "alembic.ini")), "base")
    finally:
        sys.path.remove(str(tmp_path))
        os.environ.pop("DATABASE_URL")
        for module in [m for m in sys.modules if m == "myapp" or m.startswith("myapp.")]:
            del sys.modules[module]


def test_without_transaction_per_migration_the_validating_revision_runs_under_the_previous_lock(tmp_path, pg_server):
    """Harmful point 1: `alembic upgrade head` runs every pending revision in one transaction by default."""
    run = run_chain(tmp_path, pg_server, env_edit=lambda code: _replace(code, "transaction_per_migration=True",
                                                                          "transaction_per_migration=False"))
    assert run.error is None, repr(run.error)
    failures = chain_failures(run)
    assert any("not-under AccessExclusiveLock on invoice" in f for f in failures), failures


@pytest.mark.parametrize("per_migration", [True, False])
def test_set_local_timeouts_in_env_py_do_not_survive_autocommit_block(tmp_path, pg_server, per_migration):
    """Harmful point 3: the recipe the standards used to give (SET LOCAL inside begin_transaction)."""
    def env_edit(code):
        code = _replace(code, '        connect_args={"options": "-c lock_timeout=3s -c statement_timeout=5min"},\n', "")
        code = _replace(code, "            context.run_migrations()",
                        "            connection.exec_driver_sql(\"SET LOCAL lock_timeout = '3s'\")\n"
                        "            context.run_migrations()")
        return _replace(code, "transaction_per_migration=True", f"transaction_per_migration={per_migration}")

    run = run_chain(tmp_path, pg_server, env_edit=env_edit)
    assert run.error is None, repr(run.error)
    failures = chain_failures(run)
    assert any("setting lock_timeout = 3s" in f and "'0'" in f for f in failures), failures


def test_without_op_f_the_naming_convention_renames_the_check_and_leaves_a_half_applied_revision(tmp_path, pg_server):
    """Harmful point 4: ck_%(table_name)s_%(constraint_name)s turns the name into ck_invoice_ck_invoice_...;
    the raw VALIDATE fails after autocommit_block() already committed the constraint."""
    import psycopg

    def block_edit(block, code):
        return code.replace('op.f("ck_invoice_note_not_null")', '"ck_invoice_note_not_null"')

    run = run_chain(tmp_path, pg_server, block_edit=block_edit)
    assert run.error is not None and getattr(run.error.__cause__ or run.error, "sqlstate", None) in ("42704", None)
    assert "ck_invoice_note_not_null" in str(run.error) and "does not exist" in str(run.error)
    with psycopg.connect(run.url) as conn:
        names = {r[0] for r in conn.execute("SELECT conname FROM pg_constraint WHERE conrelid = 'invoice'::regclass")}
        version = conn.execute("SELECT version_num FROM alembic_version").fetchone()[0]
    assert "ck_invoice_ck_invoice_note_not_null" in names  # committed by the autocommit block
    _env, revisions = chain("deploy")
    assert version == f"r{len(revisions) - 1}"  # ... while alembic_version says the revision never ran


def test_a_percent_in_the_database_url_needs_escaping_for_alembic_config(tmp_path, pg_server):
    run = run_chain(tmp_path, pg_server, env_edit=lambda code: _replace(code, '.replace("%", "%%")', ""))
    assert isinstance(run.error, ValueError) and "interpolation" in str(run.error)


def _replace(code: str, old: str, new: str) -> str:
    assert old in code, f"the env.py recipe no longer contains {old!r}"
    return code.replace(old, new)
