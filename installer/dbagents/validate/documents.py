"""Read one agent/command/skill file and turn its frontmatter into data, with findings for every read problem."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from dbagents.findings import Finding, Severity
from dbagents.validate import frontmatter as fm
from dbagents.validate.discover import AGENT, Item


@dataclass
class Document:
    item: Item
    rel: str
    text: str = ""
    data: dict = field(default_factory=dict)
    has_frontmatter: bool = False
    fields_lost: bool = False  # frontmatter present but the runtime sees none of it
    key_lines: dict = field(default_factory=dict)
    yaml_text: str = ""
    yaml_first_line: int = 2
    body: str = ""
    body_first_line: int = 1
    findings: list[Finding] = field(default_factory=list)

    def add(self, rule_id: str, message: str, severity: Severity, line: int = 0, col: int = 0, hint: str = "") -> None:
        self.findings.append(Finding(self.rel, line, col, rule_id, message, severity, hint))

    @property
    def lines(self) -> list[str]:
        cached = self.__dict__.get("_lines")
        if cached is None:
            cached = self.__dict__["_lines"] = self.text.split("\n")
        return cached

    def line_of(self, key: str) -> int:
        return self.key_lines.get(key, self.yaml_first_line - 1 if self.has_frontmatter else 0)


def read_document(item: Item, rel: str) -> Document:
    doc = Document(item, rel)
    is_agent = item.kind == AGENT
    try:
        size = item.path.stat().st_size
        if size > fm.MAX_FILE_BYTES:
            doc.add("CC007", f"file is {size:,} bytes, over Claude Code's 1 MiB limit; it is skipped", Severity.ERROR,
                    hint="split the file; move reference material into separate files")
            return doc
        raw = item.path.read_bytes()
    except OSError as exc:
        doc.add("CC009", f"cannot read the file: {exc.strerror or exc}", Severity.ERROR)
        return doc
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        doc.add("CC009", f"byte {exc.start} is not UTF-8; Claude Code reads the file as UTF-8", Severity.ERROR, line,
                hint="re-save the file as UTF-8")
        text = raw.decode("utf-8", errors="replace")
    doc.text = text
    match, body = fm.split(text)
    if match is None:
        doc.body = text
        _no_frontmatter(doc, text, is_agent)
        return doc
    doc.has_frontmatter = True
    doc.body = body
    doc.body_first_line = text.count("\n", 0, match.end()) + 1
    yaml_text = match.group(1)
    doc.yaml_text = yaml_text
    doc.yaml_first_line = text.count("\n", 0, match.start(1)) + 1
    doc.key_lines = fm.key_lines(yaml_text, doc.yaml_first_line)
    close_at = match.start(1) + len(yaml_text)
    if close_at > 0 and text[close_at - 1] != "\n" and yaml_text.strip():
        line = text.count("\n", 0, close_at) + 1
        doc.add("CC017", "`---` inside a value ends the frontmatter here; the rest of the YAML becomes prompt text",
                Severity.ERROR, line, close_at - text.rfind("\n", 0, close_at), hint="avoid `---` inside values")
    _load(doc, yaml_text)
    return doc


def _no_frontmatter(doc: Document, text: str, is_agent: bool) -> None:
    if text.startswith("\ufeff") and fm.FRONTMATTER_RE.match(text[1:]):
        doc.fields_lost = True
        doc.add("CC002", "a UTF-8 BOM before `---` hides the frontmatter; every field is dropped"
                + (" and the agent is ignored" if is_agent else ""), Severity.ERROR, 1, 1,
                hint="save the file as UTF-8 without BOM")
        return
    stripped = text.lstrip("\ufeff \t\r\n")
    if stripped.startswith("---") and fm.FRONTMATTER_RE.match(stripped):
        line = text.count("\n", 0, len(text) - len(stripped)) + 1
        doc.fields_lost = True
        doc.add("CC003", f"frontmatter starts on line {line}, not line 1; Claude Code ignores it"
                + (" and skips the agent" if is_agent else ""), Severity.ERROR, line, 1,
                hint="remove what comes before the opening `---`")
        return
    if is_agent and doc.item.path.name.lower() in ("readme.md", "changelog.md", "license.md"):
        return  # a folder's documentation, not an agent someone meant to load
    if is_agent:
        if text.startswith("---"):
            doc.add("CC001", "frontmatter is never closed by a `---` line; Claude Code skips the agent", Severity.ERROR,
                    1, 1, hint="add a closing `---` after the last field")
        else:
            doc.add("CC001", "no frontmatter; Claude Code skips agent files without `name` and `description`",
                    Severity.ERROR, 1, 1, hint="start the file with ---, name:, description:, ---")


def _load(doc: Document, yaml_text: str) -> None:
    first = doc.yaml_first_line
    try:
        data = fm.load_yaml(yaml_text)
    except fm.AliasBomb as exc:
        doc.fields_lost = True
        doc.add("CC008", f"frontmatter refused: anchors/aliases {exc}", Severity.ERROR, first, 1,
                hint="remove YAML anchors (&) and aliases (*)")
        return
    except fm.YamlProblem as strict_error:
        repaired, changed = fm.repair_yaml(yaml_text)
        try:
            data = fm.load_yaml(repaired) if changed else None
            if not changed:
                raise strict_error
        except (fm.YamlProblem, fm.AliasBomb) as exc:
            # line numbers survive the repair; the repaired parse's error is the one left to fix
            err = exc if isinstance(exc, fm.YamlProblem) and changed else strict_error
            line = first + err.line - 1 if err.line else first
            doc.fields_lost = True
            doc.add("CC005", f"YAML error at {line}:{err.col}: {err}; Claude Code cannot repair it, so all fields "
                    "would be dropped", Severity.ERROR, line, err.col,
                    hint="quote values containing `: `, `#`, `*`, `[`, `{`, `|`, `>`, `@` or backticks")
            return
        for number, _original, replacement in changed:
            line = first + number - 1
            if replacement.lstrip() != _original.lstrip():
                doc.add("CC004", "strict YAML fails on this value; only Claude Code's repair loads it",
                        Severity.WARNING, line, 1, hint=f"quote it: {_clip(replacement.strip())}")
            else:
                doc.add("CC004", "tab indentation is not YAML; only Claude Code's repair loads it",
                        Severity.WARNING, line, 1, hint="indent with spaces")
    if data is None:
        data = {}
        if yaml_text.strip():
            doc.fields_lost = True
            doc.add("CC006", "frontmatter is empty YAML", Severity.ERROR, first, 1)
    if not isinstance(data, dict):
        doc.fields_lost = True
        doc.add("CC006", f"frontmatter is a YAML {type(data).__name__}, not `key: value` pairs; every field is "
                "dropped", Severity.ERROR, first, 1, hint="write one `key: value` per line")
        return
    doc.data = {str(k): v for k, v in data.items()}


def _clip(text: str, limit: int = 110) -> str:
    return text if len(text) <= limit else text[: limit - 25] + " … " + text[-20:]
