"""How a file treats secret-looking attributes (for DBA505), as plain builtins:

- ``hashed``: ``[class, attribute]`` pairs a ``@validates(...)`` hook or a property setter of that class hashes or
  encrypts before it is stored (``return hash_password(value)``, ``self._password = bcrypt.hashpw(...)``);
- ``raw_lines``: lines of column declarations whose ``default=`` generates a token (``lambda: generate_token(40)``,
  ``secrets.token_urlsafe``), i.e. the column holds the raw token whatever its length;
- ``raw_attrs``: credential-named (``secret_named``) attribute names assigned a freshly generated token anywhere in the file
  (``client.api_key = secrets.token_hex(32)``, ``user.otp_secret = pyotp.random_base32()``);
- ``hashed_attrs``: ``[whose, attribute]`` pairs (credential-named attributes) assigned the result of hashing anywhere in the file, ``whose``
  being the lower-cased receiver or class named there (``new_user.password = hash_password(plain)`` gives
  ``["new_user", "password"]``, ``User(password=hash_password(plain))`` gives ``["user", "password"]``).
"""

from __future__ import annotations

import ast
import re
from functools import lru_cache

from dbagents.check.names import dotted
from dbagents.check.source import SourceFile
from dbagents.check.walk import of_type

KEY = "secret_columns"
TRIGGERS = ("validates", ".setter", "token", "secret", "random", "otp", "uuid", "urandom", "hash", "crypt")

HASHING = re.compile(r"hash|crypt|argon|pbkdf|scrypt|digest|hmac|(^|_)sign(_|$)|make_password", re.IGNORECASE)
GENERATOR = re.compile(r"token_(hex|urlsafe|bytes)|generate_\w*(token|key|secret)|random_base32|random_hex|urandom|"
                       r"random_string|get_random|uuid[14]|gen_\w*(token|key|secret)", re.IGNORECASE)
GENERATOR_HINTS = ("token_", "generate_", "random", "urandom", "uuid1", "uuid4", "gen_", "Generate", "Random")
HASHING_HINTS = ("hash", "Hash", "crypt", "Crypt", "argon", "pbkdf", "digest", "hmac", "sign", "make_password")
VALUE_KINDS = {ast.Call, ast.Lambda, ast.Await}
COLUMN_CALLS = {"Column", "mapped_column", "Field", "column_property"}
DEFAULT_KEYWORDS = ("default", "default_factory", "insert_default")
_FUNCS = (ast.FunctionDef, ast.AsyncFunctionDef)


SECRET = re.compile(
    r"(?:^|_)(password|passwd|pwd|passphrase|secret|token|api_?key|apikey|private_?key|access_?key|secret_?key"
    r"|client_secret|refresh_token|access_token|auth_token|otp_secret|totp_secret|(?:t?otp|mfa|2fa)_?(?:seed|key))(?:_|$)"
)
# Every name SECRET matches, once snake-cased and lower-cased, contains one of these.
CREDENTIAL_WORDS = ("password", "passwd", "pwd", "passphrase", "secret", "token", "apikey", "api_key", "privatekey",
                    "private_key", "accesskey", "access_key", "otp", "mfa", "2fa")
_CAMEL = re.compile(r"([a-z0-9])([A-Z])")


def snake(name: str) -> str:
    """`apiKey` -> `api_key`, lower-cased."""
    return _CAMEL.sub(r"\1_\2", name).lower()


@lru_cache(maxsize=8192)  # the same attribute and keyword names recur across files
def secret_named(name: str) -> bool:
    """Whether a column or attribute name says it holds a credential (DBA505 then also rules out safe parts)."""
    return bool(SECRET.search(snake(name.lstrip("_"))))


def _name(node: ast.AST) -> str:
    if isinstance(node, ast.Call):
        node = node.func
    return node.attr if isinstance(node, ast.Attribute) else getattr(node, "id", "")


def _chain(node: ast.AST) -> list[str]:
    """The names along `a.b.c` (a call reads as its callee): `bcrypt.hashpw(…)` gives ["bcrypt", "hashpw"]."""
    if isinstance(node, ast.Call):
        node = node.func
    name = dotted(node, calls=False)
    return name.split(".") if name else []


def _hashes(fn: ast.AST) -> bool:
    """Whether any call inside `fn` is named like hashing or encryption."""
    return any(HASHING.search(n) for call in of_type(fn, ast.Call) for n in _chain(call))


