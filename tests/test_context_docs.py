"""The two context docs: structure, rule coverage, and every code block run for real.

Code-block convention (documented at the top of python-sqlalchemy-standards.mdc):

- ```` ```python ```` / ```` ```sql ```` followed by space-separated words on the fence line:
  - ``setup=NAME``  defines a setup other blocks can build on (it is tested like any other block);
  - ``needs=NAME``  runs the setup NAME first (same Python module / same SQL transaction);
  - ``migration``   (python) an Alembic revision: ``upgrade()`` then ``downgrade()`` run on a fresh database;
  - ``compile-only`` (python) needs packages or servers outside the doc: compiled, not executed;
  - ``no-transaction`` (sql) statements that PostgreSQL refuses in a transaction (CONCURRENTLY ...): each runs
    in autocommit on a fresh database;
  - ``expect-error=SQLSTATE`` the block must fail with exactly that SQLSTATE (a bad example PostgreSQL rejects);
  - ``chain=NAME``  (python) the env.py and the revisions with the same chain name, in document order, form one real
    Alembic project that tests/test_context_claims.py runs with ``alembic upgrade head`` (all revisions pending).
- ``<!-- expect: N VERB ... -->`` lines right after a block's closing fence are claims about statement N of the block
  (the block's own SQL statements, or the SQL a migration's ``upgrade()`` sends). tests/test_context_claims.py
  observes them on PostgreSQL (see CLAIM_SYNTAX there).
- Python blocks are compiled; the others are executed in a fresh module, and every MetaData they define
  (declarative bases included) is created with ``metadata.create_all`` on real PostgreSQL inside a transaction
  that is rolled back. SQL blocks run statement by statement in a rolled-back transaction.
"""

from __future__ import annotations

import itertools
import re
import sys
import types
from dataclasses import dataclass, field
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DOCS_DIR = REPO / ".claude" / "context" / "database"
PY_DOC = DOCS_DIR / "python-sqlalchemy-standards.mdc"
PG_DOC = DOCS_DIR / "postgresql-standards.mdc"
DOCS = (PY_DOC, PG_DOC)

# Every rule id of the check catalog (../shared/spec/check-catalog.md), kept here so CI needs no outside file.
CATALOG_IDS = (
    [f"DBA1{n:02d}" for n in range(1, 17)]
    + [f"DBA2{n:02d}" for n in range(1, 19)]
    + [f"DBA3{n:02d}" for n in range(1, 12)]
    + [f"DBA4{n:02d}" for n in range(1, 7)]
    + [f"DBA5{n:02d}" for n in range(1, 8)]
)
# The team's shared spec folder sits beside the checkout (CI lays a copy there too).
CATALOG_FILE = Path(__file__).resolve().parents[2] / "shared" / "spec" / "check-catalog.md"
# Rules added after that catalog (new ids; the catalog's ids and meanings stay as they are).
ADDED_IDS = ["DBA219"]

KNOWN_FLAGS = {"python": {"migration", "compile-only"}, "sql": {"no-transaction"}}
KNOWN_KEYS = {"setup", "needs", "expect-error", "chain"}
CLAIM_LINE = re.compile(r"^<!-- expect: (.+) -->$")
RULE_HEADING = re.compile(r"^## (DBA\d{3}) \S")


@dataclass
class Block:
    doc: Path
    line: int  # 1-based line of the opening fence
    lang: str
    code: str
    flags: set = field(default_factory=set)
    attrs: dict = field(default_factory=dict)
    rule: str | None = None  # the DBA id of the section the block is in
    claims: list = field(default_factory=list)  # the text of each `<!-- expect: ... -->` after the block
    end: int = 0  # 1-based line of the closing fence

    @property
    def id(self) -> str:
        return f"{self.doc.stem}:{self.line}"


