"""The static-engine benchmark stays runnable (its numbers are read by people, not asserted here)."""

from __future__ import annotations

import re
import subprocess
import sys


def test_bench_check_runs_and_prints_its_ratios(repo_root):
    proc = subprocess.run(
        [sys.executable, str(repo_root / "bench" / "bench_check.py"), "--lines", "20000", "--repeat", "1"],
        capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert re.search(r"dbagents check \(cold\) :\s+[\d.]+ s  ratio [\d.]+x", proc.stdout)
    assert re.search(r"dbagents check \(cache\):\s+[\d.]+ s  ratio [\d.]+x", proc.stdout)
    assert re.search(r"findings: [1-9]\d*", proc.stdout)  # the generated tree has real problems to find
