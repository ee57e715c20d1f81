"""Reuse benchmark: citizen lookups and searches over HTTP against an index of a million
records, the load from a separate process on 127.0.0.1, every phase bounded in count and
time.

    .venv/bin/python -m bench.reuse --records 1000000 --backend sqlite
    .venv/bin/python -m bench.reuse --records 1000000 --backend postgresql

1. The index (a SQLite file, or a schema of the PostgreSQL at 127.0.0.1:5432/test) is made
   by the migrations, then filled with generated records through the record store's bulk
   projection (``RecordStore.project``, as a reindex fills it): records, their citizens
   (about 0.6 per record: most people have more than one record, a marriage or birth record
   names two), the search rows and their full-text index, each field's value. Kept for the
   next run (same size and seed: not filled again).
2. A sample of citizens gets real record JSON in the embedded S3 server, stored as the
   machine stores an extraction (``RecordStore.put_machine``: the record's version, its
   audit event, its index row and its event): lookups read real objects, as in production.
3. The app ``dossier serve`` runs (``api.app:served_app``, uvicorn with ``--web-workers``
   processes, httptools, access log on), with no Prefect (lookups do not use it).
4. A separate process (asyncio, uvloop, raw HTTP/1.1 with keep-alive: a client light enough
   not to be what is measured) runs: lookups one at a time; lookups from 64 connections at
   once; searches one at a time (a mix: name, name without diacritics, words of the pages,
   citizen ID, type and status, field value, date range, station and batch, dossier code).

Every request sends a key and a purpose, so every lookup also writes its access record.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from models.records import (
    ExtractedField,
    FieldStatus,
    IndexEntry,
    PageRef,
    Record,
    RecordStatus,
    fold,
)
from storage.index import RecordIndex
from storage.objects import open_object_store
from storage.records import RecordStore

__all__ = ["main"]

ROOT = Path(__file__).resolve().parent.parent
PG_URL = os.environ.get("DOSSIER_TEST_POSTGRES_URL",
                        "postgresql+psycopg://postgres@127.0.0.1:5432/test")
PURPOSE = "1.004227"

SURNAMES = (["Nguyễn"] * 38 + ["Trần"] * 11 + ["Lê"] * 9 + ["Phạm"] * 7 + ["Hoàng"] * 5 +
            ["Huỳnh", "Huỳnh", "Phan", "Phan", "Vũ", "Vũ", "Võ", "Đặng", "Bùi", "Đỗ", "Hồ",
             "Ngô", "Dương", "Lý", "Đinh", "Trương", "Lâm", "Mai", "Tô", "Hà", "Cao"])
MIDDLES = ["Văn", "Thị", "Hữu", "Đức", "Minh", "Ngọc", "Thanh", "Quốc", "Xuân", "Hoàng",
           "Thu", "Kim", "Gia", "Bảo", "Công", "Mạnh", "Thùy", "Phương", "Anh", "Đình"]
GIVEN = ["An", "Bình", "Chi", "Dũng", "Hà", "Hải", "Hạnh", "Hoa", "Hùng", "Hương", "Khánh",
         "Lan", "Linh", "Long", "Mai", "Minh", "Nam", "Nga", "Phúc", "Phương", "Quang", "Sơn",
         "Tâm", "Thảo", "Thắng", "Trang", "Trung", "Tuấn", "Vy", "Yến", "Đạt", "Hiếu", "Huy",
         "Khoa", "Lộc", "Nhung", "Oanh", "Quân", "Tài", "Thủy", "Tiến", "Trí", "Uyên", "Việt"]
PLACES = ["Hà Nội", "Hải Phòng", "Huế", "Đà Nẵng", "Quảng Nam", "Khánh Hòa", "Lâm Đồng",
          "Đồng Nai", "TP Hồ Chí Minh", "Cần Thơ", "An Giang", "Nghệ An", "Thanh Hóa",
          "Bắc Ninh", "Quảng Ninh", "Thái Bình", "Nam Định", "Bình Dương", "Long An", "Cà Mau"]
PROVINCES = ["001", "031", "046", "048", "049", "056", "068", "075", "079", "092", "089",
             "040", "038", "027", "022", "034", "036", "074", "080", "096"]
DOCTYPES = ["cccd_front", "cccd_back", "birth_certificate_extract", "birth_registration",
            "marriage_registration", "residence_confirmation", "land_use_certificate",
            "power_of_attorney", "application_letter", "receipt_appointment",
            "enterprise_registration"]
TWO_PEOPLE = {"marriage_registration", "birth_registration"}
PAGE_WORDS = fold(
    "cộng hòa xã hội chủ nghĩa việt nam độc lập tự do hạnh phúc giấy chứng nhận tờ khai "
    "đăng ký thường trú tạm trú khai sinh kết hôn quyền sử dụng đất thửa số tờ bản đồ "
    "ủy ban nhân dân phường xã quận huyện tỉnh thành phố họ và tên ngày sinh giới tính nam "
    "nữ dân tộc kinh quốc tịch nơi cư trú quê quán số định danh cá nhân căn cước công dân "
    "người yêu cầu cơ quan cấp ngày tháng năm chữ ký xác nhận bản sao trích lục phiếu hẹn "
    "trả kết quả hồ sơ tiếp nhận doanh nghiệp mã số thuế vốn điều lệ người đại diện").split()
STATIONS = [f"Q{i // 3 + 1}-{i % 3 + 1:02d}" for i in range(24)]
T0 = datetime(2025, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Citizen:
    cid: str
    name: str
    dob: str
    place: str


def _citizens(rng: random.Random, n: int) -> list[Citizen]:
    out: list[Citizen] = []
    seen: set[str] = set()
    while len(out) < n:
        year = rng.randint(1940, 2020)
        century = (0 if year < 2000 else 2) + rng.randint(0, 1)
        cid = f"{rng.choice(PROVINCES)}{century}{year % 100:02d}{rng.randint(0, 999999):06d}"
        if cid in seen:
            continue
        seen.add(cid)
        name = f"{rng.choice(SURNAMES)} {rng.choice(MIDDLES)} {rng.choice(GIVEN)}"
        if rng.random() < 0.3:
            name = f"{rng.choice(SURNAMES)} {rng.choice(MIDDLES)} {rng.choice(MIDDLES)} " \
                   f"{rng.choice(GIVEN)}"
        dob = (date(year, 1, 1) + timedelta(days=rng.randint(0, 364))).isoformat()
        out.append(Citizen(cid, name, dob, rng.choice(PLACES)))
    return out


@dataclass
class Row:
    record_id: str
    dossier_id: str
    batch_id: str
    doctype: str
    status: str
    settled: bool
    station: str
    created: datetime
    people: list[Citizen]
    summary: dict[str, str]
    search_text: str
    pages: str


_FOLD: dict[str, str] = {}


def _f(text: str) -> str:
    got = _FOLD.get(text)
    if got is None:
        got = _FOLD[text] = fold(text)
    return got


def generate(n: int, seed: int) -> tuple[list[Citizen], Iterator[Row]]:
    """The citizens and a stream of ``n`` records naming them (same seed, same rows)."""
    rng = random.Random(seed)
    citizens = _citizens(rng, max(1, n * 6 // 10))

    def rows() -> Iterator[Row]:
        r = random.Random(seed + 1)
        for i in range(n):
            doctype = r.choice(DOCTYPES)
            first = citizens[r.randrange(len(citizens))]
            people = [first]
            if doctype in TWO_PEOPLE:
                people.append(citizens[r.randrange(len(citizens))])
            roll = r.random()
            status, settled = (("extracted", True) if roll < 0.78 else
                               ("verified", True) if roll < 0.88 else
                               ("needs_review", False) if roll < 0.97 else ("rejected", False))
            batch = f"B{i // 40:06d}"
            rid = f"{batch}-{i % 40:02d}-{doctype[:4]}"
            summary = {"full_name": first.name, "citizen_id": first.cid,
                       "date_of_birth": first.dob, "place_of_origin": first.place,
                       "issue_date": (T0 + timedelta(days=r.randint(0, 700))).date().isoformat()}
            if len(people) > 1:
                summary["wife_name"] = people[1].name
                summary["wife_id"] = people[1].cid
            parts = [rid, f"D-{batch}-{i % 40 // 4}", batch, doctype,
                     *(c.cid for c in people), *summary.values()]
            yield Row(record_id=rid, dossier_id=f"D-{batch}-{i % 40 // 4}", batch_id=batch,
                      doctype=doctype, status=status, settled=settled,
                      station=STATIONS[(i // 40) % len(STATIONS)],
                      created=T0 + timedelta(seconds=30 * i), people=people,
                      summary=summary, search_text=" | ".join(_f(p) for p in parts),
                      pages=" ".join(r.choices(PAGE_WORDS, k=45)))

    return citizens, rows()


# -- filling the index ----------------------------------------------------------------------

def _entry(row: Row, location: str) -> IndexEntry:
    return IndexEntry(record_id=row.record_id, dossier_id=row.dossier_id,
                      batch_id=row.batch_id, doctype=row.doctype,
                      status=RecordStatus(row.status), confidence=0.97, s3_key=location,
                      citizen_ids=sorted({c.cid for c in row.people}),
                      summary=dict(row.summary), created_at=row.created,
                      updated_at=row.created, station=row.station, operator="bench",
                      settled=row.settled, search_text=row.search_text, pages_text=row.pages)


def fill(records: RecordStore, rows: Iterator[Row], say: Any) -> None:
    """Every row indexed through the record store's bulk projection (the records' JSON is
    not stored: only the sample's is, by :func:`put_sample`)."""
    def described() -> Iterator[IndexEntry]:
        for i, row in enumerate(rows, 1):
            yield _entry(row, records.store.record_location(row.record_id))
            if i % 50_000 == 0:
                say(f"{i:,} records")

    records.project(described(), chunk=5000)
    records.index.analyze()


