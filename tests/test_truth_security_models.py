"""DBA505 on the shapes real projects write (issue 12): hooks that hash, mixin columns, raw tokens."""

from __future__ import annotations

import textwrap
from pathlib import Path

from dbagents.check.engine import check_tree
from dbagents.config import Config

BASE = "from sqlalchemy import Column, String, Integer\nfrom sqlalchemy.orm import DeclarativeBase, declared_attr\n" \
       "class Base(DeclarativeBase):\n    pass\n"


def found(tmp_path: Path, files: dict[str, str]) -> list:
    for rel, text in files.items():
        target = tmp_path / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(textwrap.dedent(text), encoding="utf-8")
    outcome = check_tree([tmp_path], root=tmp_path, config=Config(), enabled={"DBA505"}, jobs=1, use_cache=False)
    return [f for f in outcome.findings if f.rule_id == "DBA505"]


def test_a_conditional_declared_attr_is_named_as_the_mixin_column(tmp_path):
    mixin = BASE + (
        "class ProtectionMixin:\n    allow_access_key = False\n\n    @declared_attr\n    def access_key(cls):\n"
        "        if cls.allow_access_key:\n            return Column(String, nullable=False, default='')\n"
    )
    models = (
        "from app.base import Base, ProtectionMixin\nfrom sqlalchemy import Column, Integer\n"
        "class Attachment(ProtectionMixin, Base):\n    __tablename__ = 'attachments'\n"
        "    id = Column(Integer, primary_key=True)\n"
        "class Event(ProtectionMixin, Base):\n    __tablename__ = 'events'\n    allow_access_key = True\n"
        "    id = Column(Integer, primary_key=True)\n"
    )
    got = found(tmp_path, {"app/base.py": mixin, "app/models.py": models})
    assert all("attachments" not in f.message for f in got)
    assert [(f.path, f.line) for f in got] == [("app/base.py", 9)] and "mixin column `access_key`" in got[0].message


def test_a_setter_that_hashes_in_another_shape(tmp_path):
    code = BASE + (
        "class Team(Base):\n    __tablename__ = 'teams'\n    id = Column(Integer, primary_key=True)\n"
        "    _password = Column('password', String(128))\n"
        "    @property\n    def password(self):\n        return self._password\n"
        "    @password.setter\n    def password(self, plaintext):\n        self._password = bcrypt.hashpw(plaintext, salt)\n"
        "class Plain(Base):\n    __tablename__ = 'plain'\n    id = Column(Integer, primary_key=True)\n"
        "    password = Column(String(128))\n"
        "    @validates('password')\n    def _check(self, key, value):\n        assert len(value) > 8\n        return value\n"
    )
    got = found(tmp_path, {"app/models.py": code})
    assert [f.line for f in got] == [18]  # the validator that does not hash leaves Plain.password reported


def test_a_token_assigned_elsewhere_makes_a_digest_sized_column_raw(tmp_path):
    models = BASE + (
        "class ApiKey(Base):\n    __tablename__ = 'api_keys'\n    id = Column(Integer, primary_key=True)\n"
        "    api_key = Column(String(64), unique=True)\n    token_hash = Column(String(64))\n"
        "class Session(Base):\n    __tablename__ = 'sessions'\n    id = Column(Integer, primary_key=True)\n"
        "    token = Column(String(64))\n"
    )
    service = "import secrets\ndef issue(db):\n    key = ApiKey(api_key=secrets.token_urlsafe(48))\n    db.session.add(key)\n"
    got = found(tmp_path, {"app/models.py": models, "app/service.py": service})
    assert [f.line for f in got] == [8] and "generated token" in got[0].message  # Session.token: no evidence


def test_a_column_the_code_assigns_a_hash_and_push_addresses(tmp_path):
    models = BASE + (
        "class User(Base):\n    __tablename__ = 'users'\n    id = Column(Integer, primary_key=True)\n"
        "    password = Column(String)\n    expo_push_token = Column(String)\n    csrf_token = Column(String)\n"
        "class Csrf(Base):\n    __tablename__ = 'csrf_token'\n    id = Column(Integer, primary_key=True)\n    token = Column(String)\n"
        "class Admin(Base):\n    __tablename__ = 'admins'\n    id = Column(Integer, primary_key=True)\n"
        "    passphrase = Column(String)\n"
    )
    routes = ("def change(db, user, new):\n    user.password = security.hash_password(new)\n    db.session.commit()\n"
              "def register(db, form):\n    db.add(User(password=hash_password(form.password)))\n")
    got = found(tmp_path, {"app/models.py": models, "app/routes.py": routes})
    assert [f.line for f in got] == [18]  # Admin.passphrase: nothing hashes it


def test_a_hash_assigned_to_a_name_two_classes_share_proves_nothing(tmp_path):
    models = BASE + (
        "class Token(Base):\n    __tablename__ = 'tokens'\n    id = Column(Integer, primary_key=True)\n"
        "    access_token = Column(String)\n"
        "class Account(Base):\n    __tablename__ = 'accounts'\n    id = Column(Integer, primary_key=True)\n"
        "    access_token = Column(String(1024))\n"
    )
    service = "def issue(db, token, account):\n    db.add(Token(access_token=get_token_hash(token)))\n    account.access_token = sign(token)\n"
    got = found(tmp_path, {"app/models.py": models, "app/service.py": service})
    assert [f.line for f in got] == [8, 12]


def test_the_cheap_credential_gate_lets_every_secret_name_through():
    """facts/secrets.py skips files without a credential word (lower-cased text); every spelling of a name the
    SECRET pattern matches must hold one, or DBA505 would silently lose that file's hashing facts."""
    from dbagents.check.facts.secrets import CREDENTIAL_WORDS, SECRET, snake

    spellings = []
    for word in ("password", "passwd", "pwd", "passphrase", "secret", "token", "api_key", "apikey", "private_key",
                 "access_key", "secret_key", "client_secret", "refresh_token", "access_token", "auth_token",
                 "otp_secret", "totp_secret", "totp_seed", "otp_key", "mfa_seed", "2fa_key"):
        camel = word.split("_")[0] + "".join(p.title() for p in word.split("_")[1:])
        spellings += [word, word.upper(), camel, camel[:1].upper() + camel[1:]]
    matched = [name for name in spellings if SECRET.search(snake(name))]
    assert len(matched) > 60  # nearly every spelling is a secret name
    for name in matched:
        assert any(w in name.lower() for w in CREDENTIAL_WORDS), name
