"""Benchmark of the served pipeline: pages per minute with one and with two `dossier worker`
processes, the time from an upload's acknowledgement to its first stored record, and the web
process's memory while one request uploads many pages.

Everything runs here on 127.0.0.1: the embedded S3 server, a local Prefect server, a
`dossier serve --workers 0` and the workers, each a real process. Pages are sample scans made
distinct by one pixel, so none is skipped as already read.

    python -m bench.workers --pages 20 --upload-pages 200
"""

from __future__ import annotations

import argparse
import io
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ["cccd-front-clean.png", "birth-registration-clean.png", "cccd-front-skewed-phone.jpg",
           "residence-confirmation-heavy-phone-shadow.jpg", "cccd-front-2016-on-a4-scan.png"]
DOSSIER = Path(sys.executable).with_name("dossier")


def pages(n: int, seed: int) -> list[tuple[str, bytes]]:
    """``n`` distinct single-page scans (a sample with one pixel changed), ~0.3 MB each."""
    base = [Image.open(ROOT / "sample_scans" / s).convert("RGB") for s in SAMPLES]
    out = []
    for i in range(n):
        img = base[i % len(base)].copy()
        img.putpixel((i % 50, seed % 50), ((i * 37) % 256, (seed * 11) % 256, 7))
        buf = io.BytesIO()
        img.save(buf, format="JPEG", quality=90)
        out.append((f"bench-{seed}-{i:04d}.jpg", buf.getvalue()))
    return out


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


class Stack:
    def __init__(self, work: Path) -> None:
        from flows.service import LocalPrefectServer

        self.work = work
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(("DOSSIER_",
                                                                            "PREFECT_"))}
        from storage.embedded import EmbeddedS3

        # Shared by every process, as a MinIO cluster and a database would be across machines.
        self.s3 = EmbeddedS3(work / "s3")
        s3 = self.s3.ensure_running(timeout=60)
        self.env.update(DOSSIER_DATA_DIR=str(work / "data"), PREFECT_LOGGING_LEVEL="WARNING",
                        DOSSIER_S3_ENDPOINT=s3.endpoint, DOSSIER_S3_ACCESS_KEY=s3.access_key,
                        DOSSIER_S3_SECRET_KEY=s3.secret_key,
                        DOSSIER_INDEX_URL=f"sqlite:///{work / 'index.sqlite3'}")
        self.prefect = LocalPrefectServer(work / "data")
        self.env["PREFECT_API_URL"] = self.prefect.start()
        key = subprocess.run([str(DOSSIER), "apikey", "create", "--name", "bench", "--scope",
                              "batches:write"], env=self.env, capture_output=True, text=True,
                             check=True)
        self.headers = {"Authorization": f"Bearer {key.stdout.strip().splitlines()[-1]}"}
        port = _port()
        self.base = f"http://127.0.0.1:{port}"
        self.serve = self._start(["serve", "--port", str(port), "--workers", "0"], "serve")
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.base}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.3)
        self.workers: list[subprocess.Popen] = []

    def _start(self, args: list[str], log: str, env: dict[str, str] | None = None
               ) -> subprocess.Popen:
        with (self.work / f"{log}.log").open("ab") as out:
            return subprocess.Popen([str(DOSSIER), *args], env=env or self.env, stdout=out,
                                    stderr=subprocess.STDOUT, start_new_session=True)

    def set_workers(self, n: int) -> None:
        self.stop_workers()
        for i in range(n):
            env = dict(self.env, DOSSIER_DATA_DIR=str(self.work / f"machine-{i}"))
            self.workers.append(self._start(["worker", "--name", f"bench-{i}"], f"worker-{i}",
                                            env))

    def stop_workers(self) -> None:
        for w in self.workers:
            _stop(w)
        self.workers = []

    def upload(self, files: list[tuple[str, bytes]]) -> str:
        parts = [("files", (n, io.BytesIO(d), "image/jpeg")) for n, d in files]
        r = httpx.post(f"{self.base}/v1/batches", headers=self.headers, files=parts,
                       timeout=600)
        r.raise_for_status()
        return str(r.json()["batch_id"])

    def status(self, batch_id: str) -> dict:
        return httpx.get(f"{self.base}/v1/batches/{batch_id}", headers=self.headers,
                         timeout=30).json()

    def wait(self, batch_ids: list[str], timeout: float = 3600) -> None:
        deadline = time.monotonic() + timeout
        left = set(batch_ids)
        while left and time.monotonic() < deadline:
            left = {b for b in left if self.status(b)["state"] != "finished"}
            time.sleep(0.5)
        if left:
            raise RuntimeError(f"batches not finished in {timeout} s: {sorted(left)}")

    def close(self) -> None:
        self.stop_workers()
        _stop(self.serve)
        self.prefect.stop()
        self.s3.stop()


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def throughput(stack: Stack, workers: int, n_pages: int, batches: int, seed: int) -> dict:
    """Pages per minute: ``batches`` batches of single-page dossiers uploaded at once."""
    stack.set_workers(workers)
    time.sleep(3)  # the workers poll the pool
    per = n_pages // batches
    files = pages(per * batches, seed)
    t0 = time.monotonic()
    ids = [stack.upload(files[i * per:(i + 1) * per]) for i in range(batches)]
    stack.wait(ids)
    took = time.monotonic() - t0
    return {"workers": workers, "pages": per * batches, "seconds": round(took, 1),
            "pages_per_minute": round(per * batches / took * 60, 1)}


