"""Model facts (KEY "models"): mapped classes, Core tables, columns, indexes and relationships.

``extract`` reads one file's AST (``_model_extract``); ``build`` resolves names across files and returns the
``ModelIndex`` (``_model_index``) that model rules and the N+1 rule read via ``project.get("models")``.
"""

from __future__ import annotations

from dbagents.check.facts._model_build import build_index, snake_case
from dbagents.check.facts._model_extract import ModelFileFacts, extract_models
from dbagents.check.facts._model_index import (
    ColumnModel, ForeignKeyModel, IndexModel, MappedClass, ModelIndex, RelationshipModel, TableModel,
)
from dbagents.check.source import SourceFile

KEY = "models"
TRIGGERS = (
    "Column", "mapped_column", "Mapped[", "Table(", "declarative", "DeclarativeBase", ".Model", "SQLModel",
    "relationship", "TypeDecorator", "Index(", "MetaData", "registry", "__tablename__", "__mapper_args__",
    "__abstract__", "Annotated[", "SQLAlchemy(", "noload", "declarative_mixin",
)

# Words that make a whole-file walk worthwhile (MetaData()/legacy API calls can sit inside functions).
SCAN_WORDS = ("MetaData", "declarative", "registry", "SQLAlchemy", "noload", "relation", "naming_convention")

__all__ = [
    "KEY", "TRIGGERS", "extract", "build", "ModelIndex", "MappedClass", "ColumnModel", "RelationshipModel",
    "TableModel", "IndexModel", "ForeignKeyModel", "ModelFileFacts", "snake_case",
]


def extract(src: SourceFile) -> ModelFileFacts | None:
    if src.tree is None:
        return None
    scan = any(word in src.text for word in SCAN_WORDS)
    facts = extract_models(src.tree, src.relpath, scan)
    if not (facts.classes or facts.assigns or facts.tables or facts.indexes or facts.metadata_calls or facts.legacy
            or facts.sets_naming):
        return None
    return facts


def build(project) -> ModelIndex:
    files = dict(project.module_facts(KEY))
    return build_index(files)
