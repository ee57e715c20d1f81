"""The served app against its own OpenAPI document: schemathesis generates requests for every
operation (valid and invalid ones, multipart uploads included), sends them over HTTP to the
app on 127.0.0.1 with a key holding every scope, and runs all its checks on the answers: no
server error, every status code and body as documented, the content types declared, invalid
requests refused, and the rest.

The app runs as in production (uvicorn, the suite's embedded S3 server, a SQLite index);
Prefect is unreachable, so an accepted batch stays queued. Two records are stored first
through the record store (a settled card with its scan and searchable PDF, corrected by a
person into a second version; a marriage record naming two citizens, waiting for review), and
the generated requests use their ids and citizen IDs too, so the record operations answer with
data, not only 404. A second test calls every read of records with those ids and checks each
answer, so every success answer of them is checked whatever was generated. The examples per
operation are bounded so the run takes about a minute on two cores;
``DOSSIER_CONFORMANCE_EXAMPLES`` asks for more (``DOSSIER_CONFORMANCE_SEED`` another seed)."""

from __future__ import annotations

import os
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from api.app import create_app
from models.records import (
    AuditAction,
    AuditEvent,
    ExtractedField,
    FieldStatus,
    PageRef,
    Record,
    RecordStatus,
    utcnow,
)
from models.settings import Settings
from storage.index import RecordIndex
from storage.objects import ObjectStore
from storage.records import RecordStore
from tests.e2e.service import app_served

EXAMPLES = int(os.environ.get("DOSSIER_CONFORMANCE_EXAMPLES", "6"))
SEED = int(os.environ.get("DOSSIER_CONFORMANCE_SEED", "20261207"))


def prefect_down(batch_id: str) -> str:
    raise ConnectionError("Prefect is not reachable in this test")


AN, BINH = "079085001234", "001190000002"
PURPOSE = "1.004227; " + quote("Đăng ký thường trú")


@dataclass
class Seeded:
    card: str  # settled, with a scan and a searchable PDF, corrected once by a person
    marriage: str  # names both citizens, one field waiting for review, no PDF

    @property
    def record_ids(self) -> list[str]:
        return [self.card, self.marriage]


def _field(name: str, value: str, status: FieldStatus = FieldStatus.accepted,
           confidence: float = 0.99) -> ExtractedField:
    return ExtractedField(name=name, label=name.replace("_", " "), value=value, raw=value,
                          confidence=confidence, page=0, status=status,
                          bbox=(10, 20, 310, 60))


def seed_records(store: ObjectStore, index: RecordIndex) -> Seeded:
    """Records stored as a digitized batch stores them (record JSON in S3, audit, SQL index,
    events), their scan and the card's searchable PDF in the object store."""
    scan = store.put_original(b"%PDF-1.4 scan " + uuid.uuid4().bytes, filename="hồ sơ 1.pdf",
                              content_type="application/pdf")
    pdf_key = store.put_derived(f"pdf/{uuid.uuid4().hex}.pdf",
                                b"%PDF-1.7 searchable " + uuid.uuid4().bytes,
                                "application/pdf")
    pages = [PageRef(index=0, original_sha256=scan.sha256, source_page=0, ocr_confidence=91.5)]
    seeded = Seeded(card=f"card-{uuid.uuid4().hex[:8]}",
                    marriage=f"marriage-{uuid.uuid4().hex[:8]}")
    rs = RecordStore(store, index)
    rs.put_machine(Record(
        record_id=seeded.card, dossier_id="HS-0001", batch_id="B1", doctype="cccd_front",
        title="Căn cước công dân", classification_confidence=0.97, station="Q1-03",
        citizen_ids=[AN], pages=pages, pdf_key=pdf_key,
        fields=[_field("full_name", "Nguyễn Văn An"), _field("citizen_id", AN),
                _field("date_of_birth", "1985-03-02")]))
    rs.put_machine(Record(
        record_id=seeded.marriage, dossier_id="HS-0001", batch_id="B1",
        doctype="marriage_registration", status=RecordStatus.needs_review, station="Q1-03",
        citizen_ids=[AN, BINH],
        pages=pages, fields=[_field("husband_name", "Nguyễn Văn An"),
                             _field("wife_name", "Trần Thị Bình"),
                             _field("wife_citizen_id", BINH),
                             _field("date_of_registration", "2010-05-O1", FieldStatus.review,
                                    0.41)]))

    def correct(record: Record) -> tuple[Record, list[AuditEvent]]:
        now = utcnow()
        new = record.model_copy(deep=True)
        name = next(f for f in new.fields if f.name == "full_name")
        old = name.value
        name.machine_value, name.value = old, "Nguyễn Văn Ân"
        name.status, name.reviewed_by, name.reviewed_at = FieldStatus.corrected, "lan", now
        new.revision += 1
        new.status = RecordStatus.verified
        return new, [AuditEvent(event_id=uuid.uuid4().hex, record_id=new.record_id,
                                action=AuditAction.corrected, actor="lan", at=now,
                                field="full_name", old_value=old, new_value=name.value,
                                reason="dấu trên chữ Ân", record_version=new.revision)]

    rs.change(seeded.card, rs.load(seeded.card).revision, correct)
    return seeded