def first_record(stack: Stack, seed: int) -> dict:
    """Upload acknowledged -> first record stored, one idle worker, one 1-page dossier."""
    stack.set_workers(1)
    time.sleep(5)
    files = pages(1, seed)
    t0 = time.monotonic()
    batch_id = stack.upload(files)
    acked = time.monotonic()
    while True:
        s = stack.status(batch_id)
        if any(f["records"] for f in s["files"]):
            break
        if s["state"] == "finished":
            raise RuntimeError(f"batch {batch_id} finished without a record")
        time.sleep(0.1)
    return {"upload_seconds": round(acked - t0, 2),
            "ack_to_first_record_seconds": round(time.monotonic() - acked, 2)}


def upload_memory(stack: Stack, n: int, seed: int) -> dict:
    """Peak RSS of the web process while one request uploads ``n`` pages (no worker runs)."""
    stack.stop_workers()
    files = pages(n, seed)
    size = sum(len(d) for _, d in files)
    pid = stack.serve.pid
    before = _rss_mb(pid)
    peak = before
    import threading

    done = threading.Event()
    result: dict = {}

    def send() -> None:
        t0 = time.monotonic()
        result["batch_id"] = stack.upload(files)
        result["seconds"] = time.monotonic() - t0
        done.set()

    threading.Thread(target=send, daemon=True).start()
    while not done.wait(0.05):
        peak = max(peak, _rss_mb(pid))
    return {"pages": n, "upload_mb": round(size / 2**20, 1), "rss_before_mb": round(before, 1),
            "rss_peak_mb": round(peak, 1), "upload_seconds": round(result["seconds"], 1)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pages", type=int, default=20, help="pages per throughput run")
    ap.add_argument("--batches", type=int, default=4, help="batches the pages are split into")
    ap.add_argument("--upload-pages", type=int, default=200, help="pages in the memory run")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "workers.json")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-workers-") as tmp:
        stack = Stack(Path(tmp))
        try:
            # The memory run last: its batch is left queued, no worker runs it.
            out = {"machine": f"{os.cpu_count()} cores",
                   "latency": first_record(stack, seed=2),
                   "throughput": [throughput(stack, w, args.pages, args.batches, seed=10 + w)
                                  for w in (1, 2)],
                   "memory": upload_memory(stack, args.upload_pages, seed=1)}
        finally:
            stack.close()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=2), encoding="utf-8")
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
