"""The pre-commit benchmark stays runnable (its numbers are read by people, not asserted here)."""

from __future__ import annotations

import re
import subprocess
import sys


def test_bench_adopt_runs_and_prints_the_hook_time(repo_root):
    proc = subprocess.run([sys.executable, str(repo_root / "bench" / "bench_adopt.py"), "--generate", "20",
                           "--repeat", "1"], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert re.search(r"findings: [1-9]\d*; baseline hides [1-9]\d*", proc.stdout)
    assert re.search(r"pre-commit, 1 file    :\s+[\d.]+ s median of 1", proc.stdout)
