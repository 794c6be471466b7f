"""`allow_nplusone()`: a block in which lazy loads and repeated statements are not reported."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

# A plain depth counter, not a contextvar: SQLAlchemy's asyncio layer runs lazy loads in
# child greenlets, which must still see a block opened by the test coroutine. The recorder reads
# it directly on every statement (cheaper than a call).
depth = 0


def allowed() -> bool:
    """True while at least one `allow_nplusone()` block is open."""
    return depth > 0


@contextmanager
def allow_nplusone() -> Iterator[None]:
    """Allow N+1 queries inside the block (DBA401 and DBA402 skip what runs there).

    Query budgets (DBA403) still count these statements, and an async lazy load (DBA404)
    still fails: both are facts, not heuristics.
    """
    global depth
    depth += 1
    try:
        yield
    finally:
        depth -= 1
