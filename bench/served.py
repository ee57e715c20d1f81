"""Benchmark of the path operators use, beside bare Tesseract on the same pages in the same run.

Everything a new user gets: a zero-config ``dossier serve`` (its own embedded S3 server, local
Prefect server, SQLite index and one warm worker) in a fresh data dir, fed over
``POST /v1/batches``. On the held-out (test split) pages of the bench corpus it measures:

- bare ``tesseract PAGE stdout -l vie+eng`` (``OMP_THREAD_LIMIT=1``, one process per core);
- ``dossier ocr`` on the same pages (one command, its start-up included);
- one page uploaded to the idle, warm worker: from the upload request to its record stored,
  and where that time went (``--probes N``: N such pages one after another, and their median);
- one batch of the pages, each its own single-page dossier: pages/min from the 202 to the
  batch's end; with ``--during N``, N single pages uploaded one after another once a fifth of
  that batch is stored, each from its upload request to its record stored (does a one-page
  upload wait behind a large batch?);
- with ``--uploads N``: N single-page uploads at once from 8 clients, pages/min from the first
  request to the last batch's end;
- the peak resident memory of the whole stack (serve and everything it started) throughout.

    python -m bench.served --pages 24 [--uploads 50]
    python -m bench.served --pages 0 --probes 3     # only the one-page latency, 3 times
    python -m bench.served --pages 200 --during 3   # one page beside a 200-page batch
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from statistics import median

import httpx

from bench.measure import descendants

ROOT = Path(__file__).resolve().parents[1]
DOSSIER = Path(sys.executable).with_name("dossier")
FINAL = {"done", "needs_review", "duplicate", "failed"}


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _rss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _role(pid: int) -> str:
    try:
        cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return "gone"
    for needle, role in (("dossier serve", "serve"), ("prefect server", "Prefect server"),
                         ("dossier worker", "worker"), ("weed", "S3 server"),
                         ("spawn_main", "OCR processes"), ("resource_tracker", "other")):
        if needle in cmd:
            return role
    return "other"


def _cpu_s(pid: int) -> float:
    """The process's CPU time so far (user and system), in seconds."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class PeakRss(threading.Thread):
    """Samples the summed resident memory of a process and all its descendants, and the
    peak of each kind of process among them; and each process's CPU time as last seen
    (:meth:`cpu` sums it by kind)."""

    def __init__(self, pid: int, every: float = 0.25) -> None:
        super().__init__(daemon=True)
        self.pid, self.every, self.peak_kb = pid, every, 0
        self.by_role: dict[str, int] = {}
        self.cpu_seen: dict[int, tuple[str, float]] = {}
        self.stopped = threading.Event()

    def cpu(self) -> dict[str, float]:
        """CPU seconds so far by kind of process (a process that ended counts what it had
        used when last sampled)."""
        out: dict[str, float] = {}
        for role, used in list(self.cpu_seen.values()):
            out[role] = out.get(role, 0.0) + used
        return out

    def run(self) -> None:
        while not self.stopped.wait(self.every):
            now: dict[str, int] = {}
            for p in [self.pid, *descendants(self.pid)]:
                role = _role(p)
                now[role] = now.get(role, 0) + _rss_kb(p)
                used = _cpu_s(p)
                if used:
                    self.cpu_seen[p] = (role, used)
            self.peak_kb = max(self.peak_kb, sum(now.values()))
            for role, kb in now.items():
                self.by_role[role] = max(self.by_role.get(role, 0), kb)

    def roles(self) -> str:
        return ", ".join(f"{role} {kb / 1024:.0f}" for role, kb in
                         sorted(self.by_role.items(), key=lambda kv: -kv[1]) if kb)


def _pages(n: int, workers: int) -> list[Path]:
    from bench.corpus import CorpusKey, ensure_corpus

    corpus = ensure_corpus(ROOT / ".dossier" / "bench" / "corpora", CorpusKey(split="test"),
                           min_pages=n, workers=workers, progress=print)
    return [p.image for p in corpus.pages][:n]


