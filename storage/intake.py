"""Accepting a batch: every upload goes through here, from the API, the upload page and
``dossier ingest`` alike.

Each file is streamed to a spool file on disk (never held whole in memory), checked for the
per-file limits, stored in the object store under its content hash and only then counted as
accepted; the batch is registered in the ledger as queued. A file refused here (empty, over the
size limit, unreadable) gets its own error and the rest of the batch goes on.
"""

from __future__ import annotations

import hashlib
import logging
import os
import secrets
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from natsort import natsort_keygen, ns

from models.batches import BatchDossier, BatchFile, BatchPlan, FileProblem
from models.errors import (
    DossierError,
    EmptyFileError,
    InputFileError,
    StorageError,
    TooLargeError,
)
from storage.batches import BatchLedger, dossier_id_for
from storage.objects import ObjectStore
from storage.private import open_private, private_dir

__all__ = ["Upload", "new_batch_id", "split_name", "accept_batch",
           "spool", "Spooled", "content_type_for", "page_order"]

log = logging.getLogger(__name__)

_CHUNK = 1 << 20
_CONTENT_TYPES = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg",
                  ".tif": "image/tiff", ".tiff": "image/tiff", ".pdf": "application/pdf"}


def new_batch_id() -> str:
    return datetime.now(UTC).strftime("B%Y%m%d-%H%M%S-") + secrets.token_hex(3)


_natural = natsort_keygen(alg=ns.PATH | ns.IGNORECASE)
_natural_exact = natsort_keygen(alg=ns.PATH)


def page_order(name: str) -> tuple:
    """Sort key of a relative path in a dossier, as a file manager lists a folder: natural
    ("trang 2" before "trang 10"), letter case aside, folder by folder. Browsers list a picked folder in no particular order, so every way in (the page, the
    API, the CLI) orders a dossier's files by this key alone; names differing only in case
    still get one order."""
    return (_natural(name), _natural_exact(name))


def content_type_for(name: str) -> str:
    return _CONTENT_TYPES.get(PurePosixPath(name).suffix.lower(), "application/octet-stream")


def split_name(name: str) -> tuple[str, str]:
    """``folder/sub/page.png`` -> dossier ``folder``, file ``folder/sub/page.png``; a bare
    ``scan.pdf`` is a dossier of its own. Names are the operator's, used only for display."""
    parts = [p for p in name.replace("\\", "/").split("/") if p not in ("", ".", "..")]
    if not parts:
        return "unnamed", "unnamed"
    return (parts[0] if len(parts) > 1 else parts[-1]), "/".join(parts)


@dataclass
class Spooled:
    """An upload written to disk, with its hash and size; ``too_large`` when cut off."""

    path: Path
    sha256: str
    size: int
    too_large: bool = False


def spool(chunks: Iterable[bytes], spool_dir: Path, max_bytes: int) -> Spooled:
    """Write ``chunks`` to a new file under ``spool_dir``, hashing as it goes; stops writing
    past ``max_bytes`` (the rest is read and dropped, so the stream stays in step)."""
    private_dir(spool_dir)
    path = spool_dir / f"up-{os.getpid()}-{secrets.token_hex(8)}"
    h = hashlib.sha256()
    size = 0
    too_large = False
    with open_private(path) as out:  # an upload is citizen data: 0600 whatever the umask
        for chunk in chunks:
            size += len(chunk)
            if size > max_bytes:
                too_large = True
                continue
            h.update(chunk)
            out.write(chunk)
    return Spooled(path=path, sha256=h.hexdigest(), size=size, too_large=too_large)


def read_chunks(fh: BinaryIO) -> Iterator[bytes]:
    while chunk := fh.read(_CHUNK):
        yield chunk


@dataclass
class Upload:
    """One file of an upload: the operator's name for it (``dossier/file`` or ``file``) and
    where its bytes are: an open binary stream, or a path on this machine."""

    name: str
    stream: BinaryIO | None = None
    path: Path | None = None
    dossier: str | None = None  # given explicitly (the CLI), else taken from the name