def fresh_schema(schema: str) -> None:
    """An empty PostgreSQL schema (the migrations make the tables)."""
    import psycopg
    from sqlalchemy.engine import make_url

    u = make_url(PG_URL)
    conninfo = " ".join(f"{k}={v}" for k, v in {
        "host": u.host or "127.0.0.1", "port": u.port or 5432, "dbname": u.database,
        "user": u.username, "password": u.password}.items() if v)
    with psycopg.connect(conninfo, autocommit=True) as admin:
        admin.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        admin.execute(f'CREATE SCHEMA "{schema}"')


# -- record JSON in S3 for a sample of citizens ---------------------------------------------

def _record(entry: IndexEntry) -> Record:
    fields = [ExtractedField(name=k, label=k.replace("_", " "), value=v, raw=v,
                             confidence=0.98, page=0, bbox=(100, 200 + 60 * i, 700, 240 + 60 * i),
                             status=FieldStatus.accepted if entry.settled
                             else FieldStatus.review)
              for i, (k, v) in enumerate(sorted(entry.summary.items()))]
    return Record(record_id=entry.record_id, dossier_id=entry.dossier_id,
                  batch_id=entry.batch_id, doctype=entry.doctype,
                  title=entry.doctype.replace("_", " "), status=entry.status, fields=fields,
                  citizen_ids=entry.citizen_ids,
                  pages=[PageRef(index=0, original_sha256="0" * 64, source_page=0,
                                 ocr_key=f"ocr/{'0' * 64}/0.json", ocr_confidence=0.9)],
                  station=entry.station, operator=entry.operator,
                  created_at=entry.created_at, updated_at=entry.updated_at)


