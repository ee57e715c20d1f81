"""Other systems reusing records through /v1, on the real S3 server and SQLite/PostgreSQL:
search, purposes, the access log (index, object store, API, CSV), keys limited to document
types, and originals and PDFs through presigned URLs fetched from the object store itself."""

from __future__ import annotations

import csv
import io
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import httpx
import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from models.records import ExtractedField, FieldStatus, PageRef, Record, RecordStatus
from models.settings import Settings
from storage.access import AccessArchiver, AccessLog
from storage.embedded import S3Endpoint
from storage.index import RecordIndex
from storage.objects import ObjectStore
from storage.records import RecordStore

AN, BINH = "079085001234", "001190000002"
WHY = {"X-Purpose": "1.004227; " + quote("Đăng ký thường trú")}


def settings(tmp_path: Path, **kw: Any) -> Settings:
    return Settings(data_dir=tmp_path / "data", _env_file=None, webhook_delivery=False,
                    access_archive_s=3600, **kw)


def record(rid: str, doctype: str, cids: list[str], name: str, sha: str,
           pdf_key: str | None = None) -> Record:
    fields = [ExtractedField(name="full_name", value=name, confidence=0.99,
                             status=FieldStatus.accepted),
              ExtractedField(name="citizen_id", value=cids[0], confidence=0.99,
                             status=FieldStatus.accepted),
              ExtractedField(name="date_of_birth", value="1985-03-02", confidence=0.99,
                             status=FieldStatus.accepted)]
    return Record(record_id=rid, dossier_id=f"D-{rid}", batch_id="B1", doctype=doctype,
                  status=RecordStatus.extracted, fields=fields, citizen_ids=cids,
                  pages=[PageRef(index=0, original_sha256=sha, source_page=0)],
                  station="Q1-03", pdf_key=pdf_key)


@pytest.fixture
def world(tmp_path: Path, s3_endpoint: S3Endpoint, index: RecordIndex
          ) -> Iterator[dict[str, Any]]:
    """Two citizens' records (a card, and a marriage record naming both), their scan and a
    PDF in S3 (buckets of this test's own), and an app over them."""
    object_store = ObjectStore(s3_endpoint, bucket_prefix=f"t{uuid.uuid4().hex[:10]}-")
    original = b"%PDF-1.4 scan " + uuid.uuid4().bytes
    ref = object_store.put_original(original, filename="hồ sơ 1.pdf",
                                    content_type="application/pdf")
    pdf = b"%PDF-1.7 searchable " + uuid.uuid4().bytes
    pdf_key = f"pdf/{uuid.uuid4().hex}.pdf"
    object_store.put_derived(pdf_key, pdf, "application/pdf")
    rs = RecordStore(object_store, index)
    card = f"card-{uuid.uuid4().hex[:8]}"
    marriage = f"marriage-{uuid.uuid4().hex[:8]}"
    rs.put_machine(record(card, "cccd_front", [AN], "Nguyễn Văn An", ref.sha256, pdf_key))
    rs.put_machine(record(marriage, "marriage_registration", [AN, BINH], "Trần Thị Bình",
                          ref.sha256))
    reader, _ = index.create_api_key("portal", ["records:read", "originals:read"],
                                     agency="Sở Tư pháp Hà Nội")
    auditor, _ = index.create_api_key("inspector", ["access-log:read"])
    with TestClient(create_app(settings(tmp_path), store=object_store, index=index)) as c:
        yield {"client": c, "index": index, "store": object_store, "card": card,
               "marriage": marriage, "reader": {"Authorization": f"Bearer {reader}"},
               "auditor": {"Authorization": f"Bearer {auditor}"}, "pdf": pdf,
               "original": original, "sha": ref.sha256}


