"""Time `dbagents check --fix` against the cold check it builds on (goal: at most 2x the cold check).

    python bench/bench_fix.py /src/polar [--repeat 3] [--unsafe-fixes]

On a copy of TREE (the original is never touched), with a private cache, each round times:
- cold check: `dbagents check --no-cache`;
- cold --diff: the same check, then every fix computed (libcst parses the files with fixable findings, the loop
  re-checks the fixed text in memory), nothing written;
- cold --fix: the same on a fresh copy, writing the files.
Prints the median of each and the ratio to the cold check.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def timed(args: list[str], cwd: Path, env: dict) -> tuple[float, subprocess.CompletedProcess]:
    start = time.perf_counter()
    out = subprocess.run([sys.executable, "-m", "dbagents", "check", "--no-cache", "--no-baseline", *args, "."],
                         cwd=cwd, env=env, text=True, capture_output=True)
    elapsed = time.perf_counter() - start
    if out.returncode not in (0, 1):
        raise SystemExit(f"dbagents check {' '.join(args)} failed: {out.stderr.strip()}")
    return elapsed, out


def fresh_copy(tree: Path, work: Path) -> Path:
    project = work / "project"
    if project.exists():
        shutil.rmtree(project)
    shutil.copytree(tree, project, symlinks=True, ignore=shutil.ignore_patterns(".git", "node_modules"))
    return project


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("tree", type=Path, help="project to copy and fix")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--unsafe-fixes", action="store_true", help="time --fix --unsafe-fixes")
    opts = parser.parse_args()
    unsafe = ["--unsafe-fixes"] if opts.unsafe_fixes else []
    work = Path(tempfile.mkdtemp(prefix="dbagents-bench-fix-"))
    env = {**os.environ, "DBAGENTS_CACHE_DIR": str(work / "cache")}
    env.pop("DATABASE_URL", None)
    times: dict[str, list[float]] = {"check": [], "diff": [], "fix": []}
    try:
        summary = ""
        for _ in range(opts.repeat):
            project = fresh_copy(opts.tree, work)
            times["check"].append(timed([], project, env)[0])
            elapsed, shown = timed(["--diff", *unsafe], project, env)
            times["diff"].append(elapsed)
            summary = shown.stderr.strip().splitlines()[0] if shown.stderr.strip() else "nothing to fix"
            elapsed, _ = timed(["--fix", *unsafe], project, env)
            times["fix"].append(elapsed)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    check = statistics.median(times["check"])
    print(f"{opts.tree.name}: {summary}")
    for name, label in (("check", "cold check"), ("diff", f"cold --diff{' --unsafe-fixes' * bool(unsafe)}"),
                        ("fix", f"cold --fix{' --unsafe-fixes' * bool(unsafe)}")):
        value = statistics.median(times[name])
        print(f"{label:<32} {value:7.2f} s  ({value / check:.2f}x the cold check; runs: "
              f"{', '.join(f'{t:.2f}' for t in times[name])})")


if __name__ == "__main__":
    main()
