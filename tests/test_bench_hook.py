"""The hook benchmark stays runnable (its numbers are read by people, not asserted here)."""

from __future__ import annotations

import re
import subprocess
import sys


def test_bench_hook_runs_and_prints_the_round_trip(repo_root):
    proc = subprocess.run([sys.executable, str(repo_root / "bench" / "bench_hook.py"), "--generate", "20",
                           "--repeat", "1"], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert re.search(r"the hook reports [1-9]\d* finding line\(s\), exit 2", proc.stdout)
    assert re.search(r"hook after an edit\s+:\s+\d+ ms median of 1", proc.stdout)