def parse_blocks(doc: Path) -> list[Block]:
    blocks, rule, fence, last = [], None, None, None
    for number, line in enumerate(doc.read_text(encoding="utf-8").splitlines(), start=1):
        claim = CLAIM_LINE.match(line) if fence is None else None
        if claim and last is not None and number == last.end + 1 + len(last.claims):
            last.claims.append(claim.group(1))
            continue
        assert fence is not None or not line.startswith("<!-- expect"), f"{doc.name}:{number}: claim not after a block"
        if fence is None:
            heading = RULE_HEADING.match(line)
            if heading:
                rule = heading.group(1)
            elif line.startswith("# "):
                rule = None
            elif line.startswith("```"):
                words = line[3:].split()
                fence = Block(doc, number, words[0] if words else "", "", rule=rule)
                for word in words[1:]:
                    key, eq, value = word.partition("=")
                    if eq:
                        fence.attrs[key] = value
                    else:
                        fence.flags.add(word)
                body = []
        elif line.startswith("```"):
            fence.code = "\n".join(body) + "\n"
            fence.end = number
            blocks.append(fence)
            fence, last = None, fence
        else:
            body.append(line)
    assert fence is None, f"{doc.name}:{fence.line}: code block never closed"
    return blocks


ALL_BLOCKS = [b for doc in DOCS for b in parse_blocks(doc)]
PY_BLOCKS = [b for b in ALL_BLOCKS if b.lang == "python"]
SQL_BLOCKS = [b for b in ALL_BLOCKS if b.lang == "sql"]
SETUPS = {(b.doc, b.attrs["setup"]): b for b in ALL_BLOCKS if "setup" in b.attrs}


def setup_chain(block: Block) -> list[Block]:
    """The setup blocks `block` needs, outermost first."""
    chain, seen = [], set()
    while "needs" in block.attrs:
        name = block.attrs["needs"]
        assert name not in seen, f"{block.id}: setup cycle through {name}"
        seen.add(name)
        block = SETUPS[(block.doc, name)]
        chain.insert(0, block)
    return chain


# ---------------------------------------------------------------- structure and coverage


@pytest.mark.parametrize("doc", DOCS, ids=lambda d: d.name)
def test_frontmatter_has_description_and_globs(doc):
    import yaml

    text = doc.read_text(encoding="utf-8")
    assert text.startswith("---\n")
    front = yaml.safe_load(text.split("---\n", 2)[1])
    assert isinstance(front.get("description"), str) and len(front["description"]) > 20
    assert front.get("globs")


def rule_sections(doc: Path) -> dict[str, str]:
    sections, current, in_fence = {}, None, False
    for line in doc.read_text(encoding="utf-8").splitlines():
        heading = None if in_fence else RULE_HEADING.match(line)
        if line.startswith("```"):
            in_fence = not in_fence
        if in_fence or line.startswith("```"):
            if current:
                sections[current] += line + "\n"
            continue
        if heading:
            current = heading.group(1)
            assert current not in sections, f"{doc.name}: {current} appears twice"
            sections[current] = ""
        elif line.startswith("# ") or line.startswith("## "):
            current = None
        elif current:
            sections[current] += line + "\n"
    return sections


@pytest.mark.parametrize("doc", DOCS, ids=lambda d: d.name)
def test_every_rule_section_has_why_bad_and_good(doc):
    sections = rule_sections(doc)
    assert len(sections) >= 10
    for rule, body in sections.items():
        why = body.split("**Bad**")[0]
        prose = re.sub(r"```.*?```", "", why, flags=re.S).strip()
        assert len(prose) >= 200, f"{doc.name} {rule}: the why paragraph is missing or too short"
        bad = re.search(r"\*\*Bad\*\*\n```(python|sql)", body)
        good = re.search(r"\*\*Good\*\*\n```(python|sql)", body)
        assert bad and good, f"{doc.name} {rule}: needs a **Bad** and a **Good** code block"
        assert bad.start() < good.start(), f"{doc.name} {rule}: bad example comes first"


