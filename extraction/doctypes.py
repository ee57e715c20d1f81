"""Document-type definitions: YAML files, one per type, validated on load.

A new kind of document is added by dropping a YAML file in a folder passed as ``--doctypes``;
the built-in ones live in ``extraction/doctypes/``.
"""

from __future__ import annotations

import re
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)

from extraction.validators import PARSERS
from models.errors import DoctypeDefinitionError

__all__ = ["Keyword", "Position", "FieldDef", "DoctypeDef", "load_doctypes", "builtin_doctypes",
           "generic_identity"]


class Keyword(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str
    weight: float = 1.0
    title: bool = False  # the document's title: a page that has it starts a new document


class Position(BaseModel):
    """Where an unlabelled value sits on the document's first page."""

    model_config = ConfigDict(extra="forbid")

    line: int | None = None  # the n-th line of text from the top (1 = first); -1 = last line
    # Everything inside a box, in fractions of the page: [left, top, right, bottom].
    region: tuple[float, float, float, float] | None = None

    @model_validator(mode="after")
    def _one_of(self) -> Position:
        if (self.line is None) == (self.region is None):
            raise ValueError("give a position either a `line` (1 = the first line of text) "
                             "or a `region` [left, top, right, bottom] in fractions of the page")
        if self.line == 0:
            raise ValueError("`line` counts from 1 (the top line); -1 is the last line")
        if self.region is not None:
            x0, y0, x1, y1 = self.region
            if not (0 <= x0 < x1 <= 1 and 0 <= y0 < y1 <= 1):
                raise ValueError("a region is [left, top, right, bottom], each between 0 and 1, "
                                 "left < right and top < bottom, e.g. [0, 0, 1, 0.2]")
        return self


class FieldDef(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    title: str = ""
    labels: list[str] = Field(default_factory=list)
    type: str = "text"
    required: bool = False
    citizen: bool = False  # the value is a citizen ID: the record is found by it
    key: bool = False  # shown in summaries
    nth: int = 1  # which occurrence of the label, counted after `after`; -1: the last
    # Of all the places the value is found (the label's occurrences, the lines a pattern
    # matches, the lines of a region), the first, the last or the largest amount.
    pick: Literal["first", "last", "largest"] | None = None
    # "preference": the labels are tried one after the other, in the order given.
    label_order: Literal["page", "preference"] = "page"
    capitals: bool = False  # the value is printed in capital letters (a shop's name)
    anywhere: bool = False  # no label or position: any line holding a valid value
    date_order: Literal["dmy", "mdy", "ymd"] = "dmy"  # how dates of numbers are written
    keep_punctuation: bool = False  # text kept as printed ("SDN. BHD.", a final comma)
    after: str | None = None  # search only below this field's label
    value_position: Literal["right", "below", "right_or_below", "above", "left"] = \
        "right_or_below"
    lines: int = Field(default=1, ge=1)  # how many rows a value may span (addresses wrap)
    segment: int = 1  # which cell after the label (split at wide gaps); -1: the last
    table: bool = False  # the value is in a ruled table: a rule read as "|" ends its cell
    position: Position | None = None  # an unlabelled value: where it sits on the page
    pattern: str | None = None  # a regular expression the value must match (group 1 if any)
    choices: list[str] = Field(default_factory=list)  # the value is one of these texts
    words: list[str] = Field(default_factory=list)  # the value's words, with their accents
    # The value begins with one of these texts (an enterprise name with its legal form).
    starts_with: list[str] = Field(default_factory=list)
    # The value is one of a closed list (``extraction/lists/NAME.txt``: ethnic_groups,
    # nationalities, relationships): a reading that is exactly a member is accepted.
    closed_list: str | None = None
    # An ``address`` that names official units only (a place of origin; an office named
    # after its ward): a reading whose every unit is exactly an official name is accepted.
    units_only: bool = False
    # Read only to check the other values of its person (a birth date or year, a sex printed
    # beside an ID: ``NAME_date_of_birth``, ``NAME_birth_year``, ``NAME_sex`` for ``NAME_id``),
    # never kept in the document.
    check_only: bool = False

    @field_validator("closed_list")
    @classmethod
    def _known_list(cls, v: str | None) -> str | None:
        if v is not None:
            from extraction.known import closed_list

            closed_list(v)  # raises, naming the lists there are
        return v

    @field_validator("type")
    @classmethod
    def _known_type(cls, v: str) -> str:
        if v not in PARSERS:
            raise ValueError(f"unknown field type {v!r}; known: {', '.join(sorted(PARSERS))}")
        return v

    @field_validator("pattern")
    @classmethod
    def _valid_regex(cls, v: str | None) -> str | None:
        if v is not None:
            try:
                re.compile(v)
            except re.error as e:
                raise ValueError(f"not a valid regular expression ({e}); in YAML, put the "
                                 f"pattern in single quotes so backslashes stay as written") from e
        return v

    @model_validator(mode="after")
    def _findable(self) -> FieldDef:
        if not self.labels and self.position is None and self.pattern is None \
                and not self.anywhere:
            raise ValueError(f"field {self.name!r} cannot be found: give it `labels` (the "
                             f"printed words before its value), a `position`, a `pattern`, "
                             f"or `anywhere: true`")
        for problem in _option_problems(self):
            raise ValueError(f"field {self.name!r}: {problem}")
        return self


def _option_problems(f: FieldDef) -> list[str]:
    """What is wrong with how a field's options go together, each with its fix."""
    out = []
    if f.nth == 0:
        out.append("`nth` counts from 1 (the first occurrence of the label); -1 is the last, "
                   "-2 the one before it; 0 is none of them")
    elif f.nth != 1 and not f.labels:
        out.append("`nth` counts the occurrences of a label: give the field `labels`, or use "
                   "`pick` to choose among the lines found")
    if f.segment == 0:
        out.append("`segment` counts the cells after the label from 1 (the first); -1 is the "
                   "last cell of the line; 0 is none of them")
    if f.pick is not None and f.nth != 1:
        out.append("give either `nth` (one occurrence of the label) or `pick` (the best of "
                   "them all), not both")
    if f.pick == "largest" and f.type not in ("money", "number"):
        out.append(f"`pick: largest` compares amounts: it needs `type: money` or `type: "
                   f"number`, not {f.type!r}")
    if f.label_order == "preference" and len(f.labels) < 2:
        out.append("`label_order: preference` tries the labels one after the other: give "
                   "two labels or more")
    if f.anywhere and f.position is not None:
        out.append("`anywhere` looks at the whole document and a `position` at one place of "
                   "it: give one or the other")
    if f.date_order != "dmy" and f.type != "date":
        out.append(f"`date_order` is for `type: date`, not {f.type!r}")
    if f.keep_punctuation and f.type not in ("text", "address"):
        out.append(f"`keep_punctuation` is for `type: text` or `type: address`, not "
                   f"{f.type!r}")
    if f.units_only and f.type != "address":
        out.append(f"`units_only` is for `type: address`, not {f.type!r}")
    return out


class DoctypeDef(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str
    title: str
    keywords: list[Keyword] = Field(min_length=1)
    min_score: float = 2.0
    # At most this many pages (a card's side is one page): a further page of the type starts
    # a new document even without the title, and an unrecognized page does not join it.
    max_pages: int | None = Field(default=None, ge=1)
    # Pages of this shape (width / height between the two) that no keyword identifies are of
    # this type: an ID card is 1.59 wide for 1 high, whatever OCR made of it.
    aspect: tuple[float, float] | None = None
    stop_labels: list[str] = Field(default_factory=list)
    # Tesseract languages the type is read in (``eng``, ``vie+eng``): a page of the type read
    # in others is read again in these before its fields are extracted.
    lang: str | None = None
    # "column": the page is one column of lines (a receipt, a slip), read so rather than cut
    # into the columns and blocks OCR looks for on a form (Tesseract's segmentation mode 4).
    page_layout: Literal["auto", "column"] = "auto"
    fields: list[FieldDef] = Field(default_factory=list)
    _matcher: Any = PrivateAttr(default=None)  # compiled label matcher, built on first use

    @field_validator("lang")
    @classmethod
    def _tesseract_langs(cls, v: str | None) -> str | None:
        if v is not None and not re.fullmatch(r"[A-Za-z_]+(?:\+[A-Za-z_]+)*", v):
            raise ValueError(f"`lang` is Tesseract's language codes joined by '+' (eng, "
                             f"vie+eng), not {v!r}")
        return v

    @field_validator("keywords", mode="before")
    @classmethod
    def _plain_keywords(cls, v):
        return [{"text": k} if isinstance(k, str) else k for k in v]

    @property
    def psm(self) -> int:
        """Tesseract's page segmentation mode for the type's pages (``page_layout``)."""
        return 4 if self.page_layout == "column" else 3

    def field(self, name: str) -> FieldDef | None:
        return next((f for f in self.fields if f.name == name), None)


def _line_of(root: yaml.Node | None, loc: tuple) -> int | None:
    """The 1-based line of the YAML node at ``loc`` (a pydantic error location)."""
    node, line = root, None
    for key in loc:
        if node is None:
            break
        line = node.start_mark.line + 1
        if isinstance(node, yaml.MappingNode):
            node = next((v for k, v in node.value if getattr(k, "value", None) == key), None)
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) \
                and key < len(node.value):
            node = node.value[key]
        else:
            break
    if node is not None:
        line = node.start_mark.line + 1
    return line


_FIXES = {
    "missing": "add it",
    "extra_forbidden": "remove it, or check its spelling against docs/doctypes.md",
    "too_short": "give at least one",
}


def _describe(e: ValidationError, root: yaml.Node | None) -> str:
    out = []
    for err in e.errors():
        loc = tuple(err["loc"])
        where = ".".join(str(x) for x in loc) or "the file"
        line = _line_of(root, loc)
        at = f"line {line}: " if line else ""
        msg = err["msg"].removeprefix("Value error, ")
        fix = _FIXES.get(err["type"])
        out.append(f"{at}{where}: {msg}" + (f" ({fix})" if fix else ""))
    return "; ".join(out)


# libyaml's parser when PyYAML has it (the same documents, several times faster to start).
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _load_file(path: Path, text: str) -> DoctypeDef:
    try:
        data = yaml.load(text, Loader=_LOADER)  # noqa: S506 - a safe loader
        root = yaml.compose(text, Loader=_LOADER)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        at = f"line {mark.line + 1}: " if mark is not None else ""
        raise DoctypeDefinitionError(f"{at}not valid YAML ({getattr(e, 'problem', e)}); check "
                                     f"the indentation and quote values that contain ': ' "
                                     f"or start with a symbol", path=str(path)) from e
    if not isinstance(data, dict):
        raise DoctypeDefinitionError("a document type is a YAML mapping with id, title, "
                                     "keywords and fields", path=str(path))
    try:
        doctype = DoctypeDef.model_validate(data)
    except ValidationError as e:
        raise DoctypeDefinitionError(f"invalid document type: {_describe(e, root)}",
                                     path=str(path)) from e
    names = [f.name for f in doctype.fields]
    for i, f in enumerate(doctype.fields):
        if f.after and f.after not in names:
            line = _line_of(root, ("fields", i, "after"))
            raise DoctypeDefinitionError(f"line {line}: field {f.name!r} is placed after "
                                         f"unknown field {f.after!r} (use the name of a field "
                                         f"defined in this file: {', '.join(names)})",
                                         path=str(path))
    dupes = {n for n in names if names.count(n) > 1}
    if dupes:
        raise DoctypeDefinitionError(f"field names must be unique; repeated: "
                                     f"{', '.join(sorted(dupes))}", path=str(path))
    return doctype


@lru_cache(maxsize=1)
def builtin_doctypes() -> tuple[DoctypeDef, ...]:
    folder = resources.files("extraction").joinpath("doctypes")
    out = []
    for entry in sorted(folder.iterdir(), key=lambda p: p.name):
        if entry.name.endswith((".yaml", ".yml")):
            out.append(_load_file(Path(str(entry)), entry.read_text("utf-8")))
    return tuple(out)


@lru_cache(maxsize=1)
def generic_identity() -> DoctypeDef:
    """The identity fields read from a document no definition matches."""
    entry = resources.files("extraction").joinpath("generic").joinpath("identity.yaml")
    return _load_file(Path(str(entry)), entry.read_text("utf-8"))


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
