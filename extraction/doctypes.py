"""Document-type definitions: YAML files, one per type, validated on load.

A new kind of document is added by dropping a YAML file in a folder passed as ``--doctypes``;
the built-in ones live in ``extraction/doctypes/``.
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, Field, PrivateAttr, ValidationError, field_validator

from extraction.validators import PARSERS
from models.errors import DoctypeDefinitionError

__all__ = ["Keyword", "FieldDef", "DoctypeDef", "load_doctypes", "builtin_doctypes"]


class Keyword(BaseModel):
    text: str
    weight: float = 1.0
    title: bool = False  # the document's title: a page that has it starts a new document


class FieldDef(BaseModel):
    name: str
    title: str = ""
    labels: list[str] = Field(min_length=1)
    type: str = "text"
    required: bool = False
    citizen: bool = False  # the value is a citizen ID: the record is found by it
    key: bool = False  # shown in summaries
    nth: int = 1  # which occurrence of the label, counted after `after`
    after: str | None = None  # search only below this field's label
    value_position: Literal["right", "below", "right_or_below"] = "right_or_below"
    lines: int = 1  # how many rows a value may span (addresses wrap)
    segment: int = 1  # in tables, which cell after the label (split at wide gaps)

    @field_validator("type")
    @classmethod
    def _known_type(cls, v: str) -> str:
        if v not in PARSERS:
            raise ValueError(f"unknown field type {v!r}; known: {', '.join(sorted(PARSERS))}")
        return v


class DoctypeDef(BaseModel):
    id: str
    title: str
    keywords: list[Keyword] = Field(min_length=1)
    min_score: float = 2.0
    stop_labels: list[str] = Field(default_factory=list)
    fields: list[FieldDef] = Field(default_factory=list)
    _matcher: Any = PrivateAttr(default=None)  # compiled label matcher, built on first use

    @field_validator("keywords", mode="before")
    @classmethod
    def _plain_keywords(cls, v):
        return [{"text": k} if isinstance(k, str) else k for k in v]

    def field(self, name: str) -> FieldDef | None:
        return next((f for f in self.fields if f.name == name), None)


def _load_file(path: Path, text: str) -> DoctypeDef:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise DoctypeDefinitionError(f"not valid YAML: {e}", path=str(path)) from e
    if not isinstance(data, dict):
        raise DoctypeDefinitionError("a document type is a YAML mapping with id, title, "
                                     "keywords and fields", path=str(path))
    try:
        doctype = DoctypeDef.model_validate(data)
    except ValidationError as e:
        raise DoctypeDefinitionError(f"invalid document type: {e}", path=str(path)) from e
    names = [f.name for f in doctype.fields]
    for f in doctype.fields:
        if f.after and f.after not in names:
            raise DoctypeDefinitionError(f"field {f.name!r} is placed after unknown field "
                                         f"{f.after!r}", path=str(path))
    return doctype


@lru_cache(maxsize=1)
def builtin_doctypes() -> tuple[DoctypeDef, ...]:
    folder = resources.files("extraction").joinpath("doctypes")
    out = []
    for entry in sorted(folder.iterdir(), key=lambda p: p.name):
        if entry.name.endswith((".yaml", ".yml")):
            out.append(_load_file(Path(str(entry)), entry.read_text("utf-8")))
    return tuple(out)


def load_doctypes(extra_dir: Path | None = None) -> list[DoctypeDef]:
    """Built-in document types, plus (overriding by id) those in ``extra_dir``."""
    by_id = {d.id: d for d in builtin_doctypes()}
    if extra_dir is not None:
        if not extra_dir.is_dir():
            raise DoctypeDefinitionError("not a folder of document-type YAML files",
                                         path=str(extra_dir))
        for path in sorted(extra_dir.glob("*.y*ml")):
            d = _load_file(path, path.read_text("utf-8"))
            by_id[d.id] = d
    return list(by_id.values())
