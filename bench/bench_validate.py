"""Benchmark `dbagents validate` on ~1,000 agent files and compare with cclint when it is installed.

    python bench/bench_validate.py [--files 1000] [--source DIR] [--cclint PATH]

Without --source it generates agents (copied round-robin from --source when given, otherwise synthetic) into a
temporary project's .claude/agents. cclint is looked up in --cclint, $CCLINT, /tmp/cclint/node_modules/.bin and PATH.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SYNTHETIC = """---
name: agent-{i}
description: Use this agent for task {i}. Reviews SQLAlchemy models and Alembic migrations for issue {i}.
model: sonnet
color: blue
tools: Read, Grep, Glob, Bash, Edit, mcp__context7__resolve-library-id
---
You are agent {i}. Read .claude/context/standards.md before answering.

## Checklist
- Check every model for a primary key.
- Run `/compact` when the context grows.
""" + "Details paragraph. " * 60 + "\n"


def build_project(root: Path, count: int, source: Path | None) -> Path:
    agents = root / ".claude" / "agents"
    agents.mkdir(parents=True)
    (root / ".claude" / "context").mkdir()
    (root / ".claude" / "context" / "standards.md").write_text("# standards\n")
    (root / ".mcp.json").write_text('{"mcpServers": {"context7": {"command": "npx"}}}')
    pool = sorted(p for p in source.rglob("*.md") if "agents" in p.parts or p.parent.name.startswith(("0", "1"))) if source else []
    pool = [p for p in pool if p.name.lower() != "readme.md"]
    for i in range(count):
        target = agents / f"agent-{i:04d}.md"
        if pool:
            text = pool[i % len(pool)].read_text(encoding="utf-8", errors="replace")
            target.write_text(text.replace("name: ", f"name: n{i}-", 1), encoding="utf-8")
        else:
            target.write_text(SYNTHETIC.format(i=i))
    return root


def timed(cmd: list[str], cwd: Path) -> tuple[float, int]:
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    return time.perf_counter() - start, proc.returncode


def find_cclint(explicit: str | None) -> str | None:
    for candidate in (explicit, os.environ.get("CCLINT"), "/tmp/cclint/node_modules/.bin/cclint", shutil.which("cclint")):
        if candidate and Path(candidate).exists():
            return candidate
    return None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=1000)
    parser.add_argument("--source", type=Path, help="folder of real agent files to copy from (e.g. a public collection)")
    parser.add_argument("--cclint", help="path to the cclint executable")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-validate-") as tmp:
        project = build_project(Path(tmp), args.files, args.source)
        files = len(list((project / ".claude" / "agents").glob("*.md")))

        sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "installer"))
        from dbagents.validate import validate_paths

        start = time.perf_counter()
        findings = validate_paths([project / ".claude"])
        in_process = time.perf_counter() - start

        ours = min(timed([sys.executable, "-m", "dbagents", "validate", ".claude"], project)[0] for _ in range(args.repeat))
        print(f"files: {files}  findings: {len(findings)}")
        print(f"dbagents validate (in-process):  {in_process:6.3f} s  {files / in_process:8.0f} files/s")
        print(f"dbagents validate (CLI, wall):   {ours:6.3f} s  {files / ours:8.0f} files/s")
        cclint = find_cclint(args.cclint)
        if cclint is None:
            print("cclint: not found (npm install @carlrannaberg/cclint under /tmp/cclint, or pass --cclint)")
            return 0
        theirs = min(timed([cclint, "agents", "--root", str(project), "--quiet"], project)[0] for _ in range(args.repeat))
        print(f"cclint agents (CLI, wall):       {theirs:6.3f} s  {files / theirs:8.0f} files/s")
        print(f"speed-up: {theirs / ours:.1f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