def test_every_catalog_rule_is_documented():
    py, pg = rule_sections(PY_DOC), rule_sections(PG_DOC)
    assert set(py) | set(pg) == set(CATALOG_IDS) | set(ADDED_IDS)
    # the split the agents rely on
    assert {r for r in CATALOG_IDS if r[3] in "124"} <= set(py)
    assert {r for r in CATALOG_IDS if r[3] == "3"} <= set(pg)
    assert {"DBA501", "DBA502", "DBA505"} <= set(py) and {"DBA504", "DBA507"} <= set(pg)


def test_catalog_constant_matches_the_shared_catalog():
    if not CATALOG_FILE.exists():
        pytest.skip("the shared spec folder is not part of this checkout")
    ids = sorted(set(re.findall(r"^\| (DBA\d{3})", CATALOG_FILE.read_text(), flags=re.M)))
    assert ids == sorted(CATALOG_IDS)


def test_block_convention_is_used_correctly():
    assert PY_BLOCKS and SQL_BLOCKS
    for block in ALL_BLOCKS:
        assert block.lang in {"python", "sql", ""}, f"{block.id}: unexpected language {block.lang!r}"
        if not block.lang:
            assert not block.flags and not block.attrs
            continue
        assert block.flags <= KNOWN_FLAGS[block.lang], f"{block.id}: unknown flag {block.flags}"
        assert set(block.attrs) <= KNOWN_KEYS, f"{block.id}: unknown attribute {block.attrs}"
        if "needs" in block.attrs:
            assert (block.doc, block.attrs["needs"]) in SETUPS, f"{block.id}: no setup {block.attrs['needs']}"
            setup_chain(block)
        if "expect-error" in block.attrs:
            assert re.fullmatch(r"[0-9A-Z]{5}", block.attrs["expect-error"]), f"{block.id}: SQLSTATE"
            assert block.lang == "sql" or "migration" in block.flags
        if "migration" in block.flags:
            ns = {}
            assert "def upgrade()" in block.code and "def downgrade()" in block.code, block.id
    names = [(b.doc, b.attrs["setup"]) for b in ALL_BLOCKS if "setup" in b.attrs]
    assert len(names) == len(set(names)), "setup names must be unique within a doc"


# ---------------------------------------------------------------- Python blocks


@pytest.mark.parametrize("block", PY_BLOCKS, ids=lambda b: b.id)
def test_python_block_compiles(block):
    compile(block.code, block.id, "exec")


_module_ids = itertools.count()


def exec_in_module(blocks: list[Block]) -> types.ModuleType:
    """Execute blocks in order in one fresh, importable module (SQLAlchemy resolves annotations there)."""
    module = types.ModuleType(f"_dbagents_docblock_{next(_module_ids)}")
    sys.modules[module.__name__] = module
    for block in blocks:
        exec(compile(block.code, block.id, "exec"), module.__dict__)
    return module


def metadatas(module: types.ModuleType) -> list:
    from sqlalchemy import MetaData
    found = []
    for value in list(vars(module).values()):
        if isinstance(value, MetaData):
            found.append(value)
        elif isinstance(value, type) and isinstance(getattr(value, "metadata", None), MetaData):
            found.append(value.metadata)  # DeclarativeBase subclasses and legacy declarative_base() classes
    unique = []
    for md in found:
        if all(md is not other for other in unique):
            unique.append(md)
    return unique


@pytest.fixture(scope="module")
def docs_db(pg_server):
    """One database for the rolled-back model and SQL blocks."""
    return pg_server.createdb("docs")


@pytest.fixture(scope="module")
def docs_engine(docs_db):
    from sqlalchemy import create_engine

    engine = create_engine(docs_db.replace("postgresql://", "postgresql+psycopg://", 1))
    yield engine
    engine.dispose()


RUNNABLE_PY = [b for b in PY_BLOCKS if "compile-only" not in b.flags and "migration" not in b.flags]


@pytest.mark.parametrize("block", RUNNABLE_PY, ids=lambda b: b.id)
def test_python_block_runs_and_its_models_build_on_postgresql(block, docs_engine):
    module = exec_in_module(setup_chain(block) + [block])
    created = 0
    with docs_engine.connect() as conn:
        trans = conn.begin()
        try:
            for md in metadatas(module):
                md.create_all(conn)
                created += len(md.tables)
        finally:
            trans.rollback()
    if "__tablename__" in block.code or "Table(" in block.code:
        assert created, f"{block.id} defines models but no table was built"


