"""Database URL literals (Python strings and alembic .ini values) and engine `echo` settings."""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field
from urllib.parse import parse_qs, unquote

from dbagents.check.source import SourceFile
from dbagents.check.walk import of_type

KEY = "db_urls"
KINDS = ("python", "ini")
TRIGGERS = ("://", "echo", "password")

DIALECTS = {
    "postgresql", "postgres", "pgsql", "mysql", "mariadb", "oracle", "mssql", "cockroachdb", "redshift",
    "snowflake", "clickhouse", "trino", "presto", "db2", "ibm_db_sa", "firebird", "sybase", "teradata",
    "vertica", "timescaledb", "yugabytedb",
}
URL = re.compile(  # the netloc runs to the last `@` before the path: a password may hold `#`, `@` or `?`
    r"(?P<scheme>[A-Za-z][A-Za-z0-9_]*)(?:\+(?P<driver>[A-Za-z0-9_]+))?://"
    r"(?P<netloc>(?:[^\s'\"/]*@)?[^/?#\s'\"@]*)(?P<rest>[^\s'\"]*)"
)
# In a Python string the text is exact: quotes inside the password are part of it.
URL_IN_STRING = re.compile(
    r"(?P<scheme>[A-Za-z][A-Za-z0-9_]*)(?:\+(?P<driver>[A-Za-z0-9_]+))?://"
    r"(?P<netloc>(?:[^\s/]*@)?[^/?#\s'\"@]*)(?P<rest>[^\s'\"]*)"
)
# Passwords that stand for "put yours here" in docs, templates and prompts (not a credential anyone uses).
PLACEHOLDER_PASSWORDS = re.compile(
    r"^(.|pass|password|passwd|pwd|pw|secret|changeme|change[-_]?me|changeit|change[-_]?this|placeholder|example|"
    r"dummy|redacted|hidden|user[-_]?pass(word)?|db[-_]?pass(word)?|"
    r"(your|my|some|the|a)[-_]?\w*(pass|password|passwd|pwd|secret)\w*|\w*(password|passwd)[-_]?here)$",
    re.IGNORECASE,
)
HELP_KEYWORDS = {"help", "description", "prompt", "metavar", "example", "examples", "epilog", "usage", "title",
                 "placeholder", "doc", "summary", "long_help", "short_help"}
PLACEHOLDER = re.compile(r"^(\$\{?\w+\}?|.*\$\{?\w+\}?.*|%\(\w+\)s|%%\(\w+\)s|%s|\{\w*\}|<[^>]*>|\[[^\]]*\]|\*+|x+|\.\.\.|"
                         r"\x00|\$\w+.*|.*\x00.*|\{.*\})$", re.IGNORECASE)
HOLE = "\x00"
HOSTNAME = re.compile(r"^([A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*|\[[0-9A-Fa-f:.]+\])?$")
RESERVED_DOMAINS = (".example", ".example.com", ".example.org", ".example.net", ".test", ".invalid")  # RFC 2606
LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1", "[::1]", "0.0.0.0", "host.docker.internal", ""}
ECHO_FUNCS = {"create_engine", "create_async_engine", "engine_from_config", "async_engine_from_config"}


@dataclass(frozen=True)
class DbUrl:
    line: int
    col: int
    scheme: str
    has_password: bool  # a literal password (not a placeholder)
    host: str  # "" = none/unix socket; None-like placeholders are kept verbatim
    host_is_local: bool
    host_is_placeholder: bool
    ssl: str  # sslmode/ssl query value ("" = none)
    kind: str  # python | ini | url.create
    driver: str = ""  # the `+driver` part of the scheme (asyncpg, psycopg, …)
    sslmode: bool = False  # the query spells it `sslmode=` (libpq's name; asyncpg takes `ssl=`)


@dataclass(frozen=True)
class EchoSetting:
    line: int
    col: int
    call: str


@dataclass
class UrlFacts:
    urls: list[DbUrl] = field(default_factory=list)
    echoes: list[EchoSetting] = field(default_factory=list)


def _is_placeholder(text: str) -> bool:
    return bool(PLACEHOLDER.match(text)) or "{" in text or HOLE in text or "${" in text or "%(" in text


def _is_placeholder_password(text: str) -> bool:
    return _is_placeholder(text) or bool(PLACEHOLDER_PASSWORDS.match(text))


def is_reserved_host(host: str) -> bool:
    """RFC 2606 / RFC 6761 names that never resolve to someone's server (`db.example.com`, `x.test`)."""
    h = host.lower().rstrip(".")
    return h in ("example", "example.com", "example.org", "example.net") or h.endswith(RESERVED_DOMAINS)


