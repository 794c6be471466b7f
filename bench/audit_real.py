"""Audit dbagents on real code: sample findings per rule for a blind review, then tabulate the verdicts.

    # 1. review sheet: run `dbagents check` on each tree (or reuse a saved JSON report), sample per rule
    python bench/audit_real.py sheet --repo indico=/src/indico --repo polar=/src/polar@c6c3645e… \\
        --per-rule 10 --seed 11 --out /tmp/review/models-2026-12-03
    #    -> /tmp/review/models-2026-12-03.json  (the sheet: repo, commit, path, line, rule, verdict "", reason "")
    #    -> /tmp/review/models-2026-12-03.md    (for the reviewer: message and code around each finding)
    # 2. label: fill each entry's verdict (true | false | noise) and a one-line reason; keep no code in it;
    #    commit it as bench/audit/<family>-<yyyy-mm-dd>[-before|-after|-recheck].json
    # 3. precision table over every labelled sheet (Markdown, per rule)
    python bench/audit_real.py table bench/audit/*.json
    python bench/audit_real.py table bench/audit/*.json --into docs/audit.md   # between its audit-table markers

Options of `sheet`: `--repo NAME=PATH[@COMMIT]` (the commit defaults to `git rev-parse HEAD` in PATH, else
`--commits FILE`, a TSV of name, slug, commit), `--report NAME=FILE` reuses a saved `--format json` report
instead of running the check (`--engine COMMIT` names the dbagents commit that made it), `--rules DBA1` keeps rules
starting with a prefix, `--context N` lines each side, `--by-severity` samples each rule's info findings apart
from its warnings and errors (the goal binds what a user is warned about; info rows show as "RULE (info)") and
records each entry's severity and the count found per stratum.
The review file quotes the projects' code, so `sheet` refuses to write inside this repository.
Sheet format: {"date", "seed", "engine_commit", ["population": {stratum: found}], "entries": [{repo, commit, path,
line, rule, [severity], verdict, reason}]}. verdict: true (right and worth saying), false (the claim is wrong),
noise (right but not worth saying there: a test, an applied revision, a one-off script). `table` prints one
table per audit — sheets named with the same date and -before/-after/-recheck — in that order.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import re
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
VERDICTS = ("true", "false", "noise")
ENTRY_KEYS = ("repo", "commit", "path", "line", "rule", "verdict", "reason")


class AuditError(Exception):
    """Bad input: printed as one line, exit code 2."""


# ---------------------------------------------------------------- running and sampling


def _git(path: Path, *args: str) -> str:
    proc = subprocess.run(["git", "-C", str(path), *args], capture_output=True, text=True)
    return proc.stdout.strip() if proc.returncode == 0 else ""


def _commits_tsv(path: Path | None) -> dict[str, str]:
    if path is None:
        return {}
    out = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        cells = line.split("\t")
        if not line.strip():
            continue
        if len(cells) < 2:
            raise AuditError(f"{path}:{number}: expected name<TAB>[slug<TAB>]commit")
        out[cells[0].strip()] = cells[-1].strip()
    return out


def parse_repos(specs: list[str], commits: dict[str, str]) -> list[tuple[str, Path, str]]:
    """`NAME=PATH[@COMMIT]` -> (name, path, commit); the commit from the spec, the TSV, or git."""
    repos = []
    for spec in specs:
        name, sep, rest = spec.partition("=")
        if not sep or not name or not rest:
            raise AuditError(f"--repo {spec!r}: use NAME=PATH[@COMMIT]")
        path_text, _, commit = rest.partition("@")
        path = Path(path_text).expanduser().resolve()
        if not path.is_dir():
            raise AuditError(f"--repo {spec!r}: {path} is not a folder")
        commit = commit or commits.get(name) or _git(path, "rev-parse", "HEAD")
        if not commit:
            raise AuditError(f"--repo {spec!r}: no commit id; give NAME=PATH@COMMIT or --commits FILE")
        repos.append((name, path, commit))
    return repos


def run_check(path: Path) -> list[dict]:
    """`dbagents check --no-baseline --format json .` from the tree's root: its findings."""
    proc = subprocess.run([sys.executable, "-m", "dbagents", "check", "--no-baseline", "--format", "json", "."],
                          cwd=path, capture_output=True, text=True)
    if proc.returncode not in (0, 1):
        raise AuditError(f"dbagents check failed in {path} (exit {proc.returncode}): "
                         f"{(proc.stderr.strip().splitlines() or ['no message'])[-1]}")
    return json.loads(proc.stdout)["findings"]