def test_every_read_of_citizen_data_needs_a_purpose_and_is_logged(world: dict[str, Any]
                                                                   ) -> None:
    """
    GIVEN a key of an agency and two citizens' records
    WHEN each read path is called without a purpose, then with one (header or parameter)
    THEN without it is a plain 400 saying what to send; with it, the data comes and every
    citizen the records name has an entry: key, agency, time, records, action, purpose
    """
    c, reader = world["client"], world["reader"]
    card, marriage = world["card"], world["marriage"]
    paths = [f"/v1/citizens/{AN}/records", f"/v1/records/{card}", f"/v1/records/{card}/audit",
             "/v1/records?name=tran%20thi%20binh", f"/v1/records/{card}/pdf?redirect=false",
             f"/v1/records/{card}/originals"]
    for path in paths:
        r = c.get(path, headers=reader)
        assert r.status_code == 400, path
        assert r.json()["kind"] == "PurposeRequired" and "X-Purpose" in r.json()["hint"]
    assert AccessLog(world["index"]).for_citizen(AN)[0] == []
    for path in paths:
        assert c.get(path, headers={**reader, **WHY}).status_code == 200, path
    r = c.get(f"/v1/citizens/{BINH}/records", headers=reader,
              params={"purpose": "2.000986; cấp bản sao trích lục"})
    assert [x["record_id"] for x in r.json()["records"]] == [marriage]

    r = c.get(f"/v1/citizens/{AN}/access-log", headers=world["auditor"])
    assert r.status_code == 200
    got = r.json()["entries"]
    # Bình's lookup got the marriage record, which names An too.
    assert [e["action"] for e in got] == ["citizen_lookup", "original", "pdf", "search",
                                          "record", "record", "citizen_lookup"]
    assert {e["agency"] for e in got} == {"Sở Tư pháp Hà Nội"}
    assert {e["key_name"] for e in got} == {"portal"}
    assert got[1]["purpose"] == {"code": "1.004227", "text": "Đăng ký thường trú"}
    assert sorted(got[-1]["record_ids"]) == sorted([card, marriage])
    assert got[3]["record_ids"] == [marriage]  # the search hit names An too
    binh = c.get(f"/v1/citizens/{BINH}/access-log", headers=world["auditor"]).json()
    assert [e["purpose"]["code"] for e in binh["entries"]] == ["2.000986", "1.004227",
                                                              "1.004227"]
    assert c.get(f"/v1/citizens/{AN}/access-log", headers=reader).status_code == 403

    r = c.get(f"/v1/citizens/{AN}/access-log?format=csv", headers=world["auditor"])
    assert r.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert rows[0][:4] == ["time (UTC)", "agency", "API key", "what"]
    assert len(rows) == 8 and rows[2][1] == "Sở Tư pháp Hà Nội" and rows[2][5] == \
        "Đăng ký thường trú"


def test_the_access_log_goes_to_the_object_store_and_comes_back(
        world: dict[str, Any], tmp_path: Path) -> None:
    """
    GIVEN reads recorded in the index
    WHEN the archiver runs, and the log is restored into an empty index from the store alone
    THEN the store holds them as append-only segments, and the new index lists the same reads
    """
    c, reader = world["client"], world["reader"]
    for _ in range(3):
        c.get(f"/v1/citizens/{AN}/records", headers={**reader, **WHY})
    log = AccessLog(world["index"], world["store"])
    assert AccessArchiver(log, 3600).run_once() == 3
    assert log.archive_pending() == 0  # nothing twice
    segments = list(world["store"].iter_access_segments())
    assert len(segments) == 1 and segments[0][1].count(b"\n") == 3
    fresh = RecordIndex(f"sqlite:///{tmp_path / 'fresh.sqlite3'}")
    try:
        restored = AccessLog(fresh, world["store"])
        assert restored.restore() == 3
        assert restored.restore() == 0
        assert restored.for_citizen(AN)[0] == log.for_citizen(AN)[0]
    finally:
        fresh.close()


def test_originals_and_pdfs_come_through_presigned_urls(world: dict[str, Any]) -> None:
    """
    GIVEN a record with a searchable PDF and its original scan in S3
    WHEN a key with originals:read asks for them
    THEN it gets short-lived URLs on the S3 server's address that give the very bytes, and
    the PDF answers with a redirect to its URL; a key without the scope gets 403
    """
    c, card = world["client"], world["card"]
    r = c.get(f"/v1/records/{card}/pdf", headers={**world["reader"], **WHY},
              follow_redirects=False)
    assert r.status_code == 307 and r.headers["location"] == r.json()["url"]
    url = r.json()["url"]
    assert urlsplit(url).netloc == world["store"].endpoint.endpoint
    assert "X-Amz-Expires=300" in url and "X-Amz-Signature=" in url
    got = httpx.get(url)
    assert got.status_code == 200 and got.content == world["pdf"]
    assert got.headers["content-type"] == "application/pdf"
    assert httpx.get(url.replace("X-Amz-Signature=", "X-Amz-Signature=0")).status_code == 403

    r = c.get(f"/v1/records/{card}/originals", headers={**world["reader"], **WHY})
    (orig,) = r.json()["originals"]
    assert orig["sha256"] == world["sha"] and orig["filename"] == "hồ sơ 1.pdf"
    assert orig["pages"] == [{"record_page": 0, "file_page": 0}]
    got = httpx.get(orig["url"])
    assert got.content == world["original"]
    assert "attachment" in got.headers["content-disposition"]

    only_records, _ = world["index"].create_api_key("viewer", ["records:read"])
    r = c.get(f"/v1/records/{card}/originals",
              headers={"Authorization": f"Bearer {only_records}", **WHY})
    assert r.status_code == 403


