"""Benchmark `dbagents hook`: the Claude Code PostToolUse round trip on a warm cache (goal <= 300 ms).

    python bench/bench_hook.py TREE [--file REL] [--repeat 10]   # e.g. a copy of prefect
    python bench/bench_hook.py --generate 300                   # a generated project of 300 model files

Works on a private copy of TREE and a private cache folder. A full `dbagents check` fills the cache; then,
--repeat times, the file gets an edit (a line appended, as Claude's Edit would change it) and the hook
process is timed from start to exit with the PostToolUse JSON on stdin, exactly as Claude Code runs it.
The first hook may rewrite the cache once (stamps of files copied just before the check are too recent to
trust): the max shows it, the median the steady state.
The same for a model file (one with a models-rule finding: its facts feed the project-wide rules, which an
edit makes run again), and the hook on an untouched file and on a file that is not Python. Prints medians.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from statistics import median

from bench_adopt import prepare_project  # the same copied or generated project

def _hook(project: Path, rel: str, env: dict) -> tuple[float, subprocess.CompletedProcess]:
    payload = json.dumps({"hook_event_name": "PostToolUse", "tool_name": "Edit", "cwd": str(project),
                          "tool_input": {"file_path": str(project / rel)}})
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "dbagents", "hook"], cwd=project, env=env, input=payload,
                          capture_output=True, text=True, timeout=300)
    elapsed = time.perf_counter() - start
    if proc.returncode not in (0, 2):
        sys.exit(f"dbagents hook failed ({proc.returncode}): {proc.stderr.strip()}")
    return elapsed, proc


def _model_file(report: dict, project: Path, env: dict, other: str) -> str | None:
    """The .py file (not `other`) with the most findings of models-group rules: a file of mapped classes,
    whose facts feed the project-wide rules, so that its edit makes them run again."""
    rules = subprocess.run([sys.executable, "-m", "dbagents", "rules", "--format", "json"], cwd=project, env=env,
                           capture_output=True, text=True, timeout=300)
    models = {r["id"] for r in json.loads(rules.stdout) if "models" in r["groups"] and r["id"] != "DBA000"}
    counts = Counter(f["path"] for f in report["findings"]
                     if f["rule"] in models and f["path"].endswith(".py") and f["path"] != other)
    return min(counts, key=lambda path: (-counts[path], path)) if counts else None


def _time_edits(project: Path, rel: str, env: dict, repeat: int) -> tuple[list, list, subprocess.CompletedProcess]:
    """Seconds of the hook after each of `repeat` edits of `rel`, and again with the file unchanged."""
    edited, untouched = [], []
    for n in range(repeat):
        with open(project / rel, "a", encoding="utf-8") as fh:
            fh.write(f"# edit {n}\n")
        seconds, proc = _hook(project, rel, env)
        edited.append(seconds)
        untouched.append(_hook(project, rel, env)[0])
    return edited, untouched, proc


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("tree", nargs="?", type=Path, help="project to copy")
    parser.add_argument("--file", help="file (relative to TREE) Claude edits; default: the first file with findings")
    parser.add_argument("--generate", type=int, default=0, help="generate a project of N model files instead")
    parser.add_argument("--repeat", type=int, default=10)
    opts = parser.parse_args()
    if (opts.tree is None) == (not opts.generate):
        parser.error("give a TREE or --generate N")

    work = Path(tempfile.mkdtemp(prefix="dbagents-bench-hook-"))
    try:
        project, env, generated = prepare_project(opts, work)
        env.pop("PYTHONDONTWRITEBYTECODE", None)  # run from bytecode, as an installed package does
        rel = generated or opts.file
        start = time.perf_counter()
        full = subprocess.run([sys.executable, "-m", "dbagents", "check", "--no-baseline", "--format", "json"],
                              cwd=project, env=env, capture_output=True, text=True, timeout=900)
        cold = time.perf_counter() - start
        if full.returncode not in (0, 1):
            sys.exit(f"dbagents check failed ({full.returncode}): {full.stderr.strip()}")
        report = json.loads(full.stdout)
        if rel is None:
            rel = next((f["path"] for f in report["findings"] if f["path"].endswith(".py")), None)
            if rel is None:
                sys.exit("no finding in any .py file; pass --file")
        print(f"project: {report['checked']['files']} files; full check (cold cache) {cold:.2f} s")
        for label, target in (("file", rel), ("model file", _model_file(report, project, env, rel))):
            if target is None:
                continue
            edited, untouched, proc = _time_edits(project, target, env, opts.repeat)
            reported = proc.stderr.count("\n") - 2 if proc.returncode == 2 else 0
            print(f"{label}: {target}; the hook reports {reported} finding line(s), exit {proc.returncode}")
            print(f"hook after an edit      : {median(edited) * 1000:6.0f} ms median of {opts.repeat} "
                  f"(max {max(edited) * 1000:.0f} ms)")
            print(f"hook, file unchanged    : {median(untouched) * 1000:6.0f} ms median of {opts.repeat}")
        (project / "NOTES.md").write_text("not python\n")
        other = [_hook(project, "NOTES.md", env)[0] for _ in range(opts.repeat)]
        print(f"hook, not a Python file : {median(other) * 1000:6.0f} ms median of {opts.repeat}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