def read_report(path: Path) -> list[dict]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise AuditError(f"{path}: not a readable dbagents JSON report ({exc})") from None
    findings = data.get("findings") if isinstance(data, dict) else None
    if not isinstance(findings, list):
        raise AuditError(f"{path}: no 'findings' list; save one with `dbagents check --format json`")
    return findings


def stratum(finding: dict, by_severity: bool) -> str:
    """The rule a finding is sampled under; with `by_severity`, info findings form their own "RULE (info)"."""
    return f"{finding['rule']} (info)" if by_severity and finding.get("severity") == "info" else finding["rule"]


def sample(found: list[tuple[str, str, dict]], per_rule: int, seed: int, prefixes: list[str],
           by_severity: bool = False) -> tuple[list[tuple], dict[str, int]]:
    """Up to `per_rule` (repo, commit, finding) per rule (or rule and info/not-info), drawn with `seed` from a
    stable order; and how many findings each such stratum held."""
    by_rule: dict[str, list] = defaultdict(list)
    for repo, commit, f in found:
        if f.get("path") and (not prefixes or any(f["rule"].startswith(p) for p in prefixes)):
            by_rule[stratum(f, by_severity)].append((repo, commit, f))
    picked = []
    for rule in sorted(by_rule):
        items = sorted(by_rule[rule], key=lambda t: (t[0], t[2]["path"], t[2]["line"], t[2].get("column", 0),
                                                     t[2]["message"]))
        rng = random.Random(f"{seed}:{rule}")
        chosen = rng.sample(items, min(per_rule, len(items)))
        picked.extend(sorted(chosen, key=lambda t: (t[0], t[2]["path"], t[2]["line"])))
    return picked, {rule: len(items) for rule, items in sorted(by_rule.items())}


def code_context(root: Path, relpath: str, line: int, width: int) -> str:
    try:
        lines = (root / relpath).read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return "(file not readable)"
    lo, hi = max(1, line - width), min(len(lines), line + width)
    return "\n".join(f"{'>' if n == line else ' '}{n:5d} {lines[n - 1]}" for n in range(lo, hi + 1))


def _inside_repo(path: Path) -> bool:
    try:
        path.resolve().relative_to(REPO)
        return True
    except ValueError:
        return False


def write_sheet(args) -> int:
    out = Path(args.out).expanduser()
    if _inside_repo(out):
        raise AuditError(f"--out {out}: the review file quotes the audited projects' code; write it outside "
                         f"{REPO} (only the labelled sheet, with no code, goes into bench/audit/)")
    repos = parse_repos(args.repo, _commits_tsv(Path(args.commits) if args.commits else None))
    reports = {}
    for spec in args.report:
        name, sep, file = spec.partition("=")
        if not sep:
            raise AuditError(f"--report {spec!r}: use NAME=FILE")
        reports[name] = Path(file)
    found = []
    roots = {}
    for name, path, commit in repos:
        roots[name] = path
        findings = read_report(reports[name]) if name in reports else run_check(path)
        found.extend((name, commit, f) for f in findings)
    picked, population = sample(found, args.per_rule, args.seed, [p.upper() for p in args.rules], args.by_severity)
    engine = args.engine or _git(REPO, "rev-parse", "HEAD")
    entries = [{"repo": r, "commit": c, "path": f["path"], "line": f["line"], "rule": f["rule"],
                **({"severity": f.get("severity", "")} if args.by_severity else {}), "verdict": "", "reason": ""}
               for r, c, f in picked]
    sheet = {"date": dt.date.today().isoformat(), "seed": args.seed, "engine_commit": engine,
             **({"population": population} if args.by_severity else {}), "entries": entries}
    out.parent.mkdir(parents=True, exist_ok=True)
    json_path, md_path = out.with_suffix(".json"), out.with_suffix(".md")
    json_path.write_text(json.dumps(sheet, indent=1) + "\n", encoding="utf-8")
    parts = [f"# Review sheet — seed {args.seed}, engine {engine[:12]}, {len(entries)} findings\n",
             "Label each entry of the JSON sheet: verdict true | false | noise and a one-line reason (no code).\n"]
    for number, (r, c, f) in enumerate(picked, 1):
        parts.append(f"## {number}. {f['rule']} {f.get('severity', '')} — {r} {f['path']}:{f['line']}\n")
        parts.append(f"{f['message']}\n")
        if f.get("hint"):
            parts.append(f"hint: {f['hint']}\n")
        parts.append("```python\n" + code_context(roots[r], f["path"], f["line"], args.context) + "\n```\n")
    md_path.write_text("\n".join(parts), encoding="utf-8")
    total = defaultdict(int)
    for r, c, f in found:
        total[f["rule"]] += 1
    print(f"{len(entries)} findings sampled from {len(found)} ({len(total)} rules) -> {json_path}, {md_path}")
    return 0