@pytest.fixture
def served(tmp_path: Path, object_store: ObjectStore) -> Iterator[tuple[str, str, Seeded]]:
    """The app over HTTP on 127.0.0.1, a key with every scope, and the records stored."""
    index = RecordIndex(f"sqlite:///{tmp_path / 'data' / 'index.sqlite3'}")
    key, _ = index.create_api_key("conformance", ["*"])
    seeded = seed_records(object_store, index)
    # Small limits, so generated uploads meet them too.
    settings = Settings(data_dir=tmp_path / "data", _env_file=None, max_upload_bytes=200_000,
                        max_file_bytes=100_000, webhook_delivery=False)
    app = create_app(settings, store=object_store, index=index)
    app.state.submit_batch = prefect_down
    try:
        with app_served(app) as base:
            yield base, key, seeded
    finally:
        index.close()


def load_schema(url: str, key: str, seed: int, examples: int) -> Any:
    """The app's OpenAPI document as schemathesis loads it: every check, the key sent."""
    import schemathesis
    from schemathesis.config import SchemathesisConfig

    config = SchemathesisConfig()
    config.update(seed=seed, max_failures=None)
    project = config.projects.override
    project.update(headers={"Authorization": f"Bearer {key}"}, base_url=url,
                   request_timeout=30)
    project.checks.update(included_check_names=["all"])
    project.generation.update(max_examples=examples, database="none")
    schema = schemathesis.openapi.from_url(f"{url}/openapi.json", config=config)
    assert schema.config.base_url == url  # nothing goes anywhere but the app
    return schema


def steer_to(schema: Any, seeded: Seeded) -> None:
    """Generated path parameters take the stored records' ids and citizen IDs as often as
    their own values; a citizen ID is swapped only for another valid one, so a request
    generated to be invalid stays invalid."""
    from hypothesis import strategies as st

    ids = {"record_id": seeded.record_ids, "citizen_id": [AN, BINH]}

    def flatmap_path_parameters(context: Any, path_parameters: dict[str, Any] | None) -> Any:
        params = dict(path_parameters or {})
        choices: dict[str, Any] = {}
        for name, value in params.items():
            if name in ids and isinstance(value, str) and (
                    name != "citizen_id" or (value.isdigit() and len(value) == 12)):
                choices[name] = st.sampled_from([value, *ids[name]])
            else:
                choices[name] = st.just(value)
        return st.fixed_dictionaries(choices) if path_parameters is not None \
            else st.just(path_parameters)

    schema.hooks.register_hook_with_name(flatmap_path_parameters, "flatmap_path_parameters")


