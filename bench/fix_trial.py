"""Trial of `dbagents check --fix` on copies of real projects: every changed file compiles, the fixed findings are
gone and no finding is added.

    python bench/fix_trial.py /src/polar /src/mealie ... [--unsafe-fixes] [--work /tmp/fix-trial]

Each project is copied into --work first (the original is never touched), checked, fixed, and checked again in
a new process. Prints one row per project and exits 1 when any project breaks a promise.
"""

from __future__ import annotations

import argparse
import filecmp
import json
import re
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path


def run_check(folder: Path, *extra: str) -> dict:
    out = subprocess.run([sys.executable, "-m", "dbagents", "check", "--no-cache", "--no-baseline", "--format", "json",
                          *extra, "."], cwd=folder, text=True, capture_output=True)
    if out.returncode not in (0, 1):
        raise SystemExit(f"{folder}: dbagents check failed: {out.stderr.strip()}")
    return json.loads(out.stdout)


def key(f: dict) -> tuple:
    """A finding without its place in the file (a fix may move lines)."""
    return f["path"], f["rule"], re.sub(r"\d+", "#", f["message"])


def changed_files(original: Path, copy: Path) -> list[Path]:
    out = []
    for path in copy.rglob("*.py"):
        if path.is_symlink() or not path.is_file():
            continue
        before = original / path.relative_to(copy)
        if not before.exists() or not filecmp.cmp(before, path, shallow=False):
            out.append(path)
    return out


def trial(original: Path, work: Path, unsafe: bool) -> dict:
    copy = work / original.name
    if copy.exists():
        shutil.rmtree(copy)
    shutil.copytree(original, copy, symlinks=True)
    before = run_check(copy)["findings"]
    report = run_check(copy, "--fix", *(["--unsafe-fixes"] if unsafe else []))
    fixed = report["fix"]["fixed"]
    files = changed_files(original, copy)
    broken = []
    for path in files:
        try:
            compile(path.read_bytes(), str(path), "exec", dont_inherit=True)
        except SyntaxError as exc:
            broken.append(f"{path.relative_to(copy)}: {exc}")
    after = run_check(copy)["findings"]
    added = Counter(map(key, after)) - Counter(map(key, before))
    fixed_rules = Counter((f["path"], f["rule"]) for f in fixed)
    left = Counter((f["path"], f["rule"]) for f in after)
    had = Counter((f["path"], f["rule"]) for f in before)
    # every (file, rule) pair the run fixed lost at least as many findings as fixes it got credit for
    not_gone = [pair for pair, n in fixed_rules.items() if had[pair] - left[pair] < min(n, had[pair])]
    again = run_check(copy, "--fix", *(["--unsafe-fixes"] if unsafe else []))["fix"]["fixed"]
    return {"project": original.name, "findings": len(before), "fixed": len(fixed), "files": len(files),
            "rules": dict(sorted(Counter(f["rule"] for f in fixed).items())), "not_compiling": broken,
            "added": sorted(f"{p} {r} {m}" for (p, r, m) in added), "not_gone": not_gone,
            "second_run_fixed": len(again), "schema_changes": len(report["fix"]["schema_changes"]),
            "notes": report["fix"]["notes"]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("projects", nargs="+", type=Path)
    parser.add_argument("--unsafe-fixes", action="store_true")
    parser.add_argument("--work", type=Path, default=None, help="where the copies go (default: a temporary folder)")
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="dbagents-fix-trial-"))
    work.mkdir(parents=True, exist_ok=True)
    bad = False
    print("| project | findings | fixed | files | by rule | schema changes | compiles | added | not gone | 2nd run |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for project in args.projects:
        row = trial(project.resolve(), work, args.unsafe_fixes)
        ok = not (row["not_compiling"] or row["added"] or row["not_gone"] or row["second_run_fixed"])
        bad |= not ok
        rules = ", ".join(f"{r} {n}" for r, n in row["rules"].items()) or "-"
        print(f"| {row['project']} | {row['findings']} | {row['fixed']} | {row['files']} | {rules} | "
              f"{row['schema_changes']} | {'all' if not row['not_compiling'] else len(row['not_compiling'])} | "
              f"{len(row['added'])} | {len(row['not_gone'])} | {row['second_run_fixed']} |")
        for what in ("not_compiling", "added", "not_gone", "notes"):
            for item in row[what]:
                print(f"    {what}: {item}", file=sys.stderr)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
