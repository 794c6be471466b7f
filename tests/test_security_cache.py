"""The result cache cannot run code: a cache file planted in any format dbagents ever wrote (the pickle in the
checked tree, or anything at the per-user location) is ignored with one note and rebuilt; what is read back
is data built only from the engine's registered dataclasses; warm runs find exactly what cold runs find."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import pickle
import shutil
import stat
import sys
from pathlib import Path

import pytest

from dbagents.check import cache as result_cache
from dbagents.check import codec
from dbagents.check.engine import analyze, check_tree
from dbagents.check.facts import extractors
from dbagents.check.registry import selected_ids
from dbagents.config import Config

FIXTURES = Path(__file__).parent / "fixtures"

MODELS = '''
from datetime import datetime
from typing import Optional
import sqlalchemy as sa
from sqlalchemy import ForeignKey, Index, String, UniqueConstraint, create_engine, select, text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship, selectinload

engine = create_engine("postgresql://app:secret@db.example.com/app", echo=True)
LIMIT = 10 ** 3
FLAGS = (b"raw", 1 + 2j, ..., float("inf"), {1: "one", (2, 3): frozenset({"x"})})


class Base(DeclarativeBase):
    pass


class Level(enum.IntEnum):
    low = 1


class Team(Base):
    __tablename__ = "team"
    __table_args__ = (UniqueConstraint("name"), Index("ix_team_created", "created"))
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), default="x" * 3)
    created: Mapped[datetime] = mapped_column(sa.DateTime(timezone=False), server_default=sa.func.now())
    players: Mapped[list["Player"]] = relationship(back_populates="team", lazy="select")

    @validates("name")
    def _digest(self, key, value):
        return hashlib.sha256(value.encode()).hexdigest()


class Player(Base):
    __tablename__ = "player"
    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[Optional[int]] = mapped_column(ForeignKey("team.id"))  # noqa: DBA105
    score: Mapped[float] = mapped_column(default=-1.5)
    team: Mapped["Team"] = relationship(back_populates="players")


def report(session, name):
    session.execute(text(f"SELECT * FROM player WHERE name = '{name}'"))
    for team in session.scalars(select(Team)):
        print(team.players)
    for team in session.scalars(select(Team).options(selectinload(Team.players))):
        print(team.players)
'''

MIGRATION = '''
"""add player"""
from alembic import op
import sqlalchemy as sa

revision = "b2"
down_revision = "a1"


def upgrade():
    op.add_column("player", sa.Column("nick", sa.String(50), nullable=False))
    op.create_index("ix_player_nick", "player", ["nick"])
    op.execute("UPDATE player SET nick = name")


def downgrade():
    op.drop_index("ix_player_nick", "player")
    op.drop_column("player", "nick")
'''


class _Boom:
    """Unpickling this opens (creates) the marker file: what a planted cache would do to its victim."""

    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def evil_pickle(marker: Path) -> bytes:
    return pickle.dumps((_Boom(marker), {}, None))


def legacy_cache_path(root: Path) -> Path:
    """Where dbagents 0.1 kept its pickle: predictable from the checked folder's path alone."""
    key = hashlib.blake2b(str(root.resolve()).encode(), digest_size=8).hexdigest()
    return root / ".dbagents_cache" / f"check-{key}.pickle"


def make_project(root: Path) -> Path:
    (root / "app").mkdir(parents=True)
    (root / "app" / "models.py").write_text(MODELS)
    (root / "migrations" / "versions").mkdir(parents=True)
    (root / "migrations" / "versions" / "b2_add_player.py").write_text(MIGRATION)
    (root / "alembic.ini").write_text("[alembic]\nscript_location = migrations\n")
    return root


def findings_of(proc) -> list[tuple]:
    assert proc.returncode in (0, 1), proc.stderr
    return sorted((f["rule"], f["path"], f["line"], f["message"]) for f in json.loads(proc.stdout)["findings"])


@pytest.fixture
def cache_home(tmp_path, monkeypatch):
    home = tmp_path / "user-cache"
    monkeypatch.setenv(result_cache.ENV_VAR, str(home))
    return home


def _notes(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("dbagents: note:")]


def test_legacy_pickle_planted_in_the_tree_is_never_read(tmp_path, cache_home, run_cli):
    root = make_project(tmp_path / "proj")
    clean = findings_of(run_cli("check", "--no-cache", "--format", "json", ".", cwd=root))
    marker = tmp_path / "PWNED"
    planted = legacy_cache_path(root)
    planted.parent.mkdir()
    planted.write_bytes(evil_pickle(marker))
    (planted.parent / ".gitignore").write_text("*\n")
    for _ in range(2):  # cold, then warm from the per-user cache
        proc = run_cli("check", "--format", "json", ".", cwd=root)
        assert not marker.exists()
        assert "Traceback" not in proc.stderr
        assert findings_of(proc) == clean
    assert planted.read_bytes() == evil_pickle(marker)  # a user's file is left alone, never deleted
    assert result_cache.cache_file(root).is_file()