def run_schemathesis(url: str, key: str, examples: int, seed: int,
                     seeded: Seeded) -> dict[str, Any]:
    """Every phase and every check of schemathesis against ``url``; what it found."""
    from schemathesis.core.failures import ServerError
    from schemathesis.engine import events, from_schema
    from schemathesis.engine.statistic import Statistic

    schema = load_schema(url, key, seed, examples)
    steer_to(schema, seeded)
    statistic = Statistic()
    errors: list[str] = []
    answered: Counter[str] = Counter()  # success answers (2xx, 3xx) per operation
    for event in from_schema(schema).execute():
        if isinstance(event, events.ScenarioFinished) and event.is_test_scenario:
            statistic.on_scenario_finished(event.recorder)
            answered.update(event.recorder.label for i in event.recorder.interactions.values()
                            if i.response is not None and i.response.status_code < 400)
        elif isinstance(event, events.NonFatalError):
            errors.append(f"{event.label}: {event.info.format()}")
        elif isinstance(event, events.FatalError):
            errors.append(f"fatal: {event.exception!r}")
    failures = [(label, f) for label, groups in statistic.failures.items()
                for g in groups.values() for f in g.failures]
    said = [f"{label}: {f.title}: {f.message}\n  {g.code_sample}\n  -> "
            f"{g.response.status_code if g.response else None} "
            f"{g.response.text[:300] if g.response else ''}"
            for label, groups in statistic.failures.items() for g in groups.values()
            for f in g.failures]
    server_errors = [x for x in failures if isinstance(x[1], ServerError)]
    return {"cases": statistic.total_cases, "failures": failures, "said": said,
            "server_errors": server_errors, "errors": errors,
            "operations": sorted(statistic.tested_operations), "answered": answered}


def _said(found: dict[str, Any]) -> str:
    return "\n".join(list(found["said"]) + list(found["errors"]))


@pytest.mark.e2e
def test_the_served_api_answers_as_its_openapi_says(served) -> None:
    """
    GIVEN the app served over HTTP with a key that holds every scope, and records stored
    WHEN schemathesis runs every phase and every check against its OpenAPI document, a few
         generated requests per operation, uploads included, the records' ids among them
    THEN no server error and no failure of any check, and reads of the records answered
    """
    url, key, seeded = served
    found = run_schemathesis(url, key, EXAMPLES, SEED, seeded)
    print(f"schemathesis: {found['cases']} cases, {len(found['operations'])} operations, "
          f"{len(found['server_errors'])} server errors, "
          f"{len(found['failures'])} failures, {len(found['errors'])} errors; success "
          f"answers: {dict(sorted(found['answered'].items()))}")
    assert not found["failures"] and not found["errors"], _said(found)
    assert found["cases"]
    # The generated requests reached the stored records, not only 404s.
    answered: Counter[str] = found["answered"]
    assert sum(n for op, n in answered.items() if "{record_id}" in op), answered