def _accept_file(up: Upload, file_no: int, store: ObjectStore, spool_dir: Path,
                 max_bytes: int, station: str | None) -> BatchFile:
    dossier, name = split_name(up.name)
    if up.dossier:  # a local path from the command line: shown as the operator typed it
        dossier, name = up.dossier, up.name
    f = BatchFile(file_no=file_no, dossier=dossier, name=name,
                  content_type=content_type_for(name))
    spooled: Spooled | None = None
    try:
        if up.path is not None:  # already on this machine's disk: no copy needed
            size = up.path.stat().st_size
            spooled = Spooled(path=up.path, sha256="", size=size, too_large=size > max_bytes)
        elif up.stream is not None:
            spooled = spool(read_chunks(up.stream), spool_dir, max_bytes)
        else:
            raise InputFileError("nothing was sent for this file", path=name)
        f.size = spooled.size
        if spooled.too_large:
            raise TooLargeError(f"the file is {spooled.size:,} bytes, over the limit of "
                                f"{max_bytes:,} bytes", path=name)
        if spooled.size == 0:
            raise EmptyFileError("the file is empty (0 bytes)", path=name)
        ref = store.put_original(spooled.path, filename=PurePosixPath(name).name,
                                 content_type=f.content_type,
                                 metadata={"station": station} if station else None)
        if spooled.sha256 and ref.sha256 != spooled.sha256:
            raise StorageError("the file changed while it was being stored", path=name)
        f.sha256 = ref.sha256
    except OSError as e:
        f.problem = FileProblem(kind="InputFileError",
                                message=f"{name}: cannot read the file: {e.strerror or e}",
                                hint="check that the file is still there and readable")
    except StorageError:
        raise  # the store is down: nothing of this batch may be acknowledged
    except DossierError as e:
        f.problem = FileProblem(kind=e.kind, message=e.message if e.message.startswith(name)
                                else f"{name}: {e.message}", hint=e.hint)
    finally:
        if spooled is not None and up.path is None:
            spooled.path.unlink(missing_ok=True)
    return f


def accept_batch(uploads: Iterable[Upload], *, store: ObjectStore, ledger: BatchLedger,
                 spool_dir: Path, max_file_bytes: int, station: str | None,
                 operator: str | None, batch_id: str | None = None) -> BatchPlan:
    """Store every upload's original and register the batch; returns its plan.

    When this returns, every accepted original is durable in the object store and the batch is
    queued in the ledger: that is when an upload may be acknowledged.
    """
    batch_id = batch_id or new_batch_id()
    dossiers: dict[str, list[BatchFile]] = {}
    for n, up in enumerate(uploads, start=1):
        f = _accept_file(up, n, store, spool_dir, max_file_bytes, station)
        dossiers.setdefault(f.dossier, []).append(f)
    plan = BatchPlan(batch_id=batch_id, station=station, operator=operator)
    file_no = 0
    for name in dossiers:  # dossiers in the order they came; pages in page order
        files = sorted(dossiers[name], key=lambda f: page_order(f.name))
        for f in files:  # numbered in page order, whatever order they were sent in
            file_no += 1
            f.file_no = f.position = file_no
        plan.dossiers.append(BatchDossier(
            name=name, files=files,
            dossier_id=dossier_id_for([f.sha256 for f in files], batch_id=batch_id,
                                      dossier=name)))
    ledger.create(plan)
    log.info("batch %s accepted: %d files", batch_id, len(plan.files))
    return plan


def accept_replacement(up: Upload, *, batch_id: str, file_no: int, store: ObjectStore,
                       ledger: BatchLedger, spool_dir: Path, max_file_bytes: int,
                       station: str | None) -> int:
    """Store a replacement for file ``file_no`` of a batch; returns the new file's number."""
    f = _accept_file(up, 0, store, spool_dir, max_file_bytes, station)
    return ledger.replace_file(batch_id, file_no, f)


__all__ += ["accept_replacement", "read_chunks"]
