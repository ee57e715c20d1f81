"""The SQL index, on SQLite and on PostgreSQL (see conftest.py)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, text

from models.errors import ConfigurationError, NotFoundError, StorageError
from models.records import FileStatus, IndexEntry, IngestFileResult, RecordStatus
from storage.index import ApiKeyRow, RecordIndex

CITIZEN = "079085001234"
OTHER_CITIZEN = "001190000123"


def entry(record_id: str, *, citizens: list[str] | None = None,
          status: RecordStatus = RecordStatus.extracted, doctype: str = "cccd",
          version_id: str | None = "v1", minutes: int = 0) -> IndexEntry:
    at = datetime(2025, 7, 1, 8, 0, tzinfo=UTC) + timedelta(minutes=minutes)
    return IndexEntry(
        record_id=record_id, dossier_id=f"dos-{record_id}", batch_id="batch-1", doctype=doctype,
        status=status, confidence=0.91, s3_key=f"records/{record_id}.json",
        version_id=version_id, citizen_ids=citizens if citizens is not None else [CITIZEN],
        summary={"ho_ten": "Nguyễn Văn An", "ngay_sinh": "1985-03-02", "que_quan": None},
        created_at=at, updated_at=at,
    )


def test_upsert_is_idempotent_and_round_trips(index: RecordIndex) -> None:
    """
    GIVEN a record entry
    WHEN it is indexed twice
    THEN there is one row, and it reads back equal, with UTC-aware times
    """
    e = entry("r1", citizens=[CITIZEN, OTHER_CITIZEN])
    index.upsert_record(e)
    index.upsert_record(e)
    assert index.count_records() == 1
    got = index.get_record("r1")
    assert got is not None
    assert got == e.model_copy(update={"citizen_ids": sorted(e.citizen_ids)})
    assert got.created_at.tzinfo is not None
    assert index.get_record("nope") is None


def test_upsert_replaces_fields_and_citizens(index: RecordIndex) -> None:
    """
    GIVEN an indexed record naming one citizen
    WHEN it is indexed again, verified, with a new version and another citizen
    THEN the row is updated and only the new citizen finds it
    """
    index.upsert_record(entry("r1", citizens=[CITIZEN]))
    index.upsert_record(entry("r1", citizens=[OTHER_CITIZEN], status=RecordStatus.verified,
                              version_id="v2"))
    assert index.records_for_citizen(CITIZEN) == []
    [found] = index.records_for_citizen(OTHER_CITIZEN)
    assert (found.status, found.version_id) == (RecordStatus.verified, "v2")
    assert index.count_records() == 1


def test_citizen_lookup(index: RecordIndex) -> None:
    """
    GIVEN records of two citizens, some verified
    WHEN one citizen's records are looked up, all and verified only
    THEN exactly theirs come back, oldest first
    """
    index.upsert_record(entry("a", citizens=[CITIZEN], minutes=2, status=RecordStatus.verified))
    index.upsert_record(entry("b", citizens=[CITIZEN, OTHER_CITIZEN], minutes=1))
    index.upsert_record(entry("c", citizens=[OTHER_CITIZEN], minutes=0))
    index.upsert_record(entry("d", citizens=[], minutes=3))

    assert [e.record_id for e in index.records_for_citizen(CITIZEN)] == ["b", "a"]
    assert [e.record_id for e in index.records_for_citizen(CITIZEN, status="verified")] == ["a"]
    assert [e.record_id for e in index.records_for_citizen(OTHER_CITIZEN)] == ["c", "b"]
    assert index.records_for_citizen("999999999999") == []


def test_list_count_and_clear(index: RecordIndex) -> None:
    """
    GIVEN records of several types and statuses
    WHEN they are listed with filters, counted, then cleared
    THEN filters and order hold, and clearing leaves nothing
    """
    index.upsert_record(entry("a", minutes=0, doctype="cccd"))
    index.upsert_record(entry("b", minutes=1, doctype="khai_sinh", status=RecordStatus.needs_review))
    index.upsert_record(entry("c", minutes=2, doctype="cccd", status=RecordStatus.needs_review))

    assert [e.record_id for e in index.list_records()] == ["c", "b", "a"]
    assert [e.record_id for e in index.list_records(limit=1)] == ["c"]
    assert [e.record_id for e in index.list_records(limit=1, offset=1)] == ["b"]
    assert [e.record_id for e in index.list_records(status=RecordStatus.needs_review,
                                                    doctype="cccd")] == ["c"]
    assert index.count_records() == 3
    assert index.count_records(status="needs_review") == 2

    assert index.clear_records() == 3
    assert index.count_records() == 0
    assert index.records_for_citizen(CITIZEN) == []


def test_file_registry(index: RecordIndex) -> None:
    """
    GIVEN a file that failed once, then was accepted, then came again as a duplicate
    WHEN the registry is consulted after each step
    THEN it shows the failure, then the acceptance, which the duplicate does not overwrite
    """
    sha = "ab" * 32
    failed = IngestFileResult(path="lô 1/to_khai.pdf", sha256=sha, status=FileStatus.failed,
                              error="the file is damaged", error_kind="CorruptFileError")
    assert index.record_file(failed, "batch-1") is True
    found = index.find_file(sha)
    assert found is not None and found.status == FileStatus.failed
    assert found.error_kind == "CorruptFileError"

    accepted = IngestFileResult(path="lô 2/to_khai.pdf", sha256=sha, dossier_id="dos-9",
                                status=FileStatus.accepted, pages=3, record_ids=["r1", "r2"])
    index.record_file(accepted, "batch-2")
    assert index.find_file(sha) == accepted

    duplicate = IngestFileResult(path="lô 3/to_khai.pdf", sha256=sha, status=FileStatus.duplicate)
    index.record_file(duplicate, "batch-3")
    assert index.find_file(sha) == accepted

    assert index.find_file("cd" * 32) is None
    unreadable = IngestFileResult(path="x.pdf", status=FileStatus.failed, error="unreadable")
    assert index.record_file(unreadable, "batch-3") is False


def test_api_keys(index: RecordIndex) -> None:
    """
    GIVEN an API key with the read scope
    WHEN it is verified right, wrong, with another scope, malformed, and after revocation
    THEN only the right key with its scope passes, and the secret is not stored
    """
    key, info = index.create_api_key("provincial portal", ["records:read"])
    assert key.startswith(f"dsk_{info.key_id}_")
    assert index.verify_api_key(key, "records:read") == info
    assert index.verify_api_key(key) == info
    assert index.verify_api_key(key, "records:write") is None
    assert index.verify_api_key(key[:-2] + ("A" if key[-2] != "A" else "B") + key[-1]) is None
    assert index.verify_api_key(f"dsk_{'0' * 16}_{key.split('_', 2)[2]}") is None
    for junk in ("", "dsk", "dsk__", "Bearer x", key.replace("dsk_", "xyz_")):
        assert index.verify_api_key(junk) is None

    secret = key.split("_", 2)[2]
    with index.engine.connect() as conn:
        stored = conn.execute(select(ApiKeyRow.key_hash)).scalars().all()
    assert stored and all(secret not in h for h in stored)

    admin_key, admin = index.create_api_key("ops", ["*"])
    assert index.verify_api_key(admin_key, "anything") == admin
    assert [k.key_id for k in index.list_api_keys()] == [info.key_id, admin.key_id]

    revoked = index.revoke_api_key(info.key_id)
    assert revoked.revoked is True
    assert index.verify_api_key(key, "records:read") is None
    assert index.verify_api_key(admin_key, "records:read") == admin
    with pytest.raises(NotFoundError):
        index.revoke_api_key("0" * 16)
    with pytest.raises(ValueError):
        index.create_api_key("no scopes", [])


def test_reopen_keeps_data_and_migrates_once(index_url: str) -> None:
    """
    GIVEN an index with a record
    WHEN it is opened again (migrations run again)
    THEN the data is there and the schema is at the newest revision
    """
    with RecordIndex(index_url) as first:
        first.upsert_record(entry("kept"))
    with RecordIndex(index_url) as second:
        assert second.get_record("kept") is not None
        from alembic.config import Config
        from alembic.script import ScriptDirectory

        from storage.index import MIGRATIONS_DIR

        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
        head = ScriptDirectory.from_config(cfg).get_current_head()
        with second.engine.connect() as conn:
            assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == head
            assert head is not None and head != "0001"


def test_sqlite_uses_wal_and_survives_concurrent_writers(tmp_path: Path) -> None:
    """
    GIVEN a SQLite index opened by two RecordIndex objects
    WHEN both write from separate threads at once
    THEN no write fails with "database is locked", and the file is in WAL mode
    """
    url = f"sqlite:///{tmp_path / 'sub' / 'index.sqlite3'}"
    a, b = RecordIndex(url), RecordIndex(url)
    errors: list[BaseException] = []

    def write(idx: RecordIndex, prefix: str) -> None:
        try:
            for i in range(40):
                idx.upsert_record(entry(f"{prefix}{i}"))
                idx.create_api_key(f"{prefix}{i}", ["records:read"])
        except BaseException as e:  # reported by the assertion below
            errors.append(e)

    threads = [threading.Thread(target=write, args=(a, "a")),
               threading.Thread(target=write, args=(b, "b"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert errors == []
    assert a.count_records() == 80
    with a.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    a.close()
    b.close()


def test_bad_urls_are_reported() -> None:
    """
    GIVEN an unsupported database URL and an unreachable PostgreSQL
    WHEN an index is opened on them
    THEN a ConfigurationError or StorageError says so
    """
    with pytest.raises(ConfigurationError):
        RecordIndex("mysql://localhost/x")
    with pytest.raises(ConfigurationError):
        RecordIndex("not a url")
    with pytest.raises(ConfigurationError, match="in-memory"):
        RecordIndex("sqlite://")
    with pytest.raises(StorageError, match="127.0.0.1:1"):
        RecordIndex("postgresql+psycopg://postgres@127.0.0.1:1/test?connect_timeout=2")


def test_bulk_upsert_writes_what_one_by_one_writes(index: RecordIndex) -> None:
    """
    GIVEN records indexed in bulk, some bringing their pages' text and some not, then again
      in bulk with one naming another citizen
    WHEN each is read back, looked up by citizen, and its search rows are counted
    THEN the bulk write stored what indexing them one at a time stores, and the second
      bulk write replaced the first's rows instead of adding to them
    """
    batch = [entry(f"b{i}", minutes=i).model_copy(
        update={"pages_text": "Giấy khai sinh" if i % 2 else None}) for i in range(7)]
    index.upsert_records(batch)
    for e in batch:
        got = index.get_record(e.record_id)
        assert got is not None
        assert got == e.model_copy(update={"pages_text": None})
    assert [r.record_id for r in index.records_for_citizen(CITIZEN)] == \
        [f"b{i}" for i in range(7)]
    moved = batch[3].model_copy(update={"citizen_ids": [OTHER_CITIZEN], "pages_text": None})
    index.upsert_records([moved, *batch[4:]])
    assert [r.record_id for r in index.records_for_citizen(OTHER_CITIZEN)] == ["b3"]
    assert "b3" not in [r.record_id for r in index.records_for_citizen(CITIZEN)]
    with index.engine.connect() as c:
        text_rows = c.execute(text("SELECT record_id, pages FROM record_text "
                                   "ORDER BY record_id")).all()
        values = c.execute(text("SELECT count(*) FROM record_values")).scalar()
    # Two non-empty values a record (name, date of birth); b3's pages kept by the re-write.
    assert values == 14
    assert [(r, bool(p)) for r, p in text_rows] == [(f"b{i}", bool(i % 2)) for i in range(7)]
