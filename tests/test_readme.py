"""The README keeps its promises: the rules table matches the engine, the test command matches .ci/run."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_rules_table_is_current():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    table = re.search(r"<!-- rules-table:start -->\n(.*?)<!-- rules-table:end -->", readme, re.S).group(1)
    generated = subprocess.run([sys.executable, "-m", "dbagents", "rules", "--format", "markdown"],
                               capture_output=True, text=True, check=True).stdout
    assert table.strip() == generated.strip(), (
        "README rules table is stale: regenerate it with `dbagents rules --format markdown`"
    )


def test_ci_runs_the_readme_test_command():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    dev = readme[readme.index("## Development"):]
    command = re.search(r"```bash\n(.+?)\n```", dev, re.S).group(1).strip()
    ci = (REPO / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    assert command in [line.strip() for line in ci]
