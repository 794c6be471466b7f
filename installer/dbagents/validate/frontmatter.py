"""Split a Markdown file into frontmatter and body, and load the YAML the way Claude Code does.

Claude Code 2.1 matches ``^---\\s*\\n([\\s\\S]*?)---\\s*\\n?`` at the first character, parses the block with a
YAML 1.2 parser, and on failure retries once after quoting risky values and replacing leading tabs. We do the
same with PyYAML's *safe* loader restricted to YAML 1.2 core scalars (no `yes`/`no` booleans, no dates).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import yaml

MAX_FILE_BYTES = 1024 * 1024
MAX_EXPANDED_NODES = 10_000

FRONTMATTER_RE = re.compile(r"---\s*\n([\s\S]*?)---\s*\n?")
_REPAIR_LINE_RE = re.compile(r"^([a-zA-Z_-]+):\s+(.+)$")
_RISKY_VALUE_RE = re.compile(r"[{}\[\]*&#!|>%@`]|: ")


class _Yaml12Loader(yaml.CSafeLoader if hasattr(yaml, "CSafeLoader") else yaml.SafeLoader):
    """Safe loader with YAML 1.2 core-schema scalars (what Bun's parser uses)."""


_Yaml12Loader.yaml_implicit_resolvers = {}
_RESOLVERS = [
    ("tag:yaml.org,2002:bool", r"^(?:true|True|TRUE|false|False|FALSE)$", "tTfF"),
    ("tag:yaml.org,2002:null", r"^(?:~|null|Null|NULL|)$", ["~", "n", "N", ""]),
    ("tag:yaml.org,2002:int", r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$", "-+0123456789"),
    (
        "tag:yaml.org,2002:float",
        r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$",
        "-+0123456789.",
    ),
    ("tag:yaml.org,2002:merge", r"^(?:<<)$", "<"),
]
for _tag, _pattern, _first in _RESOLVERS:
    _Yaml12Loader.add_implicit_resolver(_tag, re.compile(_pattern), list(_first))


def _construct_int(loader, node):
    text = loader.construct_scalar(node)
    sign = -1 if text.startswith("-") else 1
    digits = text.lstrip("+-")
    if digits.startswith("0o"):
        return sign * int(digits[2:], 8)
    if digits.startswith("0x"):
        return sign * int(digits[2:], 16)
    return sign * int(digits, 10)


def _construct_str_timestamp(loader, node):
    return loader.construct_scalar(node)


_Yaml12Loader.add_constructor("tag:yaml.org,2002:int", _construct_int)
_Yaml12Loader.add_constructor("tag:yaml.org,2002:timestamp", _construct_str_timestamp)


class AliasBomb(Exception):
    """The YAML expands (through anchors and aliases) into more nodes than any frontmatter needs."""


class YamlProblem(Exception):
    def __init__(self, message: str, line: int, col: int):
        super().__init__(message)
        self.line = line  # 1-based within the YAML text; 0 = unknown
        self.col = col


def _expanded_size(node, memo: dict, depth: int = 0) -> int:
    key = id(node)
    if key in memo:
        return memo[key]
    if depth > 200:
        raise AliasBomb("nesting deeper than 200 levels")
    memo[key] = 1  # guards against recursive structures
    if isinstance(node, yaml.SequenceNode):
        size = 1 + sum(_expanded_size(child, memo, depth + 1) for child in node.value)
    elif isinstance(node, yaml.MappingNode):
        size = 1 + sum(_expanded_size(k, memo, depth + 1) + _expanded_size(v, memo, depth + 1) for k, v in node.value)
    else:
        size = 1
    if size > MAX_EXPANDED_NODES:
        raise AliasBomb(f"expands to more than {MAX_EXPANDED_NODES} nodes")
    memo[key] = size
    return size


def load_yaml(text: str):
    """Parse one YAML document safely. Raises YamlProblem or AliasBomb."""
    loader = _Yaml12Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        if "*" in text:  # aliases only exist where the text has '*'
            _expanded_size(node, {})
        return loader.construct_document(node)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (0, 0)
        problem = " ".join(str(part) for part in (exc.context, exc.problem) if part)
        raise YamlProblem(problem or str(exc), line, col) from None
    except yaml.YAMLError as exc:
        raise YamlProblem(str(exc).splitlines()[0], 0, 0) from None
    except (RecursionError, TypeError, ValueError) as exc:
        raise YamlProblem(f"cannot build the data ({type(exc).__name__})", 0, 0) from None
    finally:
        loader.dispose()


def repair_yaml(text: str) -> tuple[str, list[tuple[int, str, str]]]:
    """Claude Code's second attempt: quote risky values, then indent tabs become two spaces each.

    Returns the repaired text and (line, original, replacement) for every line it changed (1-based).
    """
    out, changed = [], []
    for number, raw in enumerate(text.split("\n"), start=1):
        new = raw
        match = _REPAIR_LINE_RE.match(raw)
        if match:
            key, value = match.groups()
            quoted = (value.startswith('"') and value.endswith('"')) or (value.startswith("'") and value.endswith("'"))
            is_flow_list = False
            if not quoted and value.startswith("[") and value.endswith("]"):
                try:
                    is_flow_list = isinstance(load_yaml(value), list)
                except (YamlProblem, AliasBomb):
                    is_flow_list = False
            if not quoted and not is_flow_list and _RISKY_VALUE_RE.search(value):
                escaped = value.replace("\\", "\\\\").replace('"', '\\"')
                new = f'{key}: "{escaped}"'
        tabs = re.match(r"^\t+", new)
        if tabs:
            new = "  " * len(tabs.group(0)) + new[len(tabs.group(0)):]
        if new != raw:
            changed.append((number, raw, new))
        out.append(new)
    return "\n".join(out), changed


@dataclass
class Parsed:
    """What the runtime would see in one Markdown file."""

    text: str
    has_frontmatter: bool = False
    data: dict = field(default_factory=dict)
    yaml_text: str = ""
    yaml_first_line: int = 0  # file line of the first YAML line
    body: str = ""
    body_first_line: int = 1
    raw_keys_lines: dict = field(default_factory=dict)  # top-level key -> file line


_KEY_LINE_RE = re.compile(r"^([A-Za-z0-9_][A-Za-z0-9_-]*|\"[^\"]+\"|'[^']+')\s*:")


def key_lines(yaml_text: str, first_line: int) -> dict:
    lines = {}
    for offset, raw in enumerate(yaml_text.split("\n")):
        match = _KEY_LINE_RE.match(raw)
        if match:
            lines.setdefault(match.group(1).strip("\"'"), first_line + offset)
    return lines


def split(text: str) -> tuple[re.Match | None, str]:
    """Apply Claude Code's frontmatter regex; returns (match, body)."""
    match = FRONTMATTER_RE.match(text)
    if not match:
        return None, text
    return match, text[match.end():]
