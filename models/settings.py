"""Settings, read once from the environment (prefix ``DOSSIER_``) and an optional ``.env``."""

from __future__ import annotations

import os
from dataclasses import replace
from functools import lru_cache
from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from models.ocr import Limits, OcrOptions

__all__ = ["Settings", "get_settings"]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DOSSIER_", env_file=".env", extra="ignore")

    data_dir: Path = Field(default=Path(".dossier"), description="where embedded data lives")

    # Object store. Empty endpoint: start the embedded S3 server under data_dir.
    s3_endpoint: str = ""
    s3_access_key: SecretStr = SecretStr("")
    s3_secret_key: SecretStr = SecretStr("")
    s3_secure: bool = False
    s3_region: str = "us-east-1"
    bucket_prefix: str = ""
    # Where clients reach the object store, for presigned URLs to originals and PDFs (e.g.
    # https://s3.example.gov.vn); empty: the endpoint above (or the embedded server's).
    s3_public_url: str = ""
    presign_minutes: float = 5.0  # how long a presigned URL works

    # SQL index. Empty: a SQLite file under data_dir.
    index_url: str = ""

    # OCR
    lang: str = "vie+eng"
    tesseract_cmd: str = "tesseract"
    tesseract_timeout_s: float = 180.0
    # "tesserocr" (models kept loaded in each worker process) or "cli" (the tesseract
    # program per page, through pytesseract); empty: tesserocr when installed.
    ocr_engine: str = ""
    workers: int = Field(default_factory=lambda: max(1, os.cpu_count() or 1))
    # A page whose OCR takes longer fails alone; its OCR process is killed and replaced.
    page_timeout_s: float = 120.0

    # Input limits: every file is untrusted.
    max_file_bytes: int = 300 * 1024 * 1024
    max_image_pixels: int = 120_000_000
    max_pages: int = 1000
    pdf_render_dpi: int = 300

    # Uploads: a request over this many bytes is refused whole (413); files are streamed
    # through a spool folder (default: data_dir/spool).
    max_upload_bytes: int = 2 * 1024 * 1024 * 1024
    spool_dir: Path | None = None

    # Processing: the Prefect work pool the digitize-batch deployment is served to; a running
    # batch beats a heartbeat, and one whose beat stopped this long is taken over by a worker.
    work_pool: str = "dossier"
    batch_heartbeat_s: float = 5.0
    batch_stale_s: float = 60.0
    # Batches one `dossier worker` runs at once in its process (sharing its OCR pool); each
    # has at most `batch_pages_in_flight` pages queued for OCR (empty: DOSSIER_WORKERS + 1), so
    # the pages of batches interleave and a short one never waits behind a long one.
    worker_batches: int = 4
    batch_pages_in_flight: int | None = None
    # A storage or index fault (S3 or the database unreachable) is waited out, retried with
    # backoff up to this long within a run; a run that gives up leaves its batch to the
    # watchdog, which submits it again. No file is failed for it.
    store_outage_s: float = 600.0

    # Review: a found value is auto-accepted when its calibrated probability of being right
    # reaches the calibrated rule's threshold (extraction/calibration.json); set this to
    # override that threshold (stricter offices).
    review_threshold: float | None = None
    # A value held a little under the threshold, in a document a second reading could settle,
    # has its lines read again alone (extraction/reread.py); off: such values wait for a person.
    second_reading: bool = True
    # The field scorer: this file, else the one `dossier calibrate --install` put at
    # data_dir/calibration.json, else the one shipped (extraction/calibration.json).
    calibration: Path | None = None
    lease_minutes: float = 10.0  # how long a reviewer holds a claimed document unattended

    # Web pages. The secret signs CSRF tokens: set the same one on every replica; empty means
    # one generated once under data_dir (0600).
    secret_key: SecretStr = SecretStr("")
    session_hours: float = 12.0
    secure_cookies: bool = False  # set when served over HTTPS

    # Extra document-type definitions (YAML folder), added to the built-in ones.
    doctypes_dir: Path | None = None

    # Webhooks: every `dossier serve` and `dossier worker` delivers them from a thread
    # (false: not this process). A failing event is tried again after retry_base_s, the wait
    # doubling up to retry_max_s, for give_up_hours; then it is given up and the next goes.
    webhook_delivery: bool = True
    webhook_poll_s: float = 1.0
    webhook_timeout_s: float = 10.0
    webhook_retry_base_s: float = 5.0
    webhook_retry_max_s: float = 3600.0
    webhook_give_up_hours: float = 24.0
    # Receivers on this machine or its link (loopback, link-local) are refused unless true.
    webhook_allow_local: bool = False

    # /v1 reads: a verified API key is trusted this long in each web process (a revoked
    # key stops working within it); record JSON is kept by version id (immutable) in each
    # web process, up to this many records.
    api_key_cache_s: float = 5.0
    record_cache_size: int = 20_000
    # The access log goes from the index to the object store in segments this often.
    access_archive_s: float = 1.0

    # `dossier ingest --api`: the `dossier serve` to upload to instead of digitizing here (the
    # option overrides it), and its API key (scope batches:write).
    api_url: str = ""
    api_key: SecretStr = SecretStr("")

    def ocr_options(self, *, lang: str | None = None, psm: int | None = None,
                    cleanup: bool = True) -> OcrOptions:
        """How pages are read here: the engine, languages (``lang`` for other ones) and
        timeouts of these settings."""
        opts = OcrOptions(lang=lang or self.lang, tesseract_cmd=self.tesseract_cmd,
                          timeout=self.tesseract_timeout_s, engine=self.ocr_engine or None,
                          cleanup=cleanup)
        return opts if psm is None else replace(opts, psm=psm)

    def limits(self) -> Limits:
        """What an input file may be, by these settings."""
        return Limits(self.max_file_bytes, self.max_image_pixels, self.max_pages,
                      self.pdf_render_dpi)

    def pages_in_flight(self) -> int:
        """How many pages of one batch wait for the OCR pool at once: one more than its
        processes (so none idles while a page is stored), or ``batch_pages_in_flight``."""
        return max(1, self.batch_pages_in_flight or self.workers + 1)

    def installed_calibration_path(self) -> Path:
        return (self.data_dir / "calibration.json").resolve()

    def resolved_calibration(self) -> Path | None:
        """The scorer file to use; None for the shipped one."""
        if self.calibration is not None:
            return self.calibration
        installed = self.installed_calibration_path()
        return installed if installed.is_file() else None

    def resolved_spool_dir(self) -> Path:
        return (self.spool_dir or self.data_dir / "spool").resolve()

    def resolved_index_url(self) -> str:
        if self.index_url:
            return self.index_url
        return f"sqlite:///{(self.data_dir / 'index.sqlite3').resolve()}"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
