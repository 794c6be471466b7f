"""DBA505: a string column named like a password/secret/token with no sign of hashing or encryption."""

from __future__ import annotations

import re
from typing import Iterable

from dbagents.check.rule import Example, ProjectRule
from dbagents.findings import Finding, Severity

SECRET = re.compile(
    r"(?:^|_)(password|passwd|pwd|passphrase|secret|token|api_?key|apikey|private_?key|access_?key|secret_?key"
    r"|client_secret|refresh_token|access_token|auth_token|otp_secret|totp_secret)(?:_|$)"
)
SAFE_PARTS = {
    "hash", "hashed", "digest", "salt", "salted", "encrypted", "enc", "crypt", "crypted", "cipher", "ciphertext",
    "bcrypt", "argon2", "scrypt", "pbkdf2", "sha", "sha1", "sha256", "sha512", "hmac", "prefix", "suffix",
    "last4", "last_four", "hint", "type", "name", "id", "ids", "url", "uri", "count", "length", "len", "kind",
    "scope", "scopes", "label", "description", "version", "fingerprint", "expires", "expiry", "expiration",
    "expire", "at", "on", "date", "time", "policy", "algorithm", "algo", "format", "mask", "masked", "preview",
    "changed", "updated", "created", "required", "enabled", "set", "status", "strength", "rotated",
    "path", "file", "ref", "reference", "arn", "vault", "kms", "sent", "used", "attempts", "revoked", "lifetime",
    "ttl", "public", "encoded", "identifier", "index", "field", "header", "env",
}
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


def looks_secret(name: str) -> bool:
    lowered = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name).lower()
    if not SECRET.search(lowered):
        return False
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
and fixed-size columns typical of digests (`CHAR(n)`, `String(40|60|64)`) are not reported.

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
    ]

    def check(self, project) -> Iterable[Finding]:
        index = project.get("models")
        for t, c in index.unique_columns():
            if c.sql_type not in STRING_TYPES:
                continue
            if not all(looks_secret(n) for n in {c.attr.lstrip("_"), c.name}):
                continue
            if _hash_sized(c):
                continue  # `_password = Column("password_digest", …)`: the stored name says it is hashed
            yield self.finding(
                c.relpath, c.line, c.col,
                f"{t.name}.{c.name} looks like a secret stored as plain {c.sql_type}",
                end_line=c.end_line, obj=f"{t.name}.{c.name}",
            )