# ---------------------------------------------------------------- labelled sheets -> precision table


def load_sheet(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise AuditError(f"{path}: not a readable JSON sheet ({exc})") from None
    if not isinstance(data, dict) or not isinstance(data.get("entries"), list):
        raise AuditError(f"{path}: a sheet is an object with an 'entries' list")
    for number, entry in enumerate(data["entries"], 1):
        missing = [k for k in ENTRY_KEYS if k not in entry] if isinstance(entry, dict) else list(ENTRY_KEYS)
        if missing:
            raise AuditError(f"{path}: entry {number} lacks {', '.join(missing)}")
        if entry["verdict"] not in VERDICTS:
            raise AuditError(f"{path}: entry {number} ({entry['rule']} {entry['path']}:{entry['line']}) has verdict "
                             f"{entry['verdict']!r}; use one of {', '.join(VERDICTS)}")
        if "\n" in str(entry["reason"]):
            raise AuditError(f"{path}: entry {number}: the reason is one line (no copied code)")
    return data


def _pct(part: int, whole: int) -> str:
    return f"{100 * part / whole:.0f} %" if whole else "-"


PHASES = ("", "before", "after", "recheck")
SHEET_NAME = re.compile(r"^(?P<family>.+?)-(?P<date>\d{4}-\d{2}-\d{2})(?:-(?P<phase>before|after|recheck))?$")


def audit_of(path: Path) -> tuple[str, str]:
    """(date, phase) of a sheet named <family>-<yyyy-mm-dd>[-before|-after|-recheck].json; sheets of one audit
    share it (a recheck re-samples rules fixed after the after-audit, on the fixed engine)."""
    m = SHEET_NAME.match(path.stem)
    return (m["date"], m["phase"] or "") if m else ("", path.stem)


def _audit_order(date: str, phase: str) -> tuple:
    """Audits by date, then before, after, recheck."""
    return date, PHASES.index(phase) if phase in PHASES else -1, phase


def _rows(sheets: list[tuple[Path, dict]]) -> list[str]:
    counts: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(VERDICTS, 0))
    found: dict[str, int] = {}
    for _, sheet in sheets:
        for entry in sheet["entries"]:
            counts[stratum(entry, True)][entry["verdict"]] += 1
        for rule, n in (sheet.get("population") or {}).items():
            found[rule] = found.get(rule, 0) + n
    head = "| rule | " + ("found | " if found else "") + "sampled | true | false | noise | false rate | noise rate |"
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    total = dict.fromkeys(VERDICTS, 0)
    for rule in sorted(counts):
        c = counts[rule]
        n = sum(c.values())
        for v in VERDICTS:
            total[v] += c[v]
        pop = f"{found.get(rule, '-')} | " if found else ""
        lines.append(f"| {rule} | {pop}{n} | {c['true']} | {c['false']} | {c['noise']} | {_pct(c['false'], n)} | "
                     f"{_pct(c['noise'], n)} |")
    n = sum(total.values())
    pop = f"{sum(found.values())} | " if found else ""
    lines.append(f"| all | {pop}{n} | {total['true']} | {total['false']} | {total['noise']} | "
                 f"{_pct(total['false'], n)} | {_pct(total['noise'], n)} |")
    return lines


