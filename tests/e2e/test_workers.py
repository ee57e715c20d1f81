"""Scale-out on this machine: a Prefect server backed by the PostgreSQL server, the index on
PostgreSQL, the suite's S3 server, two stateless `dossier serve --workers 0` replicas and two
`dossier worker` processes with data dirs of their own (as on two machines). Both workers take
batches, no page is read twice, and a worker killed with SIGKILL mid-batch loses nothing: its
batch is taken over, finishes, and nothing is duplicated."""

from __future__ import annotations

import os
import signal
import time
import uuid
from collections.abc import Iterator

import httpx
import psycopg
import pytest

from storage.embedded import S3Endpoint
from tests.conftest import POSTGRES_URL, _libpq_conninfo
from tests.e2e import service
from tests.e2e.test_pipeline import SAMPLES, cli_env, run_cli

pytestmark = [pytest.mark.e2e, pytest.mark.postgres]

BATCHES = [
    ["cccd-front-clean.png", "birth-registration-clean.png", "cccd-front-skewed-phone.jpg"],
    ["dossier-mixed-receipt-cccd-birth.pdf"],
    ["enterprise-registration-fax-200x100.png", "birth-registration-scan-200dpi.pdf",
     "cccd-front-2016-on-a4-scan.png"],
    ["residence-confirmation-heavy-phone-shadow.jpg", "birth-registration-rotated-90.tiff",
     "birth-registration-born-digital.pdf"],
]


@pytest.fixture(scope="module")
def schemas() -> Iterator[tuple[str, str]]:
    """Two fresh schemas in the `test` database: the index's and the Prefect server's."""
    if os.environ.get("DOSSIER_TEST_NO_POSTGRES") == "1":
        pytest.skip("DOSSIER_TEST_NO_POSTGRES=1")
    tag = uuid.uuid4().hex[:10]
    names = (f"w_index_{tag}", f"w_prefect_{tag}")
    with psycopg.connect(_libpq_conninfo(POSTGRES_URL), autocommit=True) as admin:
        # Prefect's migrations need pg_trgm. An extension is one per database: created in a
        # schema of a test it would vanish with that schema, or hide from another test's
        # search path, so it lives in public, which the Prefect schema's search path includes.
        admin.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm SCHEMA public")
        for n in names:
            admin.execute(f'CREATE SCHEMA "{n}"')
        try:
            yield names
        finally:
            for n in names:
                admin.execute(f'DROP SCHEMA IF EXISTS "{n}" CASCADE')


@pytest.fixture(scope="module")
def cluster(tmp_path_factory, s3_endpoint: S3Endpoint, schemas) -> Iterator[dict]:
    from sqlalchemy.engine import make_url

    from flows.service import LocalPrefectServer

    cwd = tmp_path_factory.mktemp("cluster")
    index_schema, prefect_schema = schemas
    pg = make_url(POSTGRES_URL)
    prefect = LocalPrefectServer(cwd / "prefect-host", env={
        "PREFECT_SERVER_DATABASE_CONNECTION_URL":
            pg.set(drivername="postgresql+asyncpg").render_as_string(hide_password=False),
        "PREFECT_SERVER_DATABASE_SQLALCHEMY_CONNECT_ARGS_SEARCH_PATH": f"{prefect_schema},public",
    })
    api = prefect.start(timeout=240)
    env = cli_env(s3_endpoint, cwd / "api-data", f"w{uuid.uuid4().hex[:8]}-")
    env.update(PREFECT_API_URL=api, DOSSIER_WORKERS="1", DOSSIER_BATCH_HEARTBEAT_S="2",
               DOSSIER_BATCH_STALE_S="15",
               DOSSIER_INDEX_URL=f"{POSTGRES_URL}?options=-csearch_path%3D{index_schema}")
    procs = []
    try:
        key = run_cli(["apikey", "create", "--name", "counter", "--scope", "batches:write"],
                      env, cwd).stdout.strip().splitlines()[-1]
        replicas = [service.serve(env, cwd, "--workers", "0", healthy=False)
                    for _ in range(2)]
        procs += [p for p, _ in replicas]
        workers = []
        for n in (1, 2):
            wenv = dict(env, DOSSIER_DATA_DIR=str(cwd / f"machine-{n}"))
            # Two batches each at most, so that both machines get some of the four.
            w = service.start(["worker", "--name", f"machine-{n}", "--limit", "2"], wenv, cwd,
                              cwd / f"worker-{n}.log")
            workers.append(w)
            procs.append(w)
        yield {"bases": [b for _, b in replicas], "key": key, "workers": workers, "env": env,
               "cwd": cwd}
    finally:
        for p in procs:
            service.stop(p, signal.SIGTERM, timeout=60)
        prefect.stop()


