"""Benchmark `dbagents check` on a hostile tree: it must end quickly, in bounded memory, with DBA000 notes.

    python bench/bench_hostile.py                  # a 50 MB model file, 10,000-level nesting, ...
    python bench/bench_hostile.py --size-mb 5      # smaller (the smoke test runs this)

The tree holds a generated model file of --size-mb MB (over the per-file limit: reported, not read), a
10,000-level nested expression, a 600-term string concatenation reaching text() (parses, but the analysis
is deeper than the recursion limit), a symbolic link to a file outside the tree, a folder chain --folders deep,
a .gitignore and [tool.dbagents] exclude globs that would make a backtracking matcher run for hours, and one
ordinary file with a real finding. Prints the wall time, peak memory and every DBA000 note.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import tempfile
import time
from pathlib import Path

MODEL = '''

class Thing{n}(Base):
    __tablename__ = "thing{n}"
    id: Mapped[int] = mapped_column(primary_key=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("owner.id"))
    name: Mapped[str] = mapped_column(String(100))
'''
HEAD = ("from sqlalchemy import ForeignKey, String\n"
        "from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column\n\n\nclass Base(DeclarativeBase):\n    pass\n")
BAD = "from sqlalchemy import select\nstmt = select(User).where(User.deleted_at is None)\n"
HOSTILE_GLOB = "*a" * 24 + "*b"


def build(root: Path, size_mb: float, depth: int, folders: int) -> None:
    root.mkdir(parents=True)
    with open(root / "generated_models.py", "w") as fh:
        fh.write(HEAD)
        written, n = len(HEAD), 0
        while written < size_mb * 1_000_000:
            n += 1
            chunk = MODEL.format(n=n)
            fh.write(chunk)
            written += len(chunk)
    (root / "nested.py").write_text("import sqlalchemy as sa\nx = " + " + ".join(["sa.a"] * depth) + "\n"
                                    "y = sa" + ".b" * depth + "\nz = " + "(" * depth + "1" + ")" * depth + "\n")
    (root / "concat.py").write_text("from sqlalchemy import text\nsession.execute(text("
                                    + " + ".join(['"s"'] * 600) + "))\n")
    outside = root.parent / "outside.py"
    outside.write_text('from sqlalchemy import create_engine\ne = create_engine("postgresql://u:secret@h/db")\n')
    (root / "linked.py").symlink_to(outside)
    deep = root
    for _ in range(folders):
        deep = deep / "d"
        deep.mkdir()
    (deep / "deep_query.py").write_text(BAD)
    (root / ("a" * 120 + ".py")).write_text(BAD)
    (root / ".gitignore").write_text(f"{HOSTILE_GLOB}\n**/a/**/a/**/a/**/a/**/a/**/b\n")
    (root / "pyproject.toml").write_text(f'[tool.dbagents]\nexclude = ["{HOSTILE_GLOB}"]\n'
                                         f'[tool.dbagents.per-file-ignores]\n"{HOSTILE_GLOB}" = ["DBA114"]\n')


def remove_deep(top: Path) -> None:
    """shutil.rmtree recurses once per folder level: take the 1,200-deep chain apart bottom-up first."""
    chain = [top]
    while (chain[-1] / "d").is_dir():
        chain.append(chain[-1] / "d")
    for folder in reversed(chain[1:]):
        for entry in folder.iterdir():
            if entry.is_file():
                entry.unlink()
        folder.rmdir()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=float, default=50.0, help="size of the generated model file")
    parser.add_argument("--depth", type=int, default=10_000, help="nesting of the deep expressions")
    parser.add_argument("--folders", type=int, default=1200, help="depth of the nested folder chain")
    parser.add_argument("--jobs", type=int, default=None)
    args = parser.parse_args()

    from dbagents.check.engine import check_tree
    from dbagents.check.registry import selected_ids
    from dbagents.config import load_config

    tmp = Path(tempfile.mkdtemp(prefix="dbagents-hostile-"))
    try:
        root = tmp / "tree"
        build(root, args.size_mb, args.depth, args.folders)
        size = (root / "generated_models.py").stat().st_size
        start = time.perf_counter()
        outcome = check_tree([root], root=root, config=load_config(root), enabled=selected_ids([], [], []),
                             jobs=args.jobs, use_cache=False)
        elapsed = time.perf_counter() - start
        peak_self = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        peak_children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        print(f"hostile tree: {size / 1e6:.1f} MB model file, nesting {args.depth}, {outcome.files_seen} files")
        print(f"check time: {elapsed:.2f} s")
        print(f"peak memory: main {peak_self:.0f} MB, largest worker {peak_children:.0f} MB")
        for f in outcome.findings:
            if f.rule_id == "DBA000":
                print(f"DBA000 {f.path[:60]}: {f.message}")
        others = sorted({(f.rule_id, f.path[-20:]) for f in outcome.findings if f.rule_id != "DBA000"})
        print(f"other findings: {others}")
    finally:
        remove_deep(tmp / "tree")
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