def test_presigned_urls_name_the_public_address(tmp_path: Path, object_store: ObjectStore,
                                                index: RecordIndex) -> None:
    """
    GIVEN DOSSIER_S3_PUBLIC_URL set to the address clients reach the store at
    WHEN a PDF URL is issued
    THEN it names that address and scheme, signed for it
    """
    store = ObjectStore(object_store.endpoint, object_store.bucket_prefix,
                        public_url="https://s3.example.gov.vn")
    url = store.presigned_derived_url("pdf/x.pdf", __import__("datetime").timedelta(minutes=5))
    parts = urlsplit(url)
    assert (parts.scheme, parts.netloc) == ("https", "s3.example.gov.vn")
    assert parts.path == f"/{object_store.derived_bucket}/pdf/x.pdf"


def test_a_key_limited_to_document_types_reads_only_those(world: dict[str, Any]) -> None:
    """
    GIVEN a key limited to identity cards
    WHEN it looks up a citizen, reads a marriage record and searches
    THEN only cards come back; the marriage record is a 403 naming its type; the access
    log names only what it got
    """
    c, index = world["client"], world["index"]
    key, info = index.create_api_key("police", ["records:read", "originals:read"],
                                     agency="Công an", doctypes=["cccd_front"])
    assert info.doctypes == ["cccd_front"]
    h = {"Authorization": f"Bearer {key}", **WHY}
    r = c.get(f"/v1/citizens/{AN}/records", headers=h)
    assert [x["doctype"] for x in r.json()["records"]] == ["cccd_front"]
    r = c.get(f"/v1/records/{world['marriage']}", headers=h)
    assert r.status_code == 403 and "marriage_registration" in r.json()["detail"]
    assert c.get(f"/v1/records/{world['marriage']}/originals", headers=h).status_code == 403
    r = c.get("/v1/records", params={"citizen_id": AN}, headers=h)
    assert [x["doctype"] for x in r.json()["records"]] == ["cccd_front"]
    police = [e for e in AccessLog(index).for_citizen(AN)[0] if e.agency == "Công an"]
    assert [e.record_ids for e in police] == [[world["card"]], [world["card"]]]


def test_search_pages_and_refuses_what_it_cannot_use(world: dict[str, Any]) -> None:
    """
    GIVEN two records naming one citizen
    WHEN searched a page of one at a time, by field and date, and with bad parameters
    THEN the pages follow the cursor to the end; bad values get 422 saying the form
    """
    c, h = world["client"], {**world["reader"], **WHY}
    first = c.get("/v1/records", params={"citizen_id": AN, "limit": 1}, headers=h).json()
    assert first["count"] == 1 and first["next"]
    second = c.get("/v1/records", params={"citizen_id": AN, "limit": 1,
                                          "after": first["next"]}, headers=h).json()
    assert second["next"] is None
    assert {first["records"][0]["record_id"], second["records"][0]["record_id"]} == {
        world["card"], world["marriage"]}
    hit = first["records"][0]
    assert hit["values"]["full_name"] and hit["href"] == f"/v1/records/{hit['record_id']}"
    r = c.get("/v1/records", params={"field": "full_name:NGUYEN VAN AN",
                                     "date": "date_of_birth:1985-01-01..1985-12-31"}, headers=h)
    assert [x["record_id"] for x in r.json()["records"]] == [world["card"]]
    r = c.get("/v1/records", params={"q": "tran", "doctype": "marriage_registration"},
              headers=h)
    assert [x["record_id"] for x in r.json()["records"]] == [world["marriage"]]
    # No criteria: every settled record, newest first (what a search of all may be).
    every = c.get("/v1/records", headers=h).json()
    assert every["count"] >= len(first["records"]) and all(x["settled"] for x in every["records"])
    for bad in ({"citizen_id": "123"}, {"field": "nocolon"}, {"date": "x:1985"},
                {"date": "date_of_birth:soon..later"}, {"q": "a", "after": "x"},
                {"q": "a", "status": "maybe"}):
        assert c.get("/v1/records", params=bad, headers=h).status_code == 422, bad


def test_a_revoked_key_stops_within_the_cache_time(tmp_path: Path, object_store: ObjectStore,
                                                   index: RecordIndex) -> None:
    """
    GIVEN an app that trusts verified keys for no time at all
    WHEN a key is used, revoked, and used again
    THEN the second use is refused at once
    """
    key, info = index.create_api_key("portal", ["records:read"])
    h = {"Authorization": f"Bearer {key}", **WHY}
    with TestClient(create_app(settings(tmp_path, api_key_cache_s=0), store=object_store,
                               index=index)) as c:
        assert c.get(f"/v1/citizens/{AN}/records", headers=h).status_code == 200
        index.revoke_api_key(info.key_id)
        assert c.get(f"/v1/citizens/{AN}/records", headers=h).status_code == 401