def _status(base: str, key: str, batch_id: str) -> dict:
    return httpx.get(f"{base}/v1/batches/{batch_id}", headers={"Authorization": f"Bearer {key}"},
                     timeout=10).json()


def _owner(worker_field: str, workers) -> int | None:
    pid = int(worker_field.rsplit(":", 1)[1])
    for i, w in enumerate(workers):
        if pid == w.pid or pid in service.descendants(w.pid):
            return i
    return None


def test_two_workers_share_batches_and_a_killed_one_loses_nothing(cluster):
    from storage.objects import ObjectStore

    first, second = cluster["bases"]
    key, workers = cluster["key"], cluster["workers"]
    ids = []
    for n, names in enumerate(BATCHES):
        files = [(f"dossier-{n}/{name}", (SAMPLES / name).read_bytes()) for name in names]
        r = service.upload(first if n % 2 else second, key, files, station="S-1")
        assert r.status_code == 202, r.text
        ids.append(r.json()["batch_id"])

    # Wait until both workers hold a batch, then kill one mid-batch like a machine dying.
    deadline = time.monotonic() + 300
    victim = None
    while time.monotonic() < deadline and victim is None:
        running = [s for s in (_status(first, key, b) for b in ids) if s["state"] == "running"]
        owners = {_owner(s["worker"], workers): s for s in running if s["worker"]}
        if len(owners) == 2 and None not in owners:
            for i, s in owners.items():
                reads = [p["reads"] for f in s["files"] for p in f["pages"]]
                if reads and 0 in reads and any(reads):
                    victim = (i, s)
                    break
        time.sleep(0.3)
    assert victim is not None, "the two workers never held a batch at the same time"
    i, held = victim
    doomed = [workers[i].pid, *service.descendants(workers[i].pid)]
    for pid in doomed:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    # A warm worker runs several batches at once: every one it held is taken over.
    at_kill = [_status(first, key, b) for b in ids]
    victims = {s["batch_id"] for s in at_kill
               if s["state"] == "running" and s["worker"] and _owner(s["worker"], workers) == i}
    assert held["batch_id"] in victims
    in_flight = {(s["batch_id"], p["file_no"], p["source_page"]) for s in at_kill
                 if s["batch_id"] in victims for f in s["files"] for p in f["pages"]
                 if p["stage"] == "reading"}

    final = [service.wait_finished(second, key, b, timeout=600) for b in ids]
    survivor = 1 - i
    for taken_over in (s for s in final if s["batch_id"] in victims):
        assert taken_over["attempts"] == 2
        assert _owner(taken_over["worker"], workers) == survivor

    record_ids = set()
    for s in final:
        for f in s["files"]:
            assert f["stage"] in ("done", "needs_review"), f
            assert f["records"], f
            record_ids.update(r["record_id"] for r in f["records"])
            for p in f["pages"]:
                if (s["batch_id"], f["file_no"], p["source_page"]) in in_flight:
                    assert p["reads"] <= 2, p  # cut short by the kill, read again once
                else:
                    assert p["reads"] == 1, (s["batch_id"], f["name"], p)
    env = cluster["env"]
    store = ObjectStore(S3Endpoint(env["DOSSIER_S3_ENDPOINT"], env["DOSSIER_S3_ACCESS_KEY"],
                                   env["DOSSIER_S3_SECRET_KEY"]), env["DOSSIER_BUCKET_PREFIX"])
    # Nothing duplicated: one record object (one version) per record, no stray records.
    assert sorted(store.record_ids()) == sorted(record_ids)
    assert all(len(store.record_versions(r)) == 1 for r in record_ids)
    pages = sum(len(f["pages"]) for s in final for f in s["files"])
    ocr = list(store.client.list_objects(store.derived_bucket, prefix="ocr/", recursive=True))
    assert len(ocr) == pages


def test_replicas_are_stateless(cluster):
    """A batch uploaded through one replica is followed through the other."""
    first, second = cluster["bases"]
    h = {"Authorization": f"Bearer {cluster['key']}"}
    a = httpx.get(f"{first}/v1/batches", headers=h).json()["batches"]
    b = httpx.get(f"{second}/v1/batches", headers=h).json()["batches"]
    assert a == b and len(a) == len(BATCHES)