def _wait_finished(client: httpx.Client, batch_id: str, timeout: float = 1800,
                   every: float = 0.05) -> dict:
    """The batch's status once it is finished, asked every ``every`` seconds (a one-page
    upload's latency is measured to the twentieth of a second; a big batch's end is asked
    for twice a second, so that the asking does not load the server it measures)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        s = client.get(f"/v1/batches/{batch_id}").json()
        if s["state"] == "finished" and all(f["stage"] in FINAL for f in s["files"]):
            return s
        time.sleep(every)
    raise RuntimeError(f"batch {batch_id} did not finish in {timeout} s")


def _stored(client: httpx.Client, batch_id: str) -> int:
    """How many of the batch's files are done with (stored, or failed)."""
    return sum(f["stage"] in FINAL for f in client.get(f"/v1/batches/{batch_id}").json()["files"])


def _upload(client: httpx.Client, files: list[Path], prefix: str) -> str:
    parts = [("files", (f"{prefix}-{i:03d}-{f.name}", f.read_bytes(), "image/png"))
             for i, f in enumerate(files)]
    r = client.post("/v1/batches", files=parts, timeout=600)
    r.raise_for_status()
    return r.json()["batch_id"]


def _at(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text.replace("Z", "+00:00")) if text else None


def _prefect_timeline(batch_id: str, data_dir: Path) -> tuple[dict, list[dict]]:
    """The batch's flow run (its states in order) and its task runs, from the local Prefect
    server ``serve`` started for ``data_dir``."""
    api = json.loads((data_dir / "prefect-server.json").read_text(encoding="utf-8"))["api_url"]
    with httpx.Client(base_url=api, timeout=30) as prefect:
        runs = prefect.post("/flow_runs/filter", json={
            "flow_runs": {"name": {"any_": [batch_id]}}}).json()
        if not runs:
            return {}, []
        run = runs[0]
        run["states"] = sorted(prefect.get("/flow_run_states/", params={
            "flow_run_id": run["id"]}).json(), key=lambda st: st["timestamp"])
        tasks: list[dict] = []
        for _ in range(20):  # task runs reach the server as events, a moment after they end
            tasks = prefect.post("/task_runs/filter", json={
                "flow_runs": {"id": {"any_": [run["id"]]}}}).json()
            if tasks and all(t.get("end_time") for t in tasks):
                break
            time.sleep(0.25)
    return run, sorted(tasks, key=lambda t: t.get("start_time") or "")


def _phases(status: dict, data_dir: Path, sent: datetime, acked: datetime,
            seen: datetime) -> str:
    """Where one page's time went, from the upload request on: the upload's answer, the
    worker taking its flow run, the run claiming the batch, each task run (with the page's
    own load, cleanup and OCR, stored beside its words), the ledger saying finished, and this
    client seeing it."""
    from storage.embedded import EmbeddedS3
    from storage.objects import ObjectStore

    marks: list[tuple[str, datetime | None]] = [("upload answered (202)", acked)]
    try:
        run, tasks = _prefect_timeline(status["batch_id"], data_dir)
    except (OSError, ValueError, KeyError, httpx.HTTPError):
        run, tasks = {}, []
    states = {st["type"]: _at(st["timestamp"]) for st in run.get("states", [])}
    marks += [("worker took the run (pending)", states.get("PENDING")),
              ("run started", states.get("RUNNING")),
              ("batch claimed", _at(status.get("started_at")))]
    for t in tasks:
        marks.append((f"{t['name'].rsplit('-', 1)[0]} started", _at(t.get("start_time"))))
        marks.append((f"{t['name'].rsplit('-', 1)[0]} ended", _at(t.get("end_time"))))
    marks += [("batch finished in the ledger", _at(status.get("finished_at"))),
              ("run completed", states.get("COMPLETED")), ("seen finished here", seen)]
    known = sorted(((name, at) for name, at in marks if at is not None), key=lambda m: m[1])
    parts, last = [], sent
    for name, at in known:
        parts.append(f"{name} +{(at - last).total_seconds():.2f}")
        last = max(last, at)
    out = "; ".join(parts)
    endpoint = EmbeddedS3(data_dir).endpoint_if_running()
    sha = status["files"][0]["sha256"]
    if endpoint is not None and sha:
        store = ObjectStore(endpoint)
        timings = json.loads(store.get_derived(f"ocr/{sha}/0000.json")).get("timings", {})
        out += f" (the page's load + cleanup + OCR {sum(timings.values()):.2f} s of it)"
    return out