def test_a_revoked_key_works_at_most_the_cache_time(tmp_path: Path, object_store: ObjectStore,
                                                    index: RecordIndex) -> None:
    """
    GIVEN an app that trusts a verified key for one second
    WHEN the key is used, revoked, used at once, and again after the second
    THEN it still works at once (trusted from the cache) and is refused after the second
    """
    key, info = index.create_api_key("portal", ["records:read"])
    h = {"Authorization": f"Bearer {key}", **WHY}
    with TestClient(create_app(settings(tmp_path, api_key_cache_s=1), store=object_store,
                               index=index)) as c:
        assert c.get(f"/v1/citizens/{AN}/records", headers=h).status_code == 200
        index.revoke_api_key(info.key_id)
        assert c.get(f"/v1/citizens/{AN}/records", headers=h).status_code == 200
        time.sleep(1.1)
        r = c.get(f"/v1/citizens/{AN}/records", headers=h)
        assert r.status_code == 401 and r.json()["kind"] == "Unauthorized"


def test_a_read_whose_access_entry_cannot_be_written_is_refused(world: dict[str, Any]) -> None:
    """
    GIVEN the index refuses the access log's writes (its table of citizens is gone)
    WHEN a citizen is looked up, and a record read
    THEN both are a plain 503 with no record in it and nothing of the index's internals;
    once the table is back, the same lookup is answered and recorded
    """
    c, headers = world["client"], {**world["reader"], **WHY}
    with world["index"].engine.begin() as conn:
        conn.exec_driver_sql("ALTER TABLE access_citizens RENAME TO access_citizens_away")
    for path in (f"/v1/citizens/{AN}/records", f"/v1/records/{world['card']}"):
        r = c.get(path, headers=headers)
        assert r.status_code == 503, path
        assert r.json()["kind"] == "Unavailable" and r.json()["request_id"]
        for word in (world["card"], "access_citizens", "sqlite", "postgresql", "INSERT"):
            assert word not in r.text
    with world["index"].engine.begin() as conn:
        conn.exec_driver_sql("ALTER TABLE access_citizens_away RENAME TO access_citizens")
    r = c.get(f"/v1/citizens/{AN}/records", headers=headers)
    assert r.status_code == 200 and r.json()["count"] == 2
    assert [e.action for e in AccessLog(world["index"]).for_citizen(AN)[0]] == \
        ["citizen_lookup"]


def test_the_pages_text_is_searchable_and_survives_reindex(world: dict[str, Any]) -> None:
    """
    GIVEN a record whose page's stored OCR reads "Giấy chứng nhận quyền sử dụng đất"
    WHEN it is searched by those words without diacritics, before and after a reindex
    THEN it is found both times
    """
    import json

    store, index = world["store"], world["index"]
    ocr_key = f"ocr/{uuid.uuid4().hex}/0.json"
    words = "Giấy chứng nhận quyền sử dụng đất thửa số 118".split()
    store.put_derived(ocr_key, json.dumps({"width": 10, "height": 10, "lines": [
        {"words": [{"text": w, "bbox": [0, 0, 1, 1], "confidence": 0.9} for w in words]}]}
    ).encode(), "application/json")
    rid = f"land-{uuid.uuid4().hex[:8]}"
    rec = record(rid, "land_use_certificate", [AN], "Nguyễn Văn An", world["sha"])
    rec.pages[0].ocr_key = ocr_key
    rs = RecordStore(store, index)
    rs.put_machine(rec)
    c, h = world["client"], {**world["reader"], **WHY}
    find = {"q": "quyen su dung dat thua 118"}
    assert [x["record_id"] for x in c.get("/v1/records", params=find, headers=h).json()[
        "records"]] == [rid]
    rs.reindex()
    assert [x["record_id"] for x in c.get("/v1/records", params=find, headers=h).json()[
        "records"]] == [rid]
    assert len(AccessLog(index).for_citizen(AN)[0]) == 2  # kept through the reindex


def test_a_record_is_served_as_the_model_serves_it(world: dict[str, Any]) -> None:
    """
    GIVEN a settled record and one with a field left for review, stored by this version
    WHEN both are read through /v1 (served as stored, without the model)
    THEN each is exactly the model's own JSON with its settled flag
    """
    store, index = world["store"], world["index"]
    rec = record(f"x-{uuid.uuid4().hex[:6]}", "cccd_front", [AN], "Nguyễn Văn An",
                 world["sha"])
    rec.fields[0].status = FieldStatus.review
    rec.status = RecordStatus.needs_review
    RecordStore(store, index).put_machine(rec)
    for rid in (world["card"], rec.record_id):
        got = world["client"].get(f"/v1/records/{rid}", headers={**world["reader"], **WHY})
        model = Record.from_json(store.get_record(rid))
        assert got.json() == {**model.model_dump(mode="json"), "settled": model.settled}
    assert got.json()["settled"] is False
