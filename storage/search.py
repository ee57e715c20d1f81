"""Finding records: by citizen ID, name (with or without diacritics), document type, field
values and date ranges, status, station, batch, dossier code and the full text of the record's
values and its pages, a page at a time behind an opaque cursor.

The search projection (migration 0008) is part of the record projection, written with the
record's row in the same transaction and rebuilt by ``reindex`` (its rows and their writing:
:mod:`storage.db.search_rows`):

- ``record_text``: one row per record with the columns searches narrow by and its text,
  folded once in Python (:func:`models.records.fold`: lower case, no diacritics, đ -> d), so
  "Nguyễn", "nguyen" and "NGUYEN" are one word on both databases. ``doc_id`` numbers the rows
  in the order they were first indexed: results come newest first by it and the cursor is
  the last one given, so a page never repeats or skips a row a later write moved.
- the full-text index over it: SQLite's FTS5 (an external-content table kept by triggers)
  or PostgreSQL's own text search (``tsvector`` columns with GIN indexes, the ``simple``
  configuration over the folded text: no extension needed, and the same words as SQLite);
- ``record_values``: each field's folded value, indexed by field and value, for field
  equality and date ranges (dates are stored ISO, so a range is a range of strings).

Never a scan of the records: every filter is an index lookup. Words are matched whole
("nguyen" finds "Nguyễn", not "Nguyệt"), a name as a phrase: a prefix query merges the lists
of every word it begins, which for a common beginning costs hundreds of milliseconds at a
million records, where whole words are walked newest first and stop at the page's end.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select, text

from models.records import IndexEntry, RecordStatus, fold
from storage.db import Database
from storage.db.projection import RecordCitizenRow, RecordRow, entries
from storage.db.search_rows import (
    MAX_PAGES_TEXT,
    MAX_VALUE,
    SERVED_STATUSES,
    RecordTextRow,
    RecordValueRow,
    is_name_field,
    write_search,
)

__all__ = ["RecordTextRow", "RecordValueRow", "SearchQuery", "SearchPage", "write_search",
           "citizen_lookup", "LookupRow",
           "search", "words_of", "is_name_field", "MAX_PAGES_TEXT", "SERVED_STATUSES"]

_WORD = re.compile(r"[a-z0-9]+")


def words_of(query: str) -> list[str]:
    """The words of a query as the index holds them (folded, letters and digits)."""
    return _WORD.findall(fold(query))


@dataclass
class SearchQuery:
    """What a search asks for; every given part must hold (AND)."""

    citizen_id: str | None = None
    name: str | None = None  # a person's name anywhere in the record, as a phrase
    q: str | None = None  # words anywhere: ids, values, the pages' text
    doctypes: Sequence[str] = ()
    statuses: Sequence[str] = ("settled",)  # record statuses, "settled" or "all"
    station: str | None = None
    batch_id: str | None = None
    dossier_id: str | None = None
    values: Sequence[tuple[str, str]] = ()  # (field, value): the field reads so (folded)
    ranges: Sequence[tuple[str, str | None, str | None]] = ()  # (field, from, to), inclusive
    created_from: datetime | None = None
    created_to: datetime | None = None
    allowed_doctypes: Sequence[str] | None = None  # the key's limit; None: every type
    after: int | None = None  # the cursor: the last doc_id of the previous page
    limit: int = 50


@dataclass
class SearchPage:
    entries: list[IndexEntry]
    next: str | None  # the cursor for the next page, None at the end
    doc_ids: list[int] = field(default_factory=list)


def _fts5_phrase(words: Sequence[str]) -> str:
    return '"' + " ".join(words) + '"'


def _match_sqlite(name_words: list[str], q_words: list[str]) -> str:
    parts = []
    if name_words:
        parts.append("names : " + _fts5_phrase(name_words))
    parts += [_fts5_phrase([w]) for w in q_words]
    return " AND ".join(parts)


def _tsquery(words: Sequence[str], phrase: bool) -> str:
    """A ``to_tsquery`` text: every word (AND), or the words as a phrase."""
    return (" <-> " if phrase else " & ").join(words)


# A field value held by more records than this is checked row by row while the records are
# walked newest first (the page fills at once); a rarer one is looked up, then sorted.
_COMMON_VALUE = 2000
# On PostgreSQL, words are first looked for in this many of the newest rows (see search).
_WALK = 5000


def _common_values(index: Database,
                   values: Sequence[tuple[str, str]]) -> set[tuple[str, str]]:
    """The (field, value) pairs many records hold (counted up to a cap, on the index)."""
    out: set[tuple[str, str]] = set()
    if not values:
        return out
    with index.transaction("search records") as s:
        for name, value in values:
            n = s.execute(text(
                "SELECT count(*) FROM (SELECT 1 FROM record_values WHERE field = :f AND "
                f"norm = :n LIMIT {_COMMON_VALUE + 1}) AS x"),
                {"f": name, "n": fold(value)[:MAX_VALUE]}).scalar()
            if (n or 0) > _COMMON_VALUE:
                out.add((name, value))
    return out


def search(index: Database, query: SearchQuery) -> SearchPage:
    """One page of records matching ``query``, newest first, and the cursor after it."""
    pg = index.backend == "postgresql"
    where: list[str] = []
    params: dict[str, Any] = {}
    n = 0

    def param(value: Any) -> str:
        nonlocal n
        n += 1
        params[f"p{n}"] = value
        return f":p{n}"

    def in_list(column: str, values: Sequence[str]) -> str:
        return f"{column} IN ({', '.join(param(v) for v in values)})"

    statuses = set(query.statuses) or {"settled"}
    if "all" not in statuses:
        ors = []
        if "settled" in statuses:
            ors.append(f"t.served = {param(True)}")
        plain = sorted(statuses - {"settled"})
        if plain:
            ors.append(in_list("t.status", plain))
        where.append("(" + " OR ".join(ors) + ")")
    if query.allowed_doctypes is not None:
        if not query.allowed_doctypes:
            return SearchPage([], None)
        where.append(in_list("t.doctype", list(query.allowed_doctypes)))
    if query.doctypes:
        where.append(in_list("t.doctype", list(query.doctypes)))
    for column, value in (("station", query.station), ("batch_id", query.batch_id),
                          ("dossier_id", query.dossier_id)):
        if value:
            where.append(f"t.{column} = {param(value)}")
    if query.citizen_id:
        where.append("t.record_id IN (SELECT c.record_id FROM record_citizens c "
                     f"WHERE c.citizen_id = {param(query.citizen_id)})")
    common = _common_values(index, query.values)
    for name, value in query.values:
        cond = (f"v.field = {param(name)} AND v.norm = {param(fold(value)[:MAX_VALUE])}")
        if (name, value) in common:
            where.append("EXISTS (SELECT 1 FROM record_values v WHERE v.record_id = t.record_id "
                         f"AND {cond})")
        else:
            where.append(f"t.record_id IN (SELECT v.record_id FROM record_values v WHERE {cond})")
    for name, lo, hi in query.ranges:
        bounds = [f"v.field = {param(name)}"]
        if lo:
            bounds.append(f"v.norm >= {param(lo)}")
        if hi:
            bounds.append(f"v.norm <= {param(hi)}")
        where.append("t.record_id IN (SELECT v.record_id FROM record_values v WHERE "
                     + " AND ".join(bounds) + ")")
    if query.created_from:
        where.append(f"t.created_at >= {param(query.created_from)}")
    if query.created_to:
        where.append(f"t.created_at < {param(query.created_to)}")
    if query.after is not None:
        where.append(f"t.doc_id < {param(query.after)}")

    name_words = words_of(query.name or "")[:8]
    q_words = words_of(query.q or "")[:8]
    if (query.name and not name_words) or (query.q and not q_words):
        return SearchPage([], None)  # only punctuation: nothing can match
    source = "record_text t"
    order = "t.doc_id DESC"
    text_where: list[str] = []  # PostgreSQL's full-text conditions
    if name_words or q_words:
        if pg:
            if name_words:
                text_where.append("t.names_tsv @@ to_tsquery('simple', "
                                  f"{param(_tsquery(name_words, True))})")
            if q_words:
                text_where.append("t.tsv @@ to_tsquery('simple', "
                                  f"{param(_tsquery(q_words, False))})")
        else:
            match = param(_match_sqlite(name_words, q_words))
            if query.citizen_id or query.batch_id or query.dossier_id:
                # A narrow filter drives; the words are checked against its few rows.
                where.append("t.doc_id IN (SELECT rowid FROM records_fts "
                             f"WHERE records_fts MATCH {match})")
            else:
                # The full-text index drives, newest first (FTS5 walks rowids in order).
                source = "records_fts f JOIN record_text t ON t.doc_id = f.rowid"
                where.append(f"records_fts MATCH {match}")
                where = [w.replace("t.doc_id <", "f.rowid <") for w in where]
                order = "f.rowid DESC"
    limit = max(1, min(query.limit, 1000))
    every = where + text_where
    if text_where:
        # The GIN index finds the words' rows; a broad filter (type, status, station) is
        # checked on those rows, not ANDed from its own index: the planner's BitmapAnd with
        # a type's 90,000 rows cost 110 ms where the words had 1,200.
        broad = {"t.doctype IN": "(t.doctype || '') IN", "t.status IN": "(t.status || '') IN",
                 "t.served = ": "(t.served OR false) = ", "t.station = ": "(t.station || '') = "}
        every = [next((w.replace(k, v) for k, v in broad.items() if k in w), w) for w in where]
        every += text_where
    sql = (f"SELECT t.doc_id, t.record_id FROM {source} "
           f"{'WHERE ' + ' AND '.join(every) if every else ''} "
           f"ORDER BY {order} LIMIT {limit + 1}")
    walk = None
    if text_where and not (query.citizen_id or query.batch_id or query.dossier_id
                           or query.values):
        # Words many records hold: the newest rows are walked first and checked, which
        # fills a page at once; PostgreSQL's estimate of a phrase is too rough to choose
        # that itself. Words few records hold: the GIN index (the query above).
        walk = (f"SELECT t.doc_id, t.record_id FROM (SELECT t.doc_id, t.record_id, t.tsv, "
                f"t.names_tsv FROM record_text t {'WHERE ' + ' AND '.join(where) if where else ''}"
                f" ORDER BY t.doc_id DESC LIMIT {_WALK}) t WHERE {' AND '.join(text_where)} "
                f"ORDER BY t.doc_id DESC LIMIT {limit + 1}")
    with index.transaction("search records") as s:
        found = []
        if walk is not None:
            found = [(int(d), r) for d, r in s.execute(text(walk), params)]
        if len(found) <= limit:
            found = [(int(d), r) for d, r in s.execute(text(sql), params)]
        page = found[:limit]
        rows = {r.record_id: r for r in s.scalars(
            select(RecordRow).where(RecordRow.record_id.in_([r for _, r in page])))}
        found_entries = entries(s, [rows[r] for _, r in page if r in rows])
    return SearchPage(found_entries, str(page[-1][0]) if len(found) > limit else None,
                      [d for d, _ in page])


@dataclass
class LookupRow:
    """What a citizen lookup needs of a record, read in one statement."""

    record_id: str
    version_id: str | None
    doctype: str
    status: str
    settled: bool
    leased: bool
    citizen_ids: list[str]

    @property
    def served(self) -> bool:
        return self.settled and self.status in SERVED_STATUSES

    @property
    def queue_status(self) -> str:
        leased_review = self.status == RecordStatus.needs_review.value and self.leased
        return RecordStatus.in_review.value if leased_review else self.status


_LOOKUP = text(
    "SELECT r.record_id, r.version_id, r.doctype, r.status, r.settled, r.lease_expires, "
    "o.citizen_id FROM record_citizens c JOIN records r ON r.record_id = c.record_id "
    "JOIN record_citizens o ON o.record_id = r.record_id WHERE c.citizen_id = :cid "
    "ORDER BY r.created_at, r.record_id, o.citizen_id")


def citizen_lookup(index: Database, citizen_id: str) -> list[LookupRow]:
    """The records naming a citizen, oldest first, with every citizen each names: one
    statement on a pooled connection, no ORM objects (the lookup other systems call most)."""
    from datetime import UTC

    from sqlalchemy.exc import SQLAlchemyError

    from models.errors import StorageError

    now = datetime.now(UTC)
    out: dict[str, LookupRow] = {}
    try:
        with index.engine.connect() as c:
            for rid, version, doctype, status, settled, lease, other in c.execute(
                    _LOOKUP, {"cid": citizen_id}):
                row = out.get(rid)
                if row is None:
                    if isinstance(lease, str):  # SQLite keeps times as text
                        lease = datetime.fromisoformat(lease)
                    if lease is not None and lease.tzinfo is None:
                        lease = lease.replace(tzinfo=UTC)
                    row = out[rid] = LookupRow(rid, version, doctype, status, bool(settled),
                                               lease is not None and lease > now, [])
                row.citizen_ids.append(other)
    except SQLAlchemyError as e:
        raise StorageError(f"cannot look up citizen {citizen_id} in the index at "
                           f"{index.url}: {e}") from e
    return list(out.values())


def citizens_of(index: Database, record_ids: Sequence[str]) -> dict[str, list[str]]:
    """The citizen IDs each record names."""
    out: dict[str, list[str]] = {r: [] for r in record_ids}
    if not record_ids:
        return out
    with index.transaction("read citizen ids") as s:
        for rid, cid in s.execute(select(RecordCitizenRow.record_id, RecordCitizenRow.citizen_id)
                                  .where(RecordCitizenRow.record_id.in_(list(record_ids)))):
            out[rid].append(cid)
    return out
