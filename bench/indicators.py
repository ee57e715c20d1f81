"""What the indicators cost on a big index: ``GET /v1/metrics/summary`` (30 days) and a
Prometheus scrape of ``/metrics``, computed straight from the index.

    .venv/bin/python -m bench.indicators --pages 1000000 --backend sqlite
    .venv/bin/python -m bench.indicators --pages 1000000 --backend postgresql

The index (a fresh SQLite file, or a fresh schema of the PostgreSQL at 127.0.0.1:5432/test)
is made by the migrations and filled in bulk with a year of generated work: batches of a
few dossiers at 20 stations, each file's pages in the ledger (one row a page), one record
per two pages (most settled by the machine, some verified, a few waiting), and access-log
entries (lookups, reads and searches by five agencies; a tenth are counter lookups and
reuses), three per record.
Each measure is the median of ``--repeat`` runs; the scrape is the whole text exposition,
a process's first (which counts the whole ledger) apart from the later ones.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path

from models.access import AccessEntry, Purpose
from models.records import IndexEntry, RecordStatus, utcnow
from models.settings import Settings
from storage import indicators
from storage.access import AccessLog
from storage.batches import BatchFileRow, BatchPageRow, BatchRow
from storage.embedded import EmbeddedS3
from storage.index import RecordIndex
from storage.objects import open_object_store
from storage.records import RecordStore

PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
CHUNK = 20_000


def _chunks(rows: list[dict], size: int = CHUNK):
    for i in range(0, len(rows), size):
        yield rows[i:i + size]


def fill(records_: RecordStore, pages: int, seed: int = 1) -> dict[str, int]:
    """The ledger's rows in bulk as they are; the records through the record store's
    bulk projection and the reads through the access log, as the application writes them."""
    index = records_.index
    rnd = random.Random(seed)
    now = utcnow()
    batches, files, page_rows, records, access = [], [], [], [], []
    n_pages = b = 0
    while n_pages < pages:
        b += 1
        bid = f"b{b:08d}"
        created = now - timedelta(days=rnd.random() * 365)
        started = created + timedelta(seconds=rnd.uniform(1, 120))
        batches.append({"batch_id": bid, "station": f"S{rnd.randrange(20):02d}",
                        "operator": "op", "state": "finished", "created_at": created,
                        "started_at": started,
                        "finished_at": started + timedelta(seconds=rnd.uniform(10, 600)),
                        "attempts": 1})
        for f in range(rnd.randint(1, 4)):
            n = rnd.randint(1, 12)
            failed = rnd.random() < 0.02
            files.append({"batch_id": bid, "file_no": f, "dossier": f"d{b}-{f}",
                          "dossier_id": f"D{b}-{f}", "name": "scan.pdf", "size": 1,
                          "content_type": "application/pdf",
                          "stage": "failed" if failed else "done", "pages": n,
                          "error_kind": "CorruptFile" if failed else None, "refused": False,
                          "record_ids": [], "position": f, "updated_at": started})
            for p in range(n):
                page_rows.append({"batch_id": bid, "file_no": f, "source_page": p,
                                  "stage": "failed" if failed else "done", "reads": 1,
                                  "updated_at": started})
            n_pages += n
            if failed:
                continue
            for _ in range(max(1, n // 2)):
                rid = uuid.uuid4().hex
                roll = rnd.random()
                status = ("extracted" if roll < 0.7 else "verified" if roll < 0.95
                          else "needs_review")
                records.append(IndexEntry(
                    record_id=rid, dossier_id=f"D{b}-{f}", batch_id=bid,
                    doctype=rnd.choice(["cccd_front", "birth_certificate", "residence"]),
                    status=RecordStatus(status), confidence=0.9,
                    s3_key=records_.store.record_location(rid), created_at=started,
                    updated_at=started, station=batches[-1]["station"],
                    settled=status != "needs_review",
                    reviewed_by="lan" if status == "verified" else None,
                    reviewed_at=started + timedelta(hours=rnd.uniform(0.1, 30))
                    if status == "verified" else None))
                for _ in range(3):
                    action = rnd.choices(["citizen_lookup", "record", "search",
                                          "counter_lookup", "reuse"],
                                         weights=[40, 25, 25, 7, 3])[0]
                    access.append(AccessEntry(
                        access_id=uuid.uuid4().hex,
                        at=started + timedelta(days=rnd.random() * 30), key_id="k",
                        key_name="k", agency=f"agency {rnd.randrange(5)}",
                        action=action, purpose=Purpose(code="1.004227"),
                        record_ids=[rid] if rnd.random() < 0.8 else [],
                        citizen_ids=["079085001234"]))
    for table, rows in ((BatchRow, batches), (BatchFileRow, files), (BatchPageRow, page_rows)):
        for chunk in _chunks(rows):
            index.insert_rows(table, chunk)
    records_.project(records, chunk=CHUNK)
    log = AccessLog(index)
    for chunk in _chunks(access):
        log.record_all(chunk)
    return {"batches": len(batches), "files": len(files), "pages": len(page_rows),
            "records": len(records), "access_entries": len(access)}


def _median_ms(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000)
    return round(statistics.median(times), 1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pages", type=int, default=1_000_000)
    ap.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    from prometheus_client import generate_latest

    from api.metrics import registry_for

    schema = None
    with tempfile.TemporaryDirectory() as tmp:
        if args.backend == "sqlite":
            url = f"sqlite:///{Path(tmp) / 'index.sqlite3'}"
        else:
            import psycopg

            schema = f"bench_{uuid.uuid4().hex[:10]}"
            with psycopg.connect("host=127.0.0.1 dbname=test user=postgres",
                                 autocommit=True) as c:
                c.execute(f'CREATE SCHEMA "{schema}"')
            url = f"{PG}?options=-csearch_path%3D{schema}"
        index = RecordIndex(url)
        # The embedded S3 server names where records would be stored; none is written.
        data = Path(tmp) / "data"
        store = open_object_store(Settings(data_dir=data, _env_file=None))
        try:
            t = time.perf_counter()
            sizes = fill(RecordStore(store, index), args.pages)
            filled_s = round(time.perf_counter() - t, 1)
            if args.backend == "postgresql":
                index.analyze()
            since, until = indicators.period(30)
            registry = registry_for(index)
            t = time.perf_counter()
            generate_latest(registry)  # a process's first scrape counts everything
            first_ms = round((time.perf_counter() - t) * 1000, 1)
            out = {"backend": args.backend, **sizes, "fill_s": filled_s,
                   "scrape_first_ms": first_ms,
                   "summary_30_days_ms": _median_ms(
                       lambda: indicators.summary(index, since, until), args.repeat),
                   "summary_365_days_ms": _median_ms(
                       lambda: indicators.summary(index, *indicators.period(365)),
                       args.repeat),
                   "scrape_ms": _median_ms(lambda: generate_latest(registry), args.repeat),
                   "scrape_bytes": len(generate_latest(registry))}
        finally:
            index.close()
            EmbeddedS3(data).stop()
            if schema:
                import psycopg

                with psycopg.connect("host=127.0.0.1 dbname=test user=postgres",
                                     autocommit=True) as c:
                    c.execute(f'DROP SCHEMA "{schema}" CASCADE')
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