def put_sample(records: RecordStore, citizens: list[str], say: Any) -> list[str]:
    """Real record JSON in S3 for every record naming these citizens, stored as the machine
    stores an extraction (the index rows then point at the stored versions). Returns the
    citizens that have records."""
    found = {cid: got for cid in citizens
             if (got := records.index.records_for_citizen(cid))}
    sample = {e.record_id: e for got in found.values() for e in got}
    say(f"{len(sample):,} record objects to S3 for {len(found):,} citizens")
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda e: records.put_machine(_record(e)), sample.values()))
    return sorted(found)


# -- the load, from its own process ---------------------------------------------------------

async def _client(port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_connection("127.0.0.1", port)


_LEN = re.compile(rb"(?i)\r\ncontent-length: *(\d+)")


async def _get(conn: tuple[asyncio.StreamReader, asyncio.StreamWriter], path: str,
               key: str) -> tuple[int, float, int]:
    reader, writer = conn
    started = time.perf_counter()
    writer.write(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {key}\r\n"
                 f"X-Purpose: {PURPOSE}\r\nAccept: application/json\r\n\r\n".encode())
    head = await reader.readuntil(b"\r\n\r\n")
    m = _LEN.search(head)
    body = await reader.readexactly(int(m.group(1))) if m else b""
    return int(head[9:12]), time.perf_counter() - started, len(body)


def _pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, int(round(p / 100 * (len(s) - 1))))] * 1000


