"""DBA505: a string column named like a password/secret/token with no sign of hashing or encryption."""

from __future__ import annotations

import re
from typing import Iterable

from dbagents.check.facts.secrets import KEY as SECRETS, secret_named, snake
from dbagents.check.rule import Example, ProjectRule
from dbagents.findings import Finding, Severity

SAFE_PARTS = {
    "hash", "hashed", "digest", "salt", "salted", "encrypted", "enc", "crypt", "crypted", "cipher", "ciphertext",
    "bcrypt", "argon2", "scrypt", "pbkdf2", "sha", "sha1", "sha256", "sha512", "hmac", "prefix", "suffix",
    "last4", "last_four", "hint", "type", "name", "id", "ids", "url", "uri", "count", "length", "len", "kind",
    "scope", "scopes", "label", "description", "version", "fingerprint", "expires", "expiry", "expiration",
    "expire", "at", "on", "date", "time", "policy", "algorithm", "algo", "format", "mask", "masked", "preview",
    "changed", "updated", "created", "required", "enabled", "set", "status", "strength", "rotated",
    "path", "file", "ref", "reference", "arn", "vault", "kms", "sent", "used", "attempts", "revoked", "lifetime",
    "ttl", "public", "encoded", "identifier", "index", "field", "header", "env",
    "push", "device", "fcm", "apns", "expo", "csrf",  # device push addresses and CSRF nonces are not credentials
}
NOT_CREDENTIALS = {"push", "device", "fcm", "apns", "expo", "csrf"}
# Binary columns are left out: bcrypt output and ciphertext are bytes, plain text rarely is.
STRING_TYPES = {"String", "Text", "Unicode", "UnicodeText", "VARCHAR", "TEXT", "CHAR", "NVARCHAR", "CITEXT"}
HEAD = "from sqlalchemy.orm import DeclarativeBase\nclass Base(DeclarativeBase):\n    pass\n"


HASH_LENGTHS = {40, 60, 64}  # sha1 / bcrypt / sha256 hex


def _hash_sized(c) -> bool:
    """CHAR(n), or String(40|60|64): fixed-size digests, the usual storage of a hashed token."""
    ref = c.type
    if ref is None or not ref.called:
        return False
    length = ref.args[0] if ref.args and isinstance(ref.args[0], int) else ref.kw("length")
    if c.sql_type in ("CHAR", "NCHAR"):
        return True
    return isinstance(length, int) and length in HASH_LENGTHS


def _assigned_hash(receivers, classes) -> bool:
    """A hash assigned through `new_user.password = …` or `User(password=…)` counts for class User."""
    names = {c.lower().replace("_", "") for c in classes}
    return any(n and n in r.replace("_", "") for r in receivers for n in names)


def looks_secret(name: str) -> bool:
    if not secret_named(name):
        return False
    lowered = snake(name)
    parts = set(lowered.split("_"))
    if parts & SAFE_PARTS:
        return False
    return True  # "reset_password_token" is still a secret; "password_reset_sent_at" was excluded above