def test_model_blocks_really_reach_postgresql(docs_engine):
    """A guard on the harness itself: a broken model example must fail, not pass silently."""
    from sqlalchemy.exc import ProgrammingError

    bad = Block(PY_DOC, 0, "python", (
        "from sqlalchemy import Column, Integer, MetaData, Table, text\n"
        "metadata = MetaData()\n"
        "t = Table('t_guard', metadata, Column('id', Integer, primary_key=True,"
        " server_default=text('no_such_function()')))\n"
    ))
    module = exec_in_module([bad])
    with docs_engine.connect() as conn, pytest.raises(ProgrammingError):
        trans = conn.begin()
        try:
            for md in metadatas(module):
                md.create_all(conn)
        finally:
            trans.rollback()


MIGRATIONS = [b for b in PY_BLOCKS if "migration" in b.flags]


def sqlstate_of(exc) -> str | None:
    for candidate in (exc, getattr(exc, "orig", None), exc.__cause__, exc.__context__):
        state = getattr(candidate, "sqlstate", None)
        if state:
            return state
    return None


_schema_ids = itertools.count()


class scratch_schema:
    """A fresh schema in the docs database, first on the search_path of every connection opened with `options`;
    dropped afterwards. Cheaper than a database per block, and isolated the same way for these examples."""

    def __init__(self, url: str):
        self.url = url
        self.name = f"blk_{next(_schema_ids)}"
        self.options = f"-c search_path={self.name}"

    def __enter__(self):
        import psycopg

        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(f"CREATE SCHEMA {self.name}")
        return self

    def __exit__(self, *exc):
        import psycopg

        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {self.name} CASCADE")
        return False


def chain_before(block: Block) -> list[Block]:
    """The migration blocks of the same `chain=` that come before `block` in its document."""
    chain = block.attrs.get("chain")
    if not chain or "migration" not in block.flags:
        return []
    return [b for b in MIGRATIONS if b.doc == block.doc and b.attrs.get("chain") == chain and b.line < block.line]


def bundle_metadata():
    """A MetaData with the naming convention the standards recommend (the `shop` setup's NAMING): migrations run
    with it as `target_metadata`, as they do in a project whose env.py follows the standards."""
    from sqlalchemy import MetaData

    module = exec_in_module([SETUPS[(PY_DOC, "shop")]])
    return MetaData(naming_convention=module.NAMING)


def run_migration(url: str, block: Block, listen=None, upgrade_only: bool = False):
    """upgrade() then downgrade() of a migration block in a fresh schema; `listen(engine)` may hook the engine."""
    from alembic.migration import MigrationContext
    from alembic.operations import Operations
    from sqlalchemy import create_engine

    with scratch_schema(url) as schema:
        engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1),
                               connect_args={"options": schema.options})
        if listen is not None:
            listen(engine)
        try:
            with engine.connect() as conn:
                for setup in setup_chain(block):
                    assert setup.lang == "sql", f"{block.id}: migration setups are SQL blocks"
                    for statement in split_sql(setup.code):
                        conn.exec_driver_sql(statement)
                for earlier in chain_before(block):  # a chained revision builds on the revisions before it
                    earlier_ctx = MigrationContext.configure(conn, opts={"target_metadata": bundle_metadata()})
                    with Operations.context(earlier_ctx), earlier_ctx.begin_transaction():
                        exec_in_module([earlier]).upgrade()
                conn.commit()
                module = exec_in_module([block])
                ctx = MigrationContext.configure(conn, opts={"target_metadata": bundle_metadata()})
                with Operations.context(ctx):
                    with ctx.begin_transaction():
                        module.upgrade()
                    if not upgrade_only:
                        with ctx.begin_transaction():
                            module.downgrade()
                conn.commit()
        finally:
            engine.dispose()


