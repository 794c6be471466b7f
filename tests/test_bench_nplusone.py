"""The N+1 plugin's overhead benchmark stays runnable, floor references included (numbers are read by
people, not asserted here)."""

from __future__ import annotations

import re
import subprocess
import sys

OVERHEAD = r"\n    wall overhead\s+[-+]\d+\.\d %.*\n    cpu  overhead\s+[-+]\d+\.\d %"


def test_bench_nplusone_runs_every_configuration_and_prints_its_overheads(repo_root):
    proc = subprocess.run(
        [sys.executable, str(repo_root / "bench" / "bench_nplusone.py"),
         "--tests", "2", "--queries", "50", "--rounds", "1", "--floor"],
        capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    # The census proves the suite does what the overhead is about: ORM executions and lazy loads.
    census = re.search(r"2 tests, 1 rounds per mode; per test (\d+) statements, (\d+) ORM executions, "
                       r"(\d+) loaded objects, (\d+) lazy loads", proc.stdout)
    assert census and all(int(n) > 0 for n in census.groups()), proc.stdout
    for label in ("plugin (warn)", "floor: no-op do_orm_execute listener",
                  "floor: listener + one mark per top-level query"):
        assert re.search(re.escape(f"  {label}:") + OVERHEAD, proc.stdout), (label, proc.stdout)