def _probe(client: httpx.Client, page: Path, prefix: str, data_dir: Path
           ) -> tuple[float, str]:
    """One page uploaded to the idle warm worker: seconds from the upload request to its
    record stored, and where they went."""
    from models.records import utcnow

    sent = utcnow()
    t0 = time.perf_counter()
    one = _upload(client, [page], prefix)
    acked = utcnow()
    status = _wait_finished(client, one)
    total = time.perf_counter() - t0
    seen = utcnow()
    time.sleep(1)  # the run's last states and task runs reach the Prefect server
    return total, _phases(status, data_dir, sent, acked, seen)


def _cpu_row(what: str, peak: PeakRss, cpu0: dict[str, float], pages: int,
             bare_cpu_s: float, note: str = "") -> tuple[str, str]:
    """A report row: the CPU seconds a page cost, by kind of process, since ``cpu0``."""
    time.sleep(2 * peak.every)  # the last CPU samples
    spent = {k: v - cpu0.get(k, 0.0) for k, v in peak.cpu().items()}
    return ((f"CPU during {what}, per page (the {bare_cpu_s / pages:.2f} s of bare "
             "`tesseract` beside)" if bare_cpu_s else f"CPU during {what}, per page"),
            f"{sum(spent.values()) / pages:.2f} s: " + ", ".join(
                f"{k} {v / pages:.2f}" for k, v in sorted(spent.items(), key=lambda kv: -kv[1])
                if v > 0.005) + note)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pages", type=int, default=24,
                    help="pages of the batch (0: no batch, no bare tesseract, no `dossier ocr`)")
    ap.add_argument("--probes", type=int, default=1,
                    help="single pages uploaded one after another to the idle warm worker")
    ap.add_argument("--uploads", type=int, default=0,
                    help="also N single-page uploads at once from 8 clients")
    ap.add_argument("--during", type=int, default=0,
                    help="also N single pages uploaded one after another while the batch runs")
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--out", type=Path, help="also write the report (markdown) here")
    ap.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                    help="a DOSSIER_ or PREFECT_ setting for the stack (the bench leaves out "
                         "the caller's own); may be given several times")
    args = ap.parse_args(argv)
    chosen: dict[str, str] = {}
    for item in args.set:
        name, sep, value = item.partition("=")
        if not sep or not name.startswith(("DOSSIER_", "PREFECT_")):
            ap.error(f"--set {item!r}: give NAME=VALUE with a DOSSIER_ or PREFECT_ name")
        chosen[name] = value

    from bench.baselines import run_tesseract_cli

    probes = max(1, args.probes)
    during = args.during if args.pages else 0
    images = _pages(args.pages + probes + args.uploads + during, args.workers)
    batch, probe = images[:args.pages], images[args.pages:args.pages + probes]
    many = images[args.pages + probes:args.pages + probes + args.uploads]
    beside = images[args.pages + probes + args.uploads:]
    rows: list[tuple[str, str]] = []

    bare_ppm = 0.0
    if batch:
        bare = run_tesseract_cli(batch, workers=args.workers, lang="vie+eng")
        if bare.skipped:
            print(f"bare tesseract: {bare.skipped}")
            return 5
        bare_ppm = len(batch) / bare.wall_s * 60
        rows.append((f"bare `tesseract` on {len(batch)} pages ({args.workers} at a time)",
                     f"{bare_ppm:.1f} pages/min"))

    work = Path(tempfile.mkdtemp(prefix="bench-served-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DOSSIER_", "PREFECT_"))}
    env.update(DOSSIER_DATA_DIR=str(work / "data"), DOSSIER_WORKERS=str(args.workers))
    env.update(chosen)
    if batch:
        t0 = time.perf_counter()
        subprocess.run([str(DOSSIER), "ocr", "--out-dir", str(work / "ocr"), *map(str, batch)],
                       env=env, check=True, capture_output=True)
        ocr_ppm = len(batch) / (time.perf_counter() - t0) * 60
        rows.append((f"`dossier ocr` on the same {len(batch)} pages",
                     f"{ocr_ppm:.1f} pages/min, ×{ocr_ppm / bare_ppm:.2f} of bare tesseract"))

    key = subprocess.run([str(DOSSIER), "apikey", "create", "--name", "bench", "--scope",
                          "batches:write"], env=env, capture_output=True, text=True,
                         check=True).stdout.strip().splitlines()[-1]
    port = _port()
    log = (work / "serve.log").open("wb")
    serve = subprocess.Popen([str(DOSSIER), "serve", "--port", str(port)], env=env, cwd=work,
                             stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    peak = PeakRss(serve.pid)
    peak.start()
    base = f"http://127.0.0.1:{port}"
    try:
        started = time.perf_counter()
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{base}/healthz", timeout=5).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        else:
            raise RuntimeError(f"serve did not become healthy; see {work / 'serve.log'}")
        rows.append(("zero-config `dossier serve` healthy (S3, Prefect, index, warm worker)",
                     f"{time.perf_counter() - started:.1f} s after start"))
        client = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {key}"},
                              timeout=60)
        time.sleep(5)  # let the worker finish loading (an idle, warm worker is measured)

        took = []
        for i, page in enumerate(probe):
            total, phases = _probe(client, page, f"probe{i}", work / "data")
            took.append(total)
            rows.append(("one page, idle warm worker: upload request to record stored"
                         + (f" ({i + 1} of {len(probe)})" if len(probe) > 1 else ""),
                         f"{total:.2f} s ({phases})"))
            time.sleep(3)  # idle again
        if len(probe) > 1:
            rows.append((f"one page, idle warm worker: median of {len(probe)}",
                         f"{median(took):.2f} s"))

        if batch:
            parts = [("files", (f"p{i:03d}-{f.name}", f.read_bytes(), "image/png"))
                     for i, f in enumerate(batch)]
            cpu0 = peak.cpu()
            r = client.post("/v1/batches", files=parts, timeout=600)
            r.raise_for_status()
            t0 = time.perf_counter()
            big = r.json()["batch_id"]
            while beside and _stored(client, big) < len(batch) // 5:
                time.sleep(0.5)  # a fifth of the batch stored: it is well under way
            for i, page in enumerate(beside):
                total, _ = _probe(client, page, f"beside{i}", work / "data")
                done = _stored(client, big)
                rows.append((f"one page uploaded while the {len(batch)}-page batch runs "
                             f"({i + 1} of {len(beside)}): upload request to record stored",
                             f"{total:.2f} s (the batch then at {done} of {len(batch)} "
                             f"pages)"))
            status = _wait_finished(client, big, every=0.5)
            served_ppm = len(batch) / (time.perf_counter() - t0) * 60
            failed = sum(f["stage"] == "failed" for f in status["files"])
            rows.append((f"one batch of {len(batch)} single-page dossiers, 202 to batch end",
                         f"{served_ppm:.1f} pages/min, ×{served_ppm / bare_ppm:.2f} of bare "
                         f"tesseract ({failed} failed)"))
            rows.append(_cpu_row("that batch", peak, cpu0, len(batch), bare.cpu_s,
                                 f" (the probes' pages included, {len(beside)})"
                                 if beside else ""))

        if many:
            cpu0 = peak.cpu()
            t0 = time.perf_counter()
            with ThreadPoolExecutor(max_workers=8) as pool:
                ids = list(pool.map(lambda a: _upload(client, [a[1]], f"u{a[0]}"),
                                    enumerate(many)))
            for b in ids:
                _wait_finished(client, b, every=0.5)
            ppm = len(many) / (time.perf_counter() - t0) * 60
            rows.append((f"{len(many)} single-page uploads at once (8 clients)",
                         f"{ppm:.1f} pages/min" + (f", ×{ppm / bare_ppm:.2f} of bare "
                                                   "tesseract" if bare_ppm else "")))
            # Bare tesseract read the batch's pages, not these: its CPU a page is beside.
            rows.append(_cpu_row("those uploads", peak, cpu0, len(many),
                                 bare.cpu_s * len(many) / len(batch) if batch else 0.0,
                                 " (bare `tesseract`'s figure is of the batch's pages)"
                                 if batch else ""))
        rows.append(("peak RSS of the whole zero-config stack (serve, Prefect, S3, worker, "
                     "OCR processes)", f"{peak.peak_kb / 1024:.0f} MB (each kind's own peak, "
                                       f"MB: {peak.roles()})"))
    finally:
        peak.stopped.set()
        os.killpg(serve.pid, 15)
        serve.wait(timeout=120)
        log.close()
        subprocess.run([str(DOSSIER), "stop"], env=env, capture_output=True)
        shutil.rmtree(work, ignore_errors=True)

    lines = [f"# Served path, {datetime.now():%Y-%m-%d %H:%M}, {args.workers} cores"
             + "".join(f", {k}={v}" for k, v in chosen.items()), "",
             "| measure | result |", "|---|---|", *(f"| {a} | {b} |" for a, b in rows)]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
