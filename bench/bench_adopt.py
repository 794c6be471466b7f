"""Benchmark the pre-commit path: `dbagents check --only-files ONE_FILE` on a warm cache, one file changed.

    python bench/bench_adopt.py TREE [--file REL] [--repeat 5]    # e.g. a copy of indico (goal <= 1 s)
    python bench/bench_adopt.py --generate 300                   # a generated project of 300 model files

Works on a private copy of TREE (the tree itself is never written) and a private cache folder. Each run is
a whole `dbagents check` process, as pre-commit starts it: first a cold full check and a warm full check
(which fill the cache), then --repeat times: append a line to the file, then time the hook command. Prints
the medians, the baseline's effect (entries, hidden findings) and the wall time of each step.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from statistics import median

MODEL = '''from sqlalchemy import Column, ForeignKey, Integer, String
from .base import Base


class Thing{n}(Base):
    __tablename__ = "thing{n}"
    id = Column(Integer, primary_key=True)
    owner_id = Column(Integer, ForeignKey("owner.id"))
    name = Column(String(100))
'''


def _generate(root: Path, count: int) -> str:
    pkg = root / "app" / "models"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "base.py").write_text("from sqlalchemy.orm import declarative_base\nBase = declarative_base()\n")
    for n in range(count):
        (pkg / f"thing{n}.py").write_text(MODEL.format(n=n))
    return "app/models/thing0.py"


def _run(args: list[str], cwd: Path, env: dict) -> tuple[float, subprocess.CompletedProcess]:
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "dbagents", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=900)
    elapsed = time.perf_counter() - start
    if proc.returncode not in (0, 1):
        sys.exit(f"dbagents {' '.join(args)} failed ({proc.returncode}): {proc.stderr.strip()}")
    return elapsed, proc


def prepare_project(opts, work: Path) -> tuple[Path, dict, str | None]:
    """(project folder, environment with a private cache, generated model file or None): a copy of `opts.tree`,
    or a generated project of `opts.generate` model files, under `work`."""
    project = work / "project"
    env = {**os.environ, "DBAGENTS_CACHE_DIR": str(work / "cache")}
    env.pop("DATABASE_URL", None)
    if opts.generate:
        project.mkdir()
        return project, env, _generate(project, opts.generate)
    shutil.copytree(opts.tree, project, symlinks=True, ignore=shutil.ignore_patterns(".git", "node_modules"))
    return project, env, None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("tree", nargs="?", type=Path, help="project to copy and check")
    parser.add_argument("--file", help="file (relative to TREE) the commit changes; default: the first model file "
                        "with findings")
    parser.add_argument("--generate", type=int, default=0, help="generate a project of N model files instead")
    parser.add_argument("--repeat", type=int, default=5)
    opts = parser.parse_args()
    if (opts.tree is None) == (not opts.generate):
        parser.error("give a TREE or --generate N")

    work = Path(tempfile.mkdtemp(prefix="dbagents-bench-adopt-"))
    try:
        project, env, default_file = prepare_project(opts, work)
        cold, _ = _run(["check", "--no-baseline", "--format", "json"], project, env)
        warm, full = _run(["check", "--no-baseline", "--format", "json"], project, env)
        findings = json.loads(full.stdout)["findings"]
        target = opts.file or default_file or next(
            (f["path"] for f in findings if "/models/" in f["path"] and f["path"].endswith(".py")),
            findings[0]["path"] if findings else None)
        if target is None:
            sys.exit("no file to change: pass --file")
        wrote, _ = _run(["check", "--write-baseline"], project, env)
        after, clean = _run(["check", "--format", "json"], project, env)
        hidden = json.loads(clean.stdout).get("baseline", {}).get("hidden", 0)
        times = []
        for i in range(opts.repeat):
            with open(project / target, "a", encoding="utf-8") as fh:
                fh.write(f"# bench edit {i}\n")
            elapsed, _ = _run(["check", "--only-files", target], project, env)
            times.append(elapsed)
        print(f"tree: {opts.tree or f'generated, {opts.generate} model files'}")
        print(f"findings: {len(findings)}; baseline hides {hidden}")
        print(f"full check, cold      : {cold:6.2f} s")
        print(f"full check, warm      : {warm:6.2f} s")
        print(f"--write-baseline      : {wrote:6.2f} s")
        print(f"check with baseline   : {after:6.2f} s")
        print(f"pre-commit, 1 file    : {median(times):6.2f} s median of {len(times)} "
              f"(min {min(times):.2f}, max {max(times):.2f}; goal <= 1 s)  file: {target}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
