"""Who read a citizen's data: one entry per read through ``/v1`` (a citizen lookup, a record,
its PDF or original, a search), with the key, its agency, the purpose, the records and the
citizens they name."""

from __future__ import annotations

import re
from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, Field

from models.records import utcnow

__all__ = ["AccessAction", "AccessEntry", "Purpose", "PURPOSE_CODE_RE"]

# A procedure code as the national catalogue writes them (1.004227, 2.000986-TTHC, ...).
PURPOSE_CODE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,63}$")


class AccessAction(StrEnum):
    citizen_lookup = "citizen_lookup"  # GET /v1/citizens/{id}/records
    record = "record"  # GET /v1/records/{id} (or its audit trail)
    pdf = "pdf"  # a presigned URL to the searchable PDF was issued
    original = "original"  # a presigned URL to an original scan was issued
    search = "search"  # the hits of GET /v1/records
    counter_lookup = "counter_lookup"  # staff at the counter looked a citizen up
    reuse = "reuse"  # staff at the counter reused settled records for a procedure


class Purpose(BaseModel):
    """Why a system reads: the procedure's code and, optionally, words."""

    code: str
    text: str | None = None


class AccessEntry(BaseModel):
    """One read of citizens' data; append-only."""

    access_id: str
    at: datetime = Field(default_factory=utcnow)
    key_id: str
    key_name: str
    agency: str | None = None
    action: AccessAction
    purpose: Purpose
    record_ids: list[str] = Field(default_factory=list)
    citizen_ids: list[str] = Field(default_factory=list)
    request_id: str | None = None
