"""REST API for other systems: records by citizen ID, records by id, with API keys.

Keys are sent as ``Authorization: Bearer KEY`` and checked against the hashed keys in the
index; a missing or wrong key gets 401, a key without the scope 403.
"""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse

from api.auth import require_scope
from models.errors import DossierError, NotFoundError, StorageError
from models.records import ApiKeyInfo, Record
from models.settings import Settings

__all__ = ["create_app", "redact_access_log"]

log = logging.getLogger(__name__)

_ID_RE = re.compile(r"\d{9,12}")


class _RedactIds(logging.Filter):
    """Access-log lines carry request paths, and paths carry citizen IDs: mask them."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(_ID_RE.sub("***", a) if isinstance(a, str) else a
                                for a in record.args)
        record.msg = _ID_RE.sub("***", str(record.msg))
        return True


def redact_access_log() -> None:
    logging.getLogger("uvicorn.access").addFilter(_RedactIds())


def create_app(settings: Settings, *, store: Any = None, index: Any = None) -> FastAPI:
    """The app; ``store``/``index`` may be given (tests), else opened from settings."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        from storage.index import RecordIndex
        from storage.objects import open_object_store

        app.state.index = index or RecordIndex(settings.resolved_index_url())
        app.state.store = store or open_object_store(settings)
        try:
            yield
        finally:
            if index is None:
                app.state.index.close()

    app = FastAPI(title="Dossier record store", version="1", lifespan=lifespan)

    @app.exception_handler(DossierError)
    async def dossier_error(_: Request, e: DossierError) -> JSONResponse:
        status = 404 if isinstance(e, NotFoundError) else 503 if isinstance(e, StorageError) \
            else 500
        return JSONResponse({"detail": e.message, "kind": e.kind}, status_code=status)

    read = Depends(require_scope("records:read"))

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/v1/citizens/{citizen_id}/records")
    def citizen_records(citizen_id: str, request: Request, status: str | None = None,
                        _key: ApiKeyInfo = read) -> dict[str, Any]:
        """Every record naming this citizen ID, newest first (optionally by status)."""
        if not (citizen_id.isdigit() and len(citizen_id) == 12):
            raise HTTPException(422, "a citizen ID is 12 digits")
        entries = request.app.state.index.records_for_citizen(citizen_id)
        if status:
            entries = [e for e in entries if e.status.value == status]
        out = [Record.from_json(request.app.state.store.get_record(e.record_id))
               .model_dump(mode="json") for e in entries]
        return {"citizen_id": citizen_id, "count": len(out), "records": out}

    @app.get("/v1/records/{record_id}")
    def get_record(record_id: str, request: Request, version: str | None = None,
                   _key: ApiKeyInfo = read) -> dict[str, Any]:
        if request.app.state.index.get_record(record_id) is None:
            raise HTTPException(404, f"no record {record_id}")
        data = request.app.state.store.get_record(record_id, version)
        return Record.from_json(data).model_dump(mode="json")

    @app.get("/v1/records/{record_id}/versions")
    def record_versions(record_id: str, request: Request,
                        _key: ApiKeyInfo = read) -> dict[str, Any]:
        if request.app.state.index.get_record(record_id) is None:
            raise HTTPException(404, f"no record {record_id}")
        versions = request.app.state.store.record_versions(record_id)
        return {"record_id": record_id,
                "versions": [{"version_id": v.version_id, "is_latest": v.is_latest,
                              "last_modified": v.last_modified.isoformat()
                              if v.last_modified else None} for v in versions]}

    return app
