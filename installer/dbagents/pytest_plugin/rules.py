"""Metadata for the runtime rules (DBA4xx) that the pytest plugin reports; data only."""

from __future__ import annotations

from dbagents.findings import RuleInfo, Severity
from dbagents.reporting.sarif import INFO_URI

# The README section that documents the plugin and these rules.
HELP_URI = f"{INFO_URI}#runtime-n1-detection-pytest-plugin"

_DBA401_HELP = """\
## What it does
While your tests run, watches SQLAlchemy lazy loads. It reports a relationship (`Model.attr`) that was
lazy-loaded for two or more objects that came from **one** multi-row query result, at the same line of
your code. Objects reached from that result through lazy or eager loads belong to it too (the posts of
all users of one query). Objects fetched alone (`session.get()`, `.one()`, `scalar_one()`) are not
counted.

The finding sits at the innermost frame of your project (under the pytest rootdir, not in
site-packages, a virtualenv, the standard library or a `dbagents_nplusone_library_paths` entry). It
names the query that loaded the rows and where it ran, and the library frame that touched the
attribute (`pydantic/main.py` inside `model_validate`) with the project line that called it. Each test
it happened in is listed with its own count.

When the relationship had been loaded eagerly with its owners (a `selectinload`/`joinedload` option,
or `lazy="selectin"` on the mapping) and is lazy-loaded anyway, it was expired in between
(`commit()` with the default `expire_on_commit=True`, `expire()`, `refresh()`); the finding says so
and gives the fix for that case.

## Why is this bad?
Each lazy load is one more round trip: a loop over 100 rows that touches `user.posts` runs 101 queries
instead of 1 or 2 (the "N+1" problem). It is invisible in small test data and slow in production.

## Example
```python
users = session.scalars(select(User)).all()
for user in users:
    print(len(user.posts))      # one SELECT per user
```

## Fix
Load the relationship with the query that produced the objects:
```python
users = session.scalars(select(User).options(selectinload(User.posts))).all()
```
Use `joinedload` for many-to-one, `selectinload` for collections, and `raiseload("*")` (or
`lazy="raise"`) to make every remaining lazy load an error.

If the attribute was eager-loaded and then expired by a commit:
```python
recipes = session.scalars(select(Recipe).options(selectinload(Recipe.tags))).all()
session.commit()                       # expires every loaded attribute
return [RecipeOut.model_validate(r) for r in recipes]   # one SELECT per recipe
```
serialize before the commit, re-run the query after it (with
`.execution_options(populate_existing=True)` for objects already in the session), or create the
session with `expire_on_commit=False`. If the N+1 is intended, list the
attribute in the `dbagents_nplusone_allow` ini option or wrap the block in
`dbagents.pytest_plugin.allow_nplusone()`.
"""

_DBA402_HELP = """\
## What it does
Fingerprints every SQL statement sent to the database during a test (literals, bound parameters and
`IN (...)`/`VALUES` lists folded, whitespace normalized) and reports a fingerprint executed N or more
times (`dbagents_repeat_threshold`, default 5) **from one call site**: the same chain of project
frames and lines, which is what a loop or a comprehension produces. The same function called from
six different lines of a test is six call sites, and so are six requests a test sends from six lines
through a test client (the test's own line is part of the chain). Lazy relationship loads are left to
DBA401; the selectin/subquery loads a query sends for its objects repeat exactly when that query does
and are not counted apart from it; a statement that one flush sends once per row (SQLAlchemy's unit of
work) counts once for that flush. The finding names the loops around it, innermost first: the
`for`/`while` loops and comprehensions around each project frame's line (a loop nested in another of
the same function names both). A loop in test code (the test's module, a
`conftest.py`, `test_*.py`/`*_test.py` files, a `tests/` folder) is the test's own repetition, seeding data
or calling an endpoint N times, and is not reported; when such a loop calls a project loop, that loop is
reported only if it runs the statement N times in one pass (one call), not N times over the test's
iterations. Never counted: transaction control and savepoints, DDL
(`CREATE`, `ALTER`, `DROP`, ...), settings (`SET`, `SHOW`, `PRAGMA`) and schema reflection
(`information_schema`, `pg_catalog`, `sqlite_master`, as `inspect()` and Alembic send them), and
Alembic's `alembic_version` updates.

## Why is this bad?
The same statement in a loop is the N+1 pattern in Core or raw SQL, where the ORM hook cannot see it:
N round trips where one set-based query would do.

## Example
```python
for user_id in user_ids:
    conn.execute(text("SELECT * FROM orders WHERE user_id = :id"), {"id": user_id})
```

## Fix
Query once for all keys: `WHERE user_id IN (...)` (`column.in_(ids)`), a join, or `executemany` for
writes. Polling or retry loops that really must repeat can run inside `allow_nplusone()`.
"""

_DBA403_HELP = """\
## What it does
Counts the SQL statements a test executes (test body only, not fixtures; transaction control is not
counted) and fails the test when it exceeds the budget set with
`@pytest.mark.dbagents_max_queries(n)`. The failure lists every statement.

## Why is this bad?
A query-count regression (a new lazy load, a loop, a missing eager option) makes an endpoint slower
long before anyone notices; a budget turns it into a failing test in the pull request that caused it.

## Example
```python
@pytest.mark.dbagents_max_queries(2)
def test_list_orders(session):
    list_orders(session)        # 7 statements now: the test fails and shows them
```

## Fix
Remove the extra queries (eager loading, set-based queries), or raise the budget if the new queries
are intended.
"""

_DBA404_HELP = """\
## What it does
Reports a lazy load attempted on an object that belongs to an `AsyncSession` outside of SQLAlchemy's
greenlet context: the access that raises `sqlalchemy.exc.MissingGreenlet`. The finding names the
attribute (`Model.attr`) and your line.

## Why is this bad?
Under asyncio, implicit IO on attribute access is not possible; the attribute access crashes at run
time, often only on a code path the tests barely cover.

## Example
```python
async with AsyncSession(engine) as session:
    user = (await session.scalars(select(User))).first()
    user.posts                  # MissingGreenlet
```

## Fix
Load it eagerly (`.options(selectinload(User.posts))`), await it explicitly
(`await user.awaitable_attrs.posts` with the `AsyncAttrs` mixin, or
`await session.refresh(user, ["posts"])`), or set `lazy="raise"` on the relationship so the mistake
shows up at once.
"""

RUNTIME_RULES: dict[str, RuleInfo] = {
    info.id: info
    for info in (
        RuleInfo(
            "DBA401",
            "n-plus-one-lazy-load",
            "A relationship is lazy-loaded once per row of one query result (N+1).",
            Severity.WARNING,
            _DBA401_HELP,
            HELP_URI,
        ),
        RuleInfo(
            "DBA402",
            "repeated-statement",
            "One normalized SQL statement runs N or more times from one call site (a loop) in one test.",
            Severity.WARNING,
            _DBA402_HELP,
            HELP_URI,
        ),
        RuleInfo(
            "DBA403",
            "query-budget-exceeded",
            "A test runs more SQL statements than its dbagents_max_queries budget.",
            Severity.ERROR,
            _DBA403_HELP,
            HELP_URI,
        ),
        RuleInfo(
            "DBA404",
            "async-lazy-load",
            "A lazy load is attempted under an AsyncSession (MissingGreenlet).",
            Severity.ERROR,
            _DBA404_HELP,
            HELP_URI,
        ),
    )
}