def precision_table(paths: list[Path]) -> str:
    """Markdown: per audit (sheets sharing a date and phase), one row per rule (found, sample size,
    TP/FP/noise counts and rates; "RULE (info)" rows for findings shown as info), then where the samples came from."""
    audits: dict[tuple[str, str], list[tuple[Path, dict]]] = defaultdict(list)
    for path in sorted(paths):
        audits[audit_of(path)].append((path, load_sheet(path)))
    out: list[str] = []
    for (date, phase), sheets in sorted(audits.items(), key=lambda kv: _audit_order(*kv[0])):
        if len(audits) > 1:
            out += [f"### Audit {date or phase}{f' ({phase})' if date and phase else ''}", ""]
        out += _rows(sheets)
        commits: dict[str, set[str]] = defaultdict(set)
        sources = []
        for path, sheet in sheets:
            for entry in sheet["entries"]:
                commits[entry["repo"]].add(str(entry["commit"])[:12])
            sources.append(f"`{path.name}` ({sheet.get('date', '?')}, seed {sheet.get('seed', '?')}, engine "
                           f"{str(sheet.get('engine_commit', '?'))[:12]}, {len(sheet['entries'])} findings)")
        out += ["", "Sheets: " + "; ".join(sources) + "."]
        if commits:
            out.append("Projects at: " + ", ".join(f"{r} {', '.join(sorted(c))}" for r, c in sorted(commits.items()))
                       + ".")
        out.append("")
    return "\n".join(out[:-1]) + "\n"


START, END = "<!-- audit-table:start -->", "<!-- audit-table:end -->"


def write_into(path: Path, table: str) -> None:
    """Replace what stands between the markers of `path` with the table (the rest of the file is kept)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise AuditError(f"{path}: cannot read ({exc.strerror})") from None
    if text.count(START) != 1 or text.count(END) != 1 or text.index(START) > text.index(END):
        raise AuditError(f"{path}: needs one {START} line and one {END} line after it")
    head, rest = text.split(START)
    path.write_text(head + START + "\n" + table + END + rest.split(END, 1)[1], encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    s = sub.add_parser("sheet", help="run the check and write a review sheet (JSON) plus code context (Markdown)")
    s.add_argument("--repo", action="append", required=True, help="NAME=PATH[@COMMIT] (repeat)")
    s.add_argument("--commits", help="TSV of name, [slug,] commit")
    s.add_argument("--report", action="append", default=[], help="NAME=FILE: reuse a saved JSON report")
    s.add_argument("--engine", help="engine commit the --report files were made with (default: this checkout's HEAD)")
    s.add_argument("--per-rule", type=int, default=10)
    s.add_argument("--seed", type=int, required=True)
    s.add_argument("--rules", action="append", default=[], help="only rules starting with this (repeat)")
    s.add_argument("--by-severity", action="store_true",
                   help="sample a rule's info findings apart (as 'RULE (info)'); entries carry the severity shown")
    s.add_argument("--context", type=int, default=6, help="lines of code each side of a finding")
    s.add_argument("--out", required=True, help="output stem, outside this repository (.json and .md are added)")
    t = sub.add_parser("table", help="per-rule precision table (Markdown) from labelled sheets")
    t.add_argument("sheets", nargs="+")
    t.add_argument("--into", help="write the table between <!-- audit-table:start/end --> markers of this file")
    args = parser.parse_args(argv)
    try:
        if args.command == "sheet":
            return write_sheet(args)
        table = precision_table([Path(p) for p in args.sheets])
        if args.into:
            write_into(Path(args.into), table)
        else:
            print(table, end="")
        return 0
    except AuditError as exc:
        print(f"audit_real: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