@pytest.mark.parametrize("block", MIGRATIONS, ids=lambda b: b.id)
def test_migration_block_upgrades_and_downgrades_on_postgresql(block, docs_db):
    url = docs_db
    expected = block.attrs.get("expect-error")
    if expected:
        with pytest.raises(Exception) as info:
            run_migration(url, block)
        assert sqlstate_of(info.value) == expected, f"{block.id}: failed differently: {info.value}"
    else:
        run_migration(url, block)


# ---------------------------------------------------------------- SQL blocks


def split_sql(sql: str) -> list[str]:
    """Split on top-level semicolons, respecting quotes, dollar quotes and comments."""
    statements, current, i, n = [], [], 0, len(sql)
    while i < n:
        ch = sql[i]
        if sql.startswith("--", i):
            end = sql.find("\n", i)
            end = n if end == -1 else end
            current.append(sql[i:end])
            i = end
            continue
        if sql.startswith("/*", i):
            end = sql.find("*/", i + 2)
            end = n if end == -1 else end + 2
            current.append(sql[i:end])
            i = end
            continue
        if ch in "'\"":
            end = i + 1
            while end < n:
                if sql[end] == ch and sql[end + 1 : end + 2] == ch:
                    end += 2
                    continue
                if sql[end] == ch:
                    break
                end += 1
            current.append(sql[i : end + 1])
            i = end + 1
            continue
        dollar = re.match(r"\$([A-Za-z_]\w*)?\$", sql[i:])
        if dollar:
            tag = dollar.group(0)
            end = sql.find(tag, i + len(tag))
            end = n if end == -1 else end + len(tag)
            current.append(sql[i:end])
            i = end
            continue
        if ch == ";":
            statements.append("".join(current).strip())
            current = []
        else:
            current.append(ch)
        i += 1
    statements.append("".join(current).strip())
    return [s for s in statements if s and not all(l.strip().startswith("--") or not l.strip() for l in s.splitlines())]


def test_split_sql_handles_quotes_dollar_bodies_and_comments():
    sql = (
        "SELECT ';' AS a; -- one; two\n"
        "CREATE FUNCTION f() RETURNS int LANGUAGE sql AS $$ SELECT 1; $$;\n"
        "/* c; */ SELECT 'it''s';\n-- only a comment;\n"
    )
    assert split_sql(sql) == [
        "SELECT ';' AS a",
        "-- one; two\nCREATE FUNCTION f() RETURNS int LANGUAGE sql AS $$ SELECT 1; $$",
        "/* c; */ SELECT 'it''s'",
    ]


def run_sql_block(block: Block, docs_db: str, pg_server):
    import psycopg

    setups = setup_chain(block)
    if "no-transaction" in block.flags:
        with scratch_schema(docs_db) as schema, psycopg.connect(docs_db, autocommit=True, options=schema.options) as conn:
            for part in setups + [block]:
                for statement in split_sql(part.code):
                    conn.execute(statement)
        return
    with psycopg.connect(docs_db) as conn:
        try:
            for part in setups + [block]:
                for statement in split_sql(part.code):
                    conn.execute(statement)
        finally:
            conn.rollback()


@pytest.mark.parametrize("block", SQL_BLOCKS, ids=lambda b: b.id)
def test_sql_block_runs_on_postgresql(block, docs_db, pg_server):
    import psycopg

    assert split_sql(block.code), f"{block.id} is empty"
    expected = block.attrs.get("expect-error")
    if expected:
        with pytest.raises(psycopg.Error) as info:
            run_sql_block(block, docs_db, pg_server)
        assert info.value.sqlstate == expected, f"{block.id}: failed differently: {info.value}"
    else:
        run_sql_block(block, docs_db, pg_server)


def test_sql_harness_rejects_invalid_sql(docs_db, pg_server):
    import psycopg

    bad = Block(PG_DOC, 0, "sql", "CREATE TABLE t_guard (id bigint PRIMARY KEY);\nSELEC 1;\n")
    with pytest.raises(psycopg.errors.SyntaxError):
        run_sql_block(bad, docs_db, pg_server)