async def _serial(port: int, key: str, paths: list[str], seconds: float) -> dict[str, Any]:
    conn = await _client(port)
    lat, bad, end = [], 0, time.monotonic() + seconds
    for p in paths:
        status, took, _ = await _get(conn, p, key)
        bad += status != 200
        lat.append(took)
        if time.monotonic() > end:
            break
    conn[1].close()
    return {"n": len(lat), "errors": bad, "p50_ms": _pct(lat, 50), "p95_ms": _pct(lat, 95),
            "p99_ms": _pct(lat, 99), "max_ms": max(lat) * 1000}


async def _concurrent(port: int, key: str, paths: list[str], clients: int,
                      seconds: float) -> dict[str, Any]:
    conns = [await _client(port) for _ in range(clients)]
    lat: list[float] = []
    bad = 0
    queue = iter(paths)
    end = time.monotonic() + seconds

    async def run(conn: Any) -> None:
        nonlocal bad
        for p in queue:
            status, took, _ = await _get(conn, p, key)
            bad += status != 200
            lat.append(took)
            if time.monotonic() > end:
                return

    started = time.perf_counter()
    await asyncio.gather(*(run(c) for c in conns))
    wall = time.perf_counter() - started
    for c in conns:
        c[1].close()
    return {"clients": clients, "n": len(lat), "errors": bad, "seconds": round(wall, 2),
            "per_s": round(len(lat) / wall, 1), "p50_ms": _pct(lat, 50),
            "p95_ms": _pct(lat, 95), "p99_ms": _pct(lat, 99)}


def _cpu_s(pids: list[int]) -> float:
    """CPU seconds (user and system) the processes have used so far (Linux /proc)."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def _descendants(pid: int) -> list[int]:
    """``pid`` and every process under it (the web processes uvicorn started)."""
    parents: dict[int, list[int]] = {}
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                ppid = int((d / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            parents.setdefault(ppid, []).append(int(d.name))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo += parents.get(p, [])
    return out


async def _measured(pids: list[int], phase: Any) -> dict[str, Any]:
    """A phase's results with the machine's load average when it started and the web
    processes' CPU time per request it made."""
    load = os.getloadavg()[0]
    before = _cpu_s(pids)
    out: dict[str, Any] = await phase
    out["server_cpu_ms"] = round((_cpu_s(pids) - before) / max(1, out["n"]) * 1000, 2)
    out["load_avg"] = round(load, 2)
    return out


def load_main(spec_file: str) -> None:
    """The load process: runs the phases of the spec, prints the results as JSON."""
    import uvloop

    spec = json.loads(Path(spec_file).read_text())
    port, key, pids = spec["port"], spec["key"], spec.get("pids", [])

    async def go() -> dict[str, Any]:
        out: dict[str, Any] = {}
        await _concurrent(port, key, spec["warm"], 8, 30)
        out["lookup_serial"] = await _measured(
            pids, _serial(port, key, spec["serial"], spec["seconds"]))
        out["lookup_concurrent"] = await _measured(
            pids, _concurrent(port, key, spec["concurrent"], spec["clients"],
                              spec["seconds"]))
        kinds: dict[str, list[float]] = {}
        conn = await _client(port)
        end = time.monotonic() + spec["seconds"]
        for kind, path in spec["search"]:
            status, took, _ = await _get(conn, path, key)
            if status != 200:
                kinds.setdefault(f"{kind} errors", []).append(status)
            kinds.setdefault(kind, []).append(took)
            if time.monotonic() > end:
                break
        every = [t for k, v in kinds.items() if not k.endswith("errors") for t in v]
        out["search"] = {"n": len(every), "p50_ms": _pct(every, 50), "p95_ms": _pct(every, 95),
                         "p99_ms": _pct(every, 99),
                         "errors": sum(len(v) for k, v in kinds.items() if k.endswith("errors")),
                         "per_kind_p95_ms": {k: round(_pct(v, 95), 1) for k, v in kinds.items()
                                             if not k.endswith("errors")}}
        return out

    sys.stdout.write(json.dumps(uvloop.run(go())) + "\n")