@pytest.mark.e2e
def test_the_reads_of_stored_records_answer_as_the_openapi_says(served) -> None:
    """
    GIVEN the app served over HTTP, a key with every scope, and records stored (a settled
          card with its scan and PDF, corrected once; a record waiting for review)
    WHEN every read of records is called with their ids and citizen IDs (lookup, record and
         its versions, audit, PDF, originals, search, events, access log)
    THEN each answers its success status with data, and schemathesis' every check passes on
         each answer (body against the operation's schema, content type, headers)
    """
    url, key, seeded = served
    schema = load_schema(url, key, SEED, EXAMPLES)
    card, marriage = seeded.card, seeded.marriage
    auth = {"Authorization": f"Bearer {key}"}
    why = {**auth, "X-Purpose": PURPOSE}
    calls: list[tuple[str, dict[str, str], dict[str, Any], int]] = [
        ("/v1/citizens/{citizen_id}/records", {"citizen_id": AN}, {}, 200),
        ("/v1/citizens/{citizen_id}/records", {"citizen_id": BINH}, {"status": "all"}, 200),
        ("/v1/citizens/{citizen_id}/records", {"citizen_id": AN},
         {"status": "needs_review,verified"}, 200),
        ("/v1/records/{record_id}", {"record_id": card}, {}, 200),
        ("/v1/records/{record_id}", {"record_id": marriage}, {}, 200),
        ("/v1/records/{record_id}/versions", {"record_id": card}, {}, 200),
        ("/v1/records/{record_id}/audit", {"record_id": card}, {}, 200),
        ("/v1/records/{record_id}/pdf", {"record_id": card}, {"redirect": "false"}, 200),
        ("/v1/records/{record_id}/pdf", {"record_id": card}, {}, 307),
        ("/v1/records/{record_id}/originals", {"record_id": card}, {}, 200),
        ("/v1/records/{record_id}/originals", {"record_id": marriage}, {}, 200),
        ("/v1/records", {}, {}, 200),
        ("/v1/records", {}, {"status": "all", "limit": 1}, 200),
        ("/v1/records", {}, {"citizen_id": BINH, "status": "all"}, 200),
        ("/v1/records", {}, {"name": "nguyen van an", "doctype": "cccd_front",
                             "field": "citizen_id:" + AN,
                             "date": "date_of_birth:1985-01-01..1985-12-31",
                             "station": "Q1-03", "batch": "B1", "dossier": "HS-0001",
                             "created_from": "2020-01-01"}, 200),
        ("/v1/records", {}, {"q": "Bình", "status": "all"}, 200),
        ("/v1/events", {}, {}, 200),
        ("/v1/events", {}, {"limit": 2, "type": "record.needs_review"}, 200),
        ("/v1/citizens/{citizen_id}/access-log", {"citizen_id": AN}, {}, 200),
        ("/v1/citizens/{citizen_id}/access-log", {"citizen_id": BINH}, {"format": "csv"}, 200),
        ("/v1/review/stats", {}, {}, 200),
    ]
    versions: list[str] = []
    bodies: dict[str, Any] = {}
    for path, path_parameters, query, status in calls:
        operation = schema[path]["GET"]
        headers = why if any(p.get("name") == "X-Purpose"
                             for p in operation.definition.raw.get("parameters", [])) else auth
        case = operation.Case(path_parameters=path_parameters, query=query, headers=headers)
        response = case.call_and_validate(allow_redirects=False)
        said = f"{path} {path_parameters} {query}: {response.status_code} {response.text[:300]}"
        assert response.status_code == status, said
        if path.endswith("/access-log") or path.endswith("/stats"):
            continue
        body = response.json() if status != 307 else {"location": response.headers["location"]}
        assert body.get("records") or body.get("events") or body.get("versions") \
            or body.get("originals") or body.get("url") or body.get("record_id") \
            or body.get("location"), said
        bodies.setdefault(path, body)
        if path.endswith("/versions"):
            versions = [v["version_id"] for v in body["versions"]]
    assert len(versions) == 2
    # An earlier version, as stored before the person's correction.
    for path in ("/v1/records/{record_id}", "/v1/records/{record_id}/pdf"):
        case = schema[path]["GET"].Case(path_parameters={"record_id": card}, headers=why,
                                        query={"version": versions[-1], "redirect": "false"})
        response = case.call_and_validate(allow_redirects=False)
        assert response.status_code == 200, response.text[:300]
    log = schema["/v1/citizens/{citizen_id}/access-log"]["GET"].Case(
        path_parameters={"citizen_id": AN}, headers=auth).call_and_validate()
    assert len(log.json()["entries"]) >= 10
    # The checks have teeth: an answer that says something else than the schema is refused.
    from datetime import timedelta

    import httpx
    from schemathesis.core.failures import FailureGroup

    for path, spoil in (("/v1/records/{record_id}", {"settled": "yes"}),
                        ("/v1/citizens/{citizen_id}/records", {"count": None}),
                        ("/v1/records", {"records": [{"record_id": card}]})):
        operation = schema[path]["GET"]
        case = operation.Case(path_parameters={"record_id": card} if "record_id" in path
                              else {"citizen_id": AN} if "citizen_id" in path else {},
                              headers=why)
        bad = httpx.Response(200, json={**bodies[path], **spoil},
                             request=httpx.Request("GET", f"{url}{path}"))
        bad.elapsed = timedelta(milliseconds=5)
        with pytest.raises(FailureGroup):
            case.validate_response(bad)