def _top_calls(node: ast.AST) -> list[str]:
    """Names of the value itself and the calls one level inside it (`str(uuid4())`, `lambda: token(40)`)."""
    if isinstance(node, ast.Lambda):
        node = node.body
    names = _chain(node)
    if isinstance(node, ast.Call):
        for arg in node.args:
            names.extend(_chain(arg))
    return names


def _generates(node: ast.AST | None) -> bool:
    return node is not None and any(GENERATOR.search(n) for n in _top_calls(node))


def _hashed_value(node: ast.AST) -> bool:
    if isinstance(node, ast.Await):
        node = node.value
    return isinstance(node, ast.Call) and any(HASHING.search(n) for n in _top_calls(node))


def _hooked(fn: ast.AST) -> list[str]:
    """Attributes `fn` stands in front of: `@validates("a", "b")` names, or a property setter's own name and
    the `self.x` it assigns."""
    names: list[str] = []
    for dec in fn.decorator_list:
        if isinstance(dec, ast.Call) and _name(dec) == "validates":
            names.extend(a.value for a in dec.args if isinstance(a, ast.Constant) and isinstance(a.value, str))
        elif isinstance(dec, ast.Attribute) and dec.attr in ("setter", "expression_setter"):
            names.append(fn.name)
            for node in of_type(fn, ast.Attribute):
                if isinstance(node.ctx, ast.Store) and isinstance(node.value, ast.Name) and node.value.id == "self":
                    names.append(node.attr)
    return names


def extract(src: SourceFile) -> dict | None:
    hashed: list[list[str]] = []
    for cls in of_type(src.tree, ast.ClassDef):
        for fn in cls.body:
            if isinstance(fn, _FUNCS) and fn.decorator_list:
                names = _hooked(fn)
                if names and _hashes(fn):
                    hashed.extend([cls.name, n] for n in dict.fromkeys(names))
    raw_lines: list[int] = []
    raw_attrs: list[str] = []
    hashed_attrs: list[list[str]] = []
    text, looks = src.text, {}

    def mentions(hints: tuple[str, ...]) -> bool:
        """A cheap look at the whole text (substrings, no regex), taken once a candidate needs it."""
        seen = looks.get(hints)
        if seen is None:
            seen = looks[hints] = any(k in text for k in hints)
        return seen

    for node in of_type(src.tree, ast.Assign):
        if node.value.__class__ not in VALUE_KINDS or node.targets[0].__class__ is not ast.Attribute:
            continue
        targets = [t for t in node.targets if isinstance(t, ast.Attribute) and secret_named(t.attr)]
        if not targets or not (mentions(GENERATOR_HINTS) or mentions(HASHING_HINTS)):
            continue  # only credential-named attributes matter to DBA505
        if _generates(node.value):
            raw_attrs.extend(t.attr for t in targets)
        elif _hashed_value(node.value):
            hashed_attrs.extend([_name(t.value).lower(), t.attr] for t in targets)
    for call in of_type(src.tree, ast.Call):
        if not call.keywords:
            continue
        func = call.func
        callee = func.attr if func.__class__ is ast.Attribute else getattr(func, "id", "")  # _name(call), inlined
        if callee in COLUMN_CALLS:  # a column whose default generates a token holds it raw
            if any(kw.arg in DEFAULT_KEYWORDS and _generates(kw.value) for kw in call.keywords) \
                    and mentions(GENERATOR_HINTS):
                raw_lines.extend(range(call.lineno, (call.end_lineno or call.lineno) + 1))
            continue
        for kw in call.keywords:  # Model(api_key=token_hex(32))
            if kw.value.__class__ not in VALUE_KINDS or not kw.arg or not secret_named(kw.arg):
                continue
            if not (mentions(GENERATOR_HINTS) or mentions(HASHING_HINTS)):
                continue
            if _generates(kw.value):
                raw_attrs.append(kw.arg)
            elif _hashed_value(kw.value):
                hashed_attrs.append([callee.lower(), kw.arg])
    if not (hashed or raw_lines or raw_attrs or hashed_attrs):
        return None
    lowered = text.lower()  # looked at last: few files get this far
    if not any(word in lowered for word in CREDENTIAL_WORDS):
        return None  # no credential-named attribute here: nothing DBA505 could use
    return {"hashed": hashed, "raw_lines": sorted(set(raw_lines)), "raw_attrs": sorted(set(raw_attrs)),
            "hashed_attrs": sorted({tuple(p) for p in hashed_attrs})}