# -- the run --------------------------------------------------------------------------------

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _search_mix(rng: random.Random, citizens: list[Citizen], n: int) -> list[tuple[str, str]]:
    from urllib.parse import urlencode

    out = []
    for i in range(n):
        c = rng.choice(citizens)
        kind = ["name", "name_folded", "words", "citizen", "type_status", "field", "dates",
                "station_batch", "dossier", "name_type"][i % 10]
        params: dict[str, Any] = {
            "name": {"name": c.name}, "name_folded": {"name": fold(c.name)},
            "words": {"q": " ".join(rng.sample(PAGE_WORDS, 2))},
            "citizen": {"citizen_id": c.cid},
            "type_status": {"doctype": rng.choice(DOCTYPES), "status": "needs_review"},
            "field": {"field": f"place_of_origin:{c.place}"},
            "dates": {"date": f"date_of_birth:{c.dob}..{c.dob}"},
            "station_batch": {"station": rng.choice(STATIONS),
                              "batch": f"B{rng.randrange(len(citizens) // 24):06d}"},
            "dossier": {"dossier": f"D-B{rng.randrange(len(citizens) // 24):06d}-3"},
            "name_type": {"name": c.name.split()[0] + " " + c.name.split()[1],
                          "doctype": rng.choice(DOCTYPES)},
        }[kind]
        out.append((kind, "/v1/records?" + urlencode({**params, "limit": 20})))
    return out


def run(records: int, backend: str, seed: int, web_workers: int, clients: int,
        seconds: float, sample: int, say: Any) -> dict[str, Any]:
    from models.settings import Settings

    folder = ROOT / ".dossier" / "bench" / "reuse"
    folder.mkdir(parents=True, exist_ok=True)
    settings = Settings(data_dir=folder / "data", _env_file=None)
    tag = f"{backend}-{records}-{seed}"
    if backend == "sqlite":
        url = f"sqlite:///{folder / f'index-{records}-{seed}.sqlite3'}"
    else:
        schema = f"bench_reuse_{records}_{seed}"
        url = f"{PG_URL}?options=-csearch_path%3D{schema}"
    marker = folder / f"filled-{tag}.json"
    citizens, rows = generate(records, seed)
    fill_s = 0.0
    if not marker.exists():
        say(f"filling the {backend} index with {records:,} records")
        started = time.perf_counter()
        if backend == "sqlite":
            Path(url.removeprefix("sqlite:///")).unlink(missing_ok=True)
        else:
            fresh_schema(schema)
        store = RecordStore(open_object_store(settings), RecordIndex(url))
        fill(store, rows, say)
        fill_s = time.perf_counter() - started
        rng = random.Random(seed + 2)
        with_records = put_sample(store, [c.cid for c in rng.sample(citizens, sample)], say)
        store.index.close()
        marker.write_text(json.dumps({"fill_s": fill_s, "citizens": with_records}))
    info = json.loads(marker.read_text())
    fill_s, sampled = info["fill_s"], info["citizens"]
    index = RecordIndex(url)
    key, _ = index.create_api_key("bench", ["records:read"], agency="bench")
    index.close()
    open_object_store(settings)  # the embedded S3 server runs

    port = _free_port()
    env = {**os.environ, "DOSSIER_DATA_DIR": str(settings.data_dir), "DOSSIER_INDEX_URL": url,
           "DOSSIER_WEBHOOK_DELIVERY": "false", "PYTHONPATH": str(ROOT)}
    log = (folder / f"serve-{tag}.log").open("w")
    server = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "api.app:served_app", "--factory", "--host",
         "127.0.0.1", "--port", str(port), "--workers", str(web_workers), "--log-level",
         "info"], env=env, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise RuntimeError(f"the app did not start; see {log.name}") from None
                time.sleep(0.2)
        rng = random.Random(seed + 3)
        look = [f"/v1/citizens/{c}/records" for c in sampled]
        rng.shuffle(look)
        spec = {"port": port, "key": key, "clients": clients, "seconds": seconds,
                "pids": _descendants(server.pid),
                "warm": look[:200], "serial": look[200:2200],
                "concurrent": [rng.choice(look) for _ in range(40_000)],
                "search": _search_mix(rng, citizens, 1000)}
        spec_file = folder / f"spec-{tag}.json"
        spec_file.write_text(json.dumps(spec))
        say(f"load from a separate process: {web_workers} web process(es), {clients} clients")
        done = subprocess.run([sys.executable, "-m", "bench.reuse", "--load", str(spec_file)],
                              env=env, cwd=ROOT, capture_output=True, text=True,
                              timeout=seconds * 4 + 120)
        if done.returncode != 0:
            raise RuntimeError(f"the load process failed: {done.stderr[-2000:]}")
        result = json.loads(done.stdout.strip().splitlines()[-1])
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()
    result.update({"backend": backend, "records": records, "citizens": len(citizens),
                   "sampled_citizens": len(sampled), "web_workers": web_workers,
                   "fill_s": round(fill_s, 1), "cores": os.cpu_count()})
    return result


