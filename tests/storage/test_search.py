"""Search over the index (storage.search), on SQLite (FTS5) and PostgreSQL (tsvector + GIN):
every filter, names with and without diacritics, page text, cursors, the key's document
types, the projection kept in step with writes and rebuilt from scratch; and the plans use
the indexes, not a scan of the records."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import text

from models.records import IndexEntry, RecordStatus, fold
from storage.index import RecordIndex
from storage.search import SearchQuery, search

T0 = datetime(2026, 11, 1, 8, 0, tzinfo=UTC)


def entry(rid: str, *, name: str = "Nguyễn Văn An", cid: str = "079085001234",
          doctype: str = "cccd_front", status: RecordStatus = RecordStatus.extracted,
          settled: bool = True, station: str = "Q1-03", batch: str = "b1",
          born: str = "1985-03-02", place: str = "Hà Nội", pages: str | None = None,
          minutes: int = 0) -> IndexEntry:
    summary = {"full_name": name, "citizen_id": cid, "date_of_birth": born,
               "place_of_origin": place}
    at = T0 + timedelta(minutes=minutes)
    return IndexEntry(record_id=rid, dossier_id=f"D-{rid}", batch_id=batch, doctype=doctype,
                      status=status, confidence=0.9, s3_key="k", citizen_ids=[cid],
                      summary=summary, created_at=at, updated_at=at, station=station,
                      settled=settled, pages_text=pages,
                      search_text=" | ".join(fold(p) for p in [rid, f"D-{rid}", doctype, cid,
                                                                *summary.values()]))


def ids(index: RecordIndex, **kw: object) -> list[str]:
    kw.setdefault("statuses", ("all",))
    return [e.record_id for e in search(index, SearchQuery(**kw)).entries]  # type: ignore[arg-type]


def fill(index: RecordIndex) -> None:
    index.upsert_record(entry("r1", pages="CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM Giấy khai sinh"))
    index.upsert_record(entry("r2", name="Trần Thị Bình", cid="001190000002",
                              doctype="birth_registration", born="1990-07-09",
                              place="Huế", station="Q3-01", minutes=1))
    index.upsert_record(entry("r3", name="Nguyễn Văn Anh", cid="079085009999",
                              status=RecordStatus.needs_review, settled=False, batch="b2",
                              minutes=2))
    index.upsert_record(entry("r4", name="Lê Văn An", cid="079085001234",
                              doctype="marriage_registration", status=RecordStatus.rejected,
                              settled=False, born="1985-12-30", minutes=3))


def test_every_filter_finds_what_it_names(index: RecordIndex) -> None:
    """
    GIVEN four records of three people, types, statuses, stations and batches
    WHEN searched by each filter alone and together
    THEN each finds exactly its records, newest first
    """
    fill(index)
    assert ids(index, citizen_id="079085001234") == ["r4", "r1"]
    assert ids(index, name="nguyen van an") == ["r1"]  # whole words: "An" is not "Anh"
    assert ids(index, name="Nguyễn Văn Anh") == ["r3"]
    assert ids(index, name="NGUYEN VAN") == ["r3", "r1"]
    assert ids(index, name="van nguyen") == []  # a name is a phrase, in its order
    assert ids(index, name="Trần Thị Bình") == ["r2"] == ids(index, name="tran thi binh")
    assert ids(index, doctypes=["birth_registration", "marriage_registration"]) == ["r4", "r2"]
    assert ids(index, station="Q3-01") == ["r2"]
    assert ids(index, batch_id="b2") == ["r3"]
    assert ids(index, dossier_id="D-r4") == ["r4"]
    assert ids(index, values=[("place_of_origin", "ha noi")]) == ["r4", "r3", "r1"]
    assert ids(index, values=[("place_of_origin", "HUẾ")]) == ["r2"]
    assert ids(index, ranges=[("date_of_birth", "1985-01-01", "1985-06-30")]) == ["r3", "r1"]
    assert ids(index, ranges=[("date_of_birth", "1985-07-01", None)]) == ["r4", "r2"]
    assert ids(index, created_from=T0 + timedelta(minutes=1),
               created_to=T0 + timedelta(minutes=3)) == ["r3", "r2"]
    assert ids(index, q="khai sinh") == ["r1"]  # the pages' text
    assert ids(index, q="079085001234") == ["r4", "r1"]  # an ID anywhere
    assert ids(index, q="an", citizen_id="079085001234", doctypes=["cccd_front"]) == ["r1"]
    assert ids(index, q="%_'\"*") == []


def test_status_defaults_to_settled_and_the_key_limits_types(index: RecordIndex) -> None:
    """
    GIVEN settled, waiting and rejected records of several types
    WHEN searched with no status, with statuses, and for a key limited to one type
    THEN only settled ones by default, the asked ones otherwise, and only the key's type
    """
    fill(index)
    assert ids(index, name="van", statuses=("settled",)) == ["r1"]
    assert ids(index, name="van", statuses=("needs_review", "rejected")) == ["r4", "r3"]
    assert ids(index, q="van", allowed_doctypes=["marriage_registration"]) == ["r4"]
    assert ids(index, q="van", allowed_doctypes=[]) == []


def test_pages_by_cursor_never_repeat_or_skip(index: RecordIndex) -> None:
    """
    GIVEN 25 records of one name
    WHEN read 10 at a time by cursor, one of them changed between pages
    THEN every record comes once, newest first, and the last page has no next cursor
    """
    for i in range(25):
        index.upsert_record(entry(f"p{i:02d}", minutes=i))
    seen: list[str] = []
    after = None
    for turn in range(5):
        page = search(index, SearchQuery(name="nguyen", limit=10, after=after))
        seen += [e.record_id for e in page.entries]
        if turn == 0:
            index.upsert_record(entry("p24", name="Nguyễn Văn Ân", minutes=24))
        if page.next is None:
            break
        after = int(page.next)
    assert seen == [f"p{i:02d}" for i in reversed(range(25))]


def test_a_change_updates_the_search_and_keeps_the_pages_text(index: RecordIndex) -> None:
    """
    GIVEN a record whose pages' text is indexed
    WHEN a person's change re-indexes it with a corrected name and no pages' text
    THEN the new name finds it, the old does not, and its pages' text still does
    """
    index.upsert_record(entry("r1", pages="Giấy khai sinh bản sao"))
    index.upsert_record(entry("r1", name="Nguyễn Thị Hoa"))
    assert ids(index, name="nguyen thi hoa") == ["r1"]
    assert ids(index, name="nguyen van an") == []
    assert ids(index, q="ban sao") == ["r1"]
    index.clear_records()
    assert ids(index, q="nguyen") == []


def test_the_staff_search_uses_the_same_index(index: RecordIndex) -> None:
    """
    GIVEN records of two people
    WHEN the staff search asks by name without diacritics, by ID and by dossier code
    THEN it finds them whatever their status
    """
    fill(index)
    assert [e.record_id for e in index.search_records("tran binh")] == ["r2"]
    assert [e.record_id for e in index.search_records("079085009999")] == ["r3"]
    assert [e.record_id for e in index.search_records("D-r4")] == ["r4"]


def test_a_value_many_records_hold_is_found_as_a_rare_one(index: RecordIndex) -> None:
    """
    GIVEN a place of origin thirty records hold and another only one holds
    WHEN each is searched (the first walked newest first, the second looked up)
    THEN both give the same newest-first pages
    """
    from storage import search as search_module

    index.upsert_record(entry("rare", place="Cà Mau", minutes=-1))
    for i in range(30):
        index.upsert_record(entry(f"h{i:02d}", place="Huế", minutes=i))
    cap = search_module._COMMON_VALUE
    try:
        search_module._COMMON_VALUE = 10  # thirty records: "many" for this test
        many = ids(index, values=[("place_of_origin", "hue")], limit=5)
        rare = ids(index, values=[("place_of_origin", "ca mau")])
    finally:
        search_module._COMMON_VALUE = cap
    assert many == ["h29", "h28", "h27", "h26", "h25"] == ids(
        index, values=[("place_of_origin", "hue")], limit=5)
    assert rare == ["rare"]


def test_searches_use_the_indexes_not_a_scan(index: RecordIndex) -> None:
    """
    GIVEN the search tables
    WHEN the database plans a name search and a field search
    THEN the full-text index and the value index are used, the records not scanned
    """
    fill(index)
    if index.backend == "sqlite":
        with index.engine.connect() as c:
            plan = " ".join(str(r[-1]) for r in c.execute(text(
                "EXPLAIN QUERY PLAN SELECT t.doc_id FROM records_fts f JOIN record_text t "
                "ON t.doc_id = f.rowid WHERE records_fts MATCH 'names : \"nguyen\"*' "
                "ORDER BY f.rowid DESC LIMIT 51")))
            assert "VIRTUAL TABLE INDEX" in plan and "SCAN t" not in plan, plan
            plan = " ".join(str(r[-1]) for r in c.execute(text(
                "EXPLAIN QUERY PLAN SELECT record_id FROM record_values "
                "WHERE field = 'x' AND norm = 'y'")))
            assert "ix_record_values_lookup" in plan, plan
    else:
        with index.engine.connect() as c:
            c.execute(text("SET enable_seqscan = off"))
            plan = " ".join(r[0] for r in c.execute(text(
                "EXPLAIN SELECT doc_id FROM record_text "
                "WHERE names_tsv @@ to_tsquery('simple', 'nguyen:*')")))
            assert "ix_record_text_names_tsv" in plan, plan
