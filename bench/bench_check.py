"""Benchmark `dbagents check` against a bare read + ast.parse of the same tree, in one process and one run.

    python bench/bench_check.py [TREE]        # default: a generated tree of ~600k lines

Prints the medians of --repeat interleaved runs: bare parse time, cold check time and ratio (goal <= 0.5x),
cached re-run time and ratio (goal <= 0.1x), and peak memory (goal < 1 GB).
"""

from __future__ import annotations

import argparse
import ast
import gc
import os
import random
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path
from statistics import median

MODEL = '''
from datetime import datetime
from sqlalchemy import ForeignKey, String, DateTime, select
from sqlalchemy.orm import Mapped, mapped_column, relationship
from .base import Base


class Thing{n}(Base):
    __tablename__ = "thing{n}"
    id: Mapped[int] = mapped_column(primary_key=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("owner.id"))
    name: Mapped[str] = mapped_column(String(100))
    created: Mapped[datetime] = mapped_column(DateTime)
    owner: Mapped["Owner"] = relationship(back_populates="things{n}")


async def list_things{n}(session):
    rows = await session.scalars(select(Thing{n}).where(Thing{n}.name == "x"))
    return [r.owner for r in rows]
'''

MIGRATION = '''
"""rev {n}"""
from alembic import op
import sqlalchemy as sa

revision = "r{n:06d}"
down_revision = {down}


def upgrade():
    op.add_column("thing{n}", sa.Column("flag", sa.Boolean(), nullable=False))
    op.create_index("ix_thing{n}_flag", "thing{n}", ["flag"])


def downgrade():
    op.drop_index("ix_thing{n}_flag", "thing{n}")
    op.drop_column("thing{n}", "flag")
'''

PLAIN = '''
import json
import logging

log = logging.getLogger(__name__)


class Handler{n}:
    """Plain application code that never touches the database."""

    def __init__(self, config):
        self.config = config
        self.items = []

    def handle(self, payload: dict) -> dict:
        result = {{}}
        for key, value in payload.items():
            if isinstance(value, (list, tuple)):
                result[key] = [self.transform(v) for v in value]
            elif value is None:
                continue
            else:
                result[key] = self.transform(value)
        log.debug("handled %s", json.dumps(result))
        return result

    def transform(self, value):
        if isinstance(value, str):
            return value.strip().lower()
        if isinstance(value, (int, float)):
            return value * 2
        return value
'''


def generate(root: Path, target_lines: int) -> None:
    rnd = random.Random(7)
    (root / "app" / "models").mkdir(parents=True)
    (root / "app" / "services").mkdir(parents=True)
    (root / "migrations" / "versions").mkdir(parents=True)
    (root / "app" / "models" / "base.py").write_text(
        "from sqlalchemy.orm import DeclarativeBase\n\n\nclass Base(DeclarativeBase):\n    pass\n"
    )
    (root / "alembic.ini").write_text("[alembic]\nscript_location = migrations\n")
    lines = 0
    n = 0
    down = "None"
    while lines < target_lines:
        n += 1
        kind = rnd.random()
        if kind < 0.10:
            text = MODEL.format(n=n)
            path = root / "app" / "models" / f"thing{n}.py"
        elif kind < 0.15:
            text = MIGRATION.format(n=n, down=down)
            down = f'"r{n:06d}"'
            path = root / "migrations" / "versions" / f"r{n:06d}.py"
        else:
            text = PLAIN.format(n=n) * 4
            path = root / "app" / "services" / f"handler{n}.py"
        path.write_text(text)
        lines += text.count("\n")


def bare_parse(root: Path) -> tuple[float, int, int]:
    start = time.perf_counter()
    files = lines = 0
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if not d.startswith(".") and d not in ("node_modules", "__pycache__")]
        for name in filenames:
            if name.endswith(".py"):
                path = os.path.join(dirpath, name)
                with open(path, "rb") as fh:
                    data = fh.read()
                try:
                    ast.parse(data)
                except (SyntaxError, ValueError):
                    pass
                files += 1
                lines += data.count(b"\n")
    return time.perf_counter() - start, files, lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("tree", nargs="?", help="folder to check (default: generate ~600k lines)")
    parser.add_argument("--lines", type=int, default=600_000)
    parser.add_argument("--repeat", type=int, default=3, help="interleaved runs; medians are printed")
    args = parser.parse_args()

    from dbagents.check import cache as result_cache
    from dbagents.check.engine import check_tree
    from dbagents.check.registry import selected_ids
    from dbagents.config import Config

    tmp = None
    cache_home = tempfile.mkdtemp(prefix="dbagents-bench-cache-")  # the user's own cache stays untouched
    os.environ[result_cache.ENV_VAR] = cache_home
    if args.tree:
        root = Path(args.tree).resolve()
    else:
        tmp = Path(tempfile.mkdtemp(prefix="dbagents-bench-"))
        root = tmp / "tree"
        generate(root, args.lines)
    try:
        enabled = selected_ids([], [], [])
        bares, colds, warms = [], [], []
        for _ in range(args.repeat):  # interleaved, so a busy moment of the machine hits all three alike
            gc.collect()  # nothing of the previous repetition is left for the collector to walk
            bare, files, lines = bare_parse(root)
            result_cache.clear(root)
            gc.collect()
            start = time.perf_counter()
            cold = check_tree([root], root=root, config=Config(), enabled=enabled, use_cache=True)
            cold_t = time.perf_counter() - start
            gc.collect()
            start = time.perf_counter()
            warm = check_tree([root], root=root, config=Config(), enabled=enabled, use_cache=True)
            warm_t = time.perf_counter() - start
            assert sorted(cold.findings) == sorted(warm.findings), "cached run differs from cold run"
            parsed, found = cold.files_parsed, len(cold.findings)
            del cold, warm
            bares.append(bare)
            colds.append(cold_t)
            warms.append(warm_t)
        bare, cold_t, warm_t = median(bares), median(colds), median(warms)
        peak_self = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        peak_children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        print(f"tree: {root} ({files} .py files, {lines:,} lines; {parsed} parsed by dbagents)")
        print(f"medians of {args.repeat} interleaved runs")
        print(f"bare read + ast.parse : {bare:7.2f} s")
        print(f"dbagents check (cold) : {cold_t:7.2f} s  ratio {cold_t / bare:.2f}x  (goal <= 0.5x)")
        print(f"dbagents check (cache): {warm_t:7.2f} s  ratio {warm_t / bare:.2f}x  (goal <= 0.1x)")
        print(f"findings: {found}; cores: {os.cpu_count()}; python {sys.version.split()[0]}")
        print(f"peak memory: main {peak_self:.0f} MB, largest worker {peak_children:.0f} MB  (goal < 1024 MB)")
    finally:
        shutil.rmtree(cache_home, ignore_errors=True)
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