def markdown(results: list[dict[str, Any]], command: str) -> str:
    lines = ["# Reuse benchmark", "",
             f"Command: `{command}`  ", f"Machine: {os.cpu_count()} cores; load from a "
             "separate process on 127.0.0.1; every request with a key and a purpose (so "
             "every lookup also writes its access record). Web CPU per lookup: the web "
             "processes' CPU time over the concurrent phase by its lookups; load average: "
             "the machine's (1 minute) as the serial and the concurrent phase began.", "",
             "| backend | records | web processes | lookup serial p50 / p99 ms | lookups/s at "
             "N clients | p50 / p99 ms | web CPU per lookup ms | load average | "
             "search p50 / p95 ms | errors |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        s, c, q = r["lookup_serial"], r["lookup_concurrent"], r["search"]
        lines.append(
            f"| {r['backend']} | {r['records']:,} | {r['web_workers']} | "
            f"{s['p50_ms']:.1f} / {s['p99_ms']:.1f} | {c['per_s']:.0f} at {c['clients']} | "
            f"{c['p50_ms']:.0f} / {c['p99_ms']:.0f} | {c.get('server_cpu_ms', '-')} | "
            f"{s.get('load_avg', '-')}, {c.get('load_avg', '-')} | "
            f"{q['p50_ms']:.1f} / {q['p95_ms']:.1f} | "
            f"{s['errors'] + c['errors'] + q['errors']} |")
    lines += ["", "Search p95 per kind (ms):", ""]
    for r in results:
        kinds = ", ".join(f"{k} {v}" for k, v in r["search"]["per_kind_p95_ms"].items())
        lines.append(f"- {r['backend']}: {kinds}")
    lines += ["", "```json", json.dumps(results, indent=1), "```", ""]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--records", type=int, default=1_000_000)
    ap.add_argument("--backend", default="sqlite,postgresql")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--web-workers", type=int, default=2)
    ap.add_argument("--clients", type=int, default=64)
    ap.add_argument("--seconds", type=float, default=30.0,
                    help="at most this long per phase")
    ap.add_argument("--sample", type=int, default=6000,
                    help="citizens whose records get real JSON in S3 (the ones looked up)")
    ap.add_argument("--load", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.load:
        load_main(args.load)
        return

    def say(m: str) -> None:
        sys.stderr.write(f"bench: {m}\n")
        sys.stderr.flush()

    results = [run(args.records, b.strip(), args.seed, args.web_workers, args.clients,
                   args.seconds, args.sample, say) for b in args.backend.split(",")]
    command = "python -m bench.reuse " + " ".join(sys.argv[1:])
    text = markdown(results, command)
    out = ROOT / "bench" / "results" / f"{date.today().isoformat()}-reuse"
    out.mkdir(parents=True, exist_ok=True)
    (out / "report.md").write_text(text, encoding="utf-8")
    sys.stdout.write(text)
    say(f"report: {out / 'report.md'}")


if __name__ == "__main__":
    main()