class PlaintextSecretColumn(ProjectRule):
    id = "DBA505"
    name = "plaintext-secret-column"
    groups = ("security", "models")
    severity = Severity.WARNING
    summary = "String column named password/secret/token/api_key with no hash or encryption hint."
    hint = "store a hash (bcrypt/argon2 for passwords, SHA-256 for tokens) in a *_hash column, or use an encrypted type"
    doc = """
## What it does
Finds mapped and Core columns whose attribute or column name contains `password`, `passwd`, `secret`,
`token`, `api_key`, `private_key`, `access_key` … (the word list of bandit's B105) and whose type is a
string or binary type (explicit, or `Mapped[str]`), unless the name says it is not the secret itself:
`password_hash`, `token_digest`, `encrypted_api_key`, `api_key_prefix`, `token_expires_at`, `token_type`.
Columns with a non-string type (binary hash output, an encrypted or password type from sqlalchemy-utils)
are not reported, nor are columns a `@validates(...)` hook or a property setter of the class hashes or
encrypts before storing (`return hash_password(value)`), or that the code assigns a hash anywhere
through a receiver or constructor named after the class (`new_user.password = hash_password(plain)`,
`User(password=hash_password(plain))`) when no other mapped class has an attribute of that name. Device push addresses
(`expo_push_token`, `fcm_token`) and CSRF nonces (`csrf_token.token`, by column or table name) are not
credentials and are not reported. Fixed-size columns typical of digests (`CHAR(n)`,
`String(40|60|64)`) are left alone unless the code stores a generated token in them — a token generator as
the column's `default=` (`lambda: generate_token(40)`) or assigned to the attribute (`user.api_key =
secrets.token_hex(32)`, `otp_secret = pyotp.random_base32()`): then they hold the raw token. A column declared
in a mixin is named as the mixin's column, since a conditional `declared_attr` may give it to some tables only.

## Why is this bad
A secret stored in plain text is exposed to every backup, replica, log of a slow query, support dump and
SQL injection. Passwords must be hashed with a slow password hash; API tokens only need a fast hash since
they are random; secrets you must read back belong in an encrypted column or a vault.

## Example
```python
password: Mapped[str] = mapped_column(String(128))
api_key: Mapped[str] = mapped_column(unique=True)
```

## Fix
```python
password_hash: Mapped[str] = mapped_column(String(255))   # argon2/bcrypt output
api_key_hash: Mapped[str] = mapped_column(String(64), unique=True)  # sha256 of the token
```
"""
    valid = [
        Example(
            HEAD + "class User(Base):\n    __tablename__ = 'users'\n"
            "    id: Mapped[int] = mapped_column(primary_key=True)\n"
            "    password_hash: Mapped[str] = mapped_column(String(255))\n"
            "    api_key_prefix: Mapped[str] = mapped_column(String(8))\n"
            "    token_expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))\n"
            "    secret = Column(EncryptedType(String, key))\n"
            "    _password = Column('password_digest', String(255))\n"
        ),
        Example(
            HEAD + "from sqlalchemy.orm import validates\nclass User(Base):\n    __tablename__ = 'users'\n"
            "    id: Mapped[int] = mapped_column(primary_key=True)\n"
            "    password: Mapped[str] = mapped_column(String(128))\n"
            "    _secret: Mapped[str] = mapped_column('secret', String(128))\n"
            "    @validates('password')\n    def _hash(self, key, plaintext):\n        return hash_password(plaintext)\n"
            "    @hybrid_property\n    def secret(self):\n        return self._secret\n"
            "    @secret.setter\n    def secret(self, value):\n        self._secret = fernet.encrypt(value)\n",
            note="hashed by a @validates hook / encrypted by a setter",
        ),
    ]
    invalid = [
        Example(
            HEAD + "class User(Base):\n    __tablename__ = 'users'\n"
            "    id: Mapped[int] = mapped_column(primary_key=True)\n"
            "    password: Mapped[str] = mapped_column(String(128))\n"
            "    api_key: Mapped[str] = mapped_column(unique=True)\n"
            "    resetPasswordToken = Column(Text)\n",
            lines=(7, 8, 9),
        ),
        Example(
            HEAD + "import secrets\nclass Client(Base):\n    __tablename__ = 'clients'\n"
            "    id: Mapped[int] = mapped_column(primary_key=True)\n"
            "    api_key: Mapped[str] = mapped_column(String(40), default=lambda: secrets.token_hex(20))\n"
            "    otp_secret: Mapped[str] = mapped_column(String(32))\n"
            "def enrol(client):\n    client.otp_secret = pyotp.random_base32()\n",
            lines=(8, 9), note="raw tokens in digest-sized columns",
        ),
    ]

    def check(self, project) -> Iterable[Finding]:
        index = project.get("models")
        hashed: set[tuple[str, str]] = set()
        raw_lines: set[tuple[str, int]] = set()
        raw_attrs: set[str] = set()
        hashed_attrs: dict[str, set[str]] = {}  # attribute -> receivers/classes a hash was assigned through
        for relpath, facts in project.module_facts(SECRETS):
            hashed.update((cls, attr) for cls, attr in facts["hashed"])
            for whose, attr in facts.get("hashed_attrs", ()):
                hashed_attrs.setdefault(attr, set()).add(whose)
            raw_lines.update((relpath, n) for n in facts["raw_lines"])
            raw_attrs.update(facts["raw_attrs"])
        owners: dict[str, int] = {}
        for _, c in index.unique_columns():
            owners[c.attr] = owners.get(c.attr, 0) + 1
        for t, c in index.unique_columns():
            if c.sql_type not in STRING_TYPES:
                continue
            if not all(looks_secret(n) for n in {c.attr.lstrip("_"), c.name}):
                continue
            if set(re.split(r"[_\W]+", t.name.lower())) & NOT_CREDENTIALS:
                continue  # `csrf_token.token`, `push_tokens.token`: the table says what kind of token it is
            classes = {c.owner, *t.classes} - {""}
            if any((cls, c.attr) in hashed or (cls, c.attr.lstrip("_")) in hashed for cls in classes):
                continue  # a @validates hook or a property setter hashes the value before it is stored
            raw = (c.relpath, c.line) in raw_lines or c.attr in raw_attrs or c.attr.lstrip("_") in raw_attrs
            if not raw and owners[c.attr] == 1 and _assigned_hash(hashed_attrs.get(c.attr, ()), classes):
                continue  # the code assigns it a hash (`new_user.password = hash_password(plain)`)
            if _hash_sized(c) and not raw:
                continue  # CHAR(n)/String(40|60|64) and nothing in the code stores a generated token there
            where = obj = f"{t.name}.{c.name}"
            if (c.owner and c.owner not in t.classes) or c.relpath != t.relpath:
                where, obj = f"the mixin column `{c.attr}`", c.attr  # not every table may get it (declared_attr)
            how = "a generated token stored" if raw else "a secret stored"
            yield self.finding(
                c.relpath, c.line, c.col,
                f"{where} looks like {how} as plain {c.sql_type}",
                end_line=c.end_line, obj=obj,
            )