def parse_urls(text: str, line: int, col: int, kind: str) -> list[DbUrl]:
    found = []
    for m in (URL_IN_STRING if kind == "python" else URL).finditer(text):
        scheme = m.group("scheme").lower()
        if scheme not in DIALECTS:
            continue
        netloc = m.group("netloc")
        userinfo, _, hostport = netloc.rpartition("@")
        password = ""
        if userinfo and ":" in userinfo:
            password = unquote(userinfo.split(":", 1)[1])
        has_password = bool(password) and not _is_placeholder_password(password)
        if hostport.startswith("["):
            host = hostport.split("]")[0] + "]"
        else:
            host = hostport.split(":")[0]
        rest = m.group("rest")
        query = parse_qs(rest.split("?", 1)[1]) if "?" in rest else {}
        driver = (m.group("driver") or "").lower()
        keys = ("ssl",) if driver == "asyncpg" else ("sslmode", "ssl", "ssl_mode")  # asyncpg.connect(ssl=…)
        ssl = next((query[k][0] for k in keys if query.get(k)), "").lower()
        socket_host = any(v.startswith("/") for v in query.get("host", []))
        placeholder = _is_placeholder(host) or not HOSTNAME.match(host) or is_reserved_host(host)
        local = (
            host.lower() in LOCAL_HOSTS or host.startswith("127.") or host.lower().endswith(".localhost")
            or ("." not in host and not host.startswith("[")) or socket_host
        )
        found.append(DbUrl(line, col, scheme, has_password, host, local, placeholder, ssl, kind, driver,
                           "sslmode" in query))
    return found


def _string_of(node: ast.AST) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(p.value if isinstance(p, ast.Constant) else HOLE for p in node.values)
    return None


def _docstring_ids(tree: ast.Module) -> set[int]:
    ids = set()
    for node in of_type(tree, ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef):
        if node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                ids.add(id(first.value))
    return ids


PROSE = re.compile(r"\b(e\.g\.|for example|example:|such as|like this|use)\s", re.IGNORECASE)


def _help_argument_ids(tree: ast.Module) -> set[int]:
    """Strings written for people: `help=`/`prompt=`/`description=`… arguments of a call."""
    in_classes = {id(kw) for cls in of_type(tree, ast.ClassDef) for kw in cls.keywords}  # `class A(B, x=…)`
    ids = set()
    for kw in of_type(tree, ast.keyword):
        if kw.arg in HELP_KEYWORDS and id(kw) not in in_classes:
            ids.update(id(n) for n in of_type(kw.value, ast.Constant, ast.JoinedStr))
    return ids


def _python(src: SourceFile, facts: UrlFacts) -> None:
    if "://" in src.text:  # strings holding a URL (an f-string's text parts are read with the f-string)
        in_fstring: set[int] = set()
        holding: list[tuple[ast.AST, str]] = []
        for node in of_type(src.tree, ast.Constant, ast.JoinedStr):
            if isinstance(node, ast.JoinedStr):
                in_fstring.update(id(v) for v in node.values)
            if id(node) not in in_fstring:
                text = _string_of(node)
                if text and "://" in text:
                    holding.append((node, text))
        if holding:
            for_people = _docstring_ids(src.tree) | _help_argument_ids(src.tree)
            for node, text in holding:
                if id(node) in for_people or node.__class__ is ast.Constant and PROSE.search(text):
                    continue  # also prose that shows a URL ("For a remote database, use postgresql://…")
                facts.urls.extend(parse_urls(text, node.lineno, node.col_offset + 1, "python"))
    if "URL" not in src.text and "echo" not in src.text:
        return
    for node in of_type(src.tree, ast.Call):
        name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
        if name == "create" and isinstance(node.func, ast.Attribute) and (
            (isinstance(node.func.value, ast.Name) and node.func.value.id == "URL")
            or (isinstance(node.func.value, ast.Attribute) and node.func.value.attr == "URL")
        ):
            _url_create(node, facts)
        if name in ECHO_FUNCS:
            for kw in node.keywords:
                if kw.arg == "echo" and isinstance(kw.value, ast.Constant) and kw.value.value in (True, "debug"):
                    facts.echoes.append(EchoSetting(kw.value.lineno, kw.value.col_offset + 1, name))


def _url_create(node: ast.Call, facts: UrlFacts) -> None:
    kws = {kw.arg: kw.value for kw in node.keywords if kw.arg}
    pw = kws.get("password")
    drivername = _string_of(kws.get("drivername")) if "drivername" in kws else (
        _string_of(node.args[0]) if node.args else None
    )
    scheme = (drivername or "").split("+")[0].lower()
    if pw is None or scheme not in DIALECTS:
        return
    text = _string_of(pw)
    if text and not _is_placeholder_password(text):
        host = _string_of(kws.get("host")) if "host" in kws else ""
        host = host or ""
        local = host.lower() in LOCAL_HOSTS or host.startswith("127.") or "." not in host
        facts.urls.append(DbUrl(pw.lineno, pw.col_offset + 1, scheme, True, host, local, host == "" and "host" in kws,
                                "", "url.create"))


ECHO_INI = re.compile(r"^\s*[\w.]*echo\s*[=:]\s*(true|1|yes|on|debug)\s*$", re.IGNORECASE)


def _ini(src: SourceFile, facts: UrlFacts) -> None:
    for number, line in enumerate(src.lines, start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith(("#", ";", "[")):
            continue
        if "://" in line:
            facts.urls.extend(parse_urls(line, number, len(line) - len(line.lstrip()) + 1, "ini"))
        elif "echo" in line and ECHO_INI.match(line):
            facts.echoes.append(EchoSetting(number, 1, "sqlalchemy.echo"))


def extract(src: SourceFile) -> UrlFacts | None:
    facts = UrlFacts()
    if src.kind == "ini":
        _ini(src, facts)
    elif src.tree is not None:
        _python(src, facts)
    return facts if facts.urls or facts.echoes else None