@pytest.mark.parametrize("payload", ["pickle", "pickle-after-header", "json-with-code-names", "huge-nesting"])
def test_anything_planted_at_the_per_user_location_is_ignored_with_one_note(tmp_path, cache_home, run_cli, payload):
    root = make_project(tmp_path / "proj")
    clean = findings_of(run_cli("check", "--no-cache", "--format", "json", ".", cwd=root))
    marker = tmp_path / "PWNED"
    target = result_cache.cache_file(root)
    target.parent.mkdir(parents=True)
    header = json.dumps({"format": result_cache.FORMAT, "version": result_cache.VERSION,
                         "engine": result_cache.engine_fingerprint(), "root": str(root.resolve())}).encode()
    if payload == "pickle":
        data = evil_pickle(marker)
    elif payload == "pickle-after-header":
        data = header + b"\n" + evil_pickle(marker)
    elif payload == "json-with-code-names":
        body = {"files": [["app/models.py", "python", "0" * 40, True, [], None, [],
                           {"models": ["os.system", f"touch {marker}"]}]],
                "project": ["k", [["app/models.py", 1, 1, "DBA999", "__import__('os')", 9, "", "", 0]]]}
        data = header + b"\n" + json.dumps(body).encode()
    else:
        data = header + b"\n" + b'{"files": ' + b"[" * 200_000 + b"]" * 200_000 + b', "project": null}'
    target.write_bytes(data)
    os.chmod(target, 0o600)
    proc = run_cli("check", "--format", "json", ".", cwd=root)
    assert not marker.exists()
    assert "Traceback" not in proc.stderr
    notes = _notes(proc.stderr)
    assert len(notes) == 1 and f"ignored the cache {target}" in notes[0], proc.stderr
    assert findings_of(proc) == clean
    # rebuilt: the next run reads it without a note and finds the same
    again = run_cli("check", "--format", "json", ".", cwd=root)
    assert _notes(again.stderr) == [] and findings_of(again) == clean


def test_fingerprint_is_read_before_the_body(tmp_path, cache_home):
    """A cache from another engine version is stale: its body is not even parsed (garbage there is no note)."""
    root = make_project(tmp_path / "proj")
    target = result_cache.cache_file(root)
    target.parent.mkdir(parents=True)
    header = {"format": result_cache.FORMAT, "version": result_cache.VERSION, "engine": "another-engine",
              "root": str(root.resolve())}
    target.write_bytes(json.dumps(header).encode() + b"\n" + b"\x80not json at all")
    os.chmod(target, 0o600)
    assert result_cache.load(root) == ({}, None)
    cold = check_tree([root], root=root, config=Config(), enabled=selected_ids([], [], []))
    assert cold.cache_hits == 0 and target.read_bytes().startswith(b'{"format": "dbagents-check-cache"')


@pytest.mark.skipif(not hasattr(os, "geteuid"), reason="POSIX file modes")
def test_cache_is_private_and_a_file_others_may_write_is_not_trusted(tmp_path, cache_home, capsys):
    root = make_project(tmp_path / "proj")
    before = sorted(p.relative_to(root).as_posix() for p in root.rglob("*"))
    enabled = selected_ids([], [], [])
    cold = check_tree([root], root=root, config=Config(), enabled=enabled)
    target = result_cache.cache_file(root)
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert stat.S_IMODE(target.parent.stat().st_mode) == 0o700
    assert sorted(p.relative_to(root).as_posix() for p in root.rglob("*")) == before  # nothing in the tree
    assert not list(target.parent.glob(".tmp-*"))  # written atomically, no leftovers
    os.chmod(target, 0o666)
    warm = check_tree([root], root=root, config=Config(), enabled=enabled)
    assert warm.cache_hits == 0 and warm.findings == cold.findings
    assert "owned or writable by another user" in capsys.readouterr().err


def test_malformed_facts_are_recomputed_from_the_file(tmp_path, cache_home, capsys):
    """Facts are decoded when a project rule first reads them; a bad one is recomputed, not trusted."""
    root = make_project(tmp_path / "proj")
    enabled = selected_ids([], [], [])
    cold = check_tree([root], root=root, config=Config(), enabled=enabled)
    target = result_cache.cache_file(root)
    head, body = target.read_bytes().split(b"\n", 1)
    doc = json.loads(body)
    for row in doc["files"]:
        if "models" in row[7]:
            row[7]["models"] = ["ModelFileFacts", "not enough fields"]
    doc["project"] = None  # so the project-wide rules run and read the facts
    target.write_bytes(head + b"\n" + json.dumps(doc).encode())
    warm = check_tree([root], root=root, config=Config(), enabled=enabled)
    assert warm.findings == cold.findings and warm.cache_hits > 0
    err = capsys.readouterr().err
    assert "cached facts of app/models.py are malformed" in err and "Traceback" not in err


@pytest.mark.parametrize("value", [
    ["os.system", "touch x"], ["builtins.eval", "1"], ["__import__", "os"], ["subprocess.Popen", ["L", "sh"]],
    {"py/object": "os.system"}, ["TypeRef"], ["FKRef", "a", "b"], ["Severity", 99], ["D", ["L"], 1], ["S", ["L"]],
    [], [["L"]], ["B", "zz"],
])
def test_decoder_builds_only_registered_values(value):
    with pytest.raises(codec.CacheError):
        codec.decode(value)


def _fields(result) -> dict:
    data = {f.name: getattr(result, f.name) for f in dataclasses.fields(result)}
    data["facts"] = dict(result.facts)
    return data


def _corpus(tmp_path: Path) -> list[Path]:
    make_project(tmp_path / "written")
    files = [p for p in sorted(FIXTURES.rglob("*")) if p.suffix in (".py", ".ini") or p.name == "pyproject.toml"]
    return files + sorted((tmp_path / "written").rglob("*.*"))


def test_round_trip_gives_equal_results_for_fact_rich_files(tmp_path):
    seen_keys = set()
    for path in _corpus(tmp_path):
        kind = "ini" if path.suffix == ".ini" else ("toml" if path.name == "pyproject.toml" else "python")
        data = path.read_bytes()
        result = analyze(path, path.name, kind, data, result_cache.digest(data))
        row = json.loads(json.dumps(result_cache._file_row(result)))
        back = result_cache._file_result(row, None)
        assert _fields(back) == _fields(result), path
        seen_keys.update(result.facts)
    assert seen_keys == set(extractors()), "every extractor's facts went through the cache"


def test_warm_run_finds_exactly_what_the_cold_run_found(tmp_path, cache_home, run_cli):
    root = tmp_path / "tree"
    shutil.copytree(FIXTURES, root)
    make_project(root / "extra")
    cold = run_cli("check", "--format", "json", ".", cwd=root)
    assert result_cache.cache_file(root).is_file()
    warm = run_cli("check", "--format", "json", ".", cwd=root)
    assert warm.stdout == cold.stdout and findings_of(warm)
    enabled = selected_ids([], [], [])
    first = check_tree([root], root=root, config=Config(), enabled=enabled, jobs=1)
    second = check_tree([root], root=root, config=Config(), enabled=enabled, jobs=1)
    assert second.cache_hits == first.files_parsed > 0 and second.findings == first.findings
    assert run_cli("check", "--cache-clear", "--no-cache", ".", cwd=root).returncode in (0, 1)
    assert not result_cache.cache_file(root).exists()


def test_cache_folder_is_per_user_and_never_the_checked_tree(tmp_path, monkeypatch):
    monkeypatch.setenv(result_cache.ENV_VAR, str(tmp_path / "explicit"))
    assert result_cache.cache_dir() == tmp_path / "explicit"
    monkeypatch.delenv(result_cache.ENV_VAR)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert result_cache.cache_dir() == tmp_path / "xdg" / "dbagents"
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/ignored")  # the XDG spec: relative values are ignored
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    expected = Path("Library/Caches/dbagents") if sys.platform == "darwin" else Path(".cache/dbagents")
    if sys.platform != "win32":
        assert result_cache.cache_dir() == tmp_path / "home" / expected
    root = tmp_path / "proj"
    root.mkdir()
    assert root not in result_cache.cache_file(root).parents


@pytest.mark.parametrize("text, good", [
    ("3 5", True), ("3 5 10 12", True), ("0012 9999999999", True),
    ("", False), ("3", False), ("3 5 7", False), ("3  5", False), (" 3 5", False), ("3 5 ", False),
    ("3,5", False), ("3 x", False), ("3 -5", False), ("\u0663 5", False), ("3\t5", False),
])
def test_cached_statement_ends_must_be_pairs_of_numbers(text, good):
    if good:
        ends = result_cache.StatementEnds(text)
        numbers = [int(n) for n in text.split()]
        assert dict(ends) == dict(zip(numbers[::2], numbers[1::2]))
    else:
        with pytest.raises(codec.CacheError):
            result_cache.StatementEnds(text)
