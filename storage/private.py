"""Files and folders only this service's user may read: what lives under the data dir (the
SQLite index with citizen data and password hashes, the originals cache, the upload spool,
secrets) is created 0600 and its folders 0700, whatever the umask.

Modes are set explicitly (``os.open`` with 0600, ``chmod`` after ``mkdir``) rather than
trusting the umask, which a service manager or a login shell may have left at 022; the
long-running commands also tighten their umask (:func:`restrict_umask`) so that what other
libraries and child processes create there (Prefect's database, the S3 server's files)
is private too.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import BinaryIO

__all__ = ["PRIVATE_UMASK", "private_dir", "open_private", "open_private_append",
           "make_private", "restrict_umask"]

PRIVATE_UMASK = 0o077


def private_dir(path: Path) -> Path:
    """``path`` as a folder; every folder this creates on the way is 0700. Folders that
    exist are left as they are (a configured spool dir may be shared, e.g. ``/tmp``)."""
    path = Path(path)
    missing: list[Path] = []
    p = path
    while not p.exists() and p != p.parent:
        missing.append(p)
        p = p.parent
    for d in reversed(missing):
        try:
            d.mkdir(mode=0o700)
        except FileExistsError:
            continue  # made meanwhile by another process: left as that one made it
        os.chmod(d, 0o700)  # mkdir's mode goes through the umask
    if not path.is_dir():
        raise NotADirectoryError(f"{path} is not a folder")
    return path


def open_private(path: Path) -> BinaryIO:
    """A new file at ``path`` (``FileExistsError`` if there is one), 0600 from the start,
    open for writing bytes."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0),
                 0o600)
    os.fchmod(fd, 0o600)  # os.open's mode goes through the umask too
    return os.fdopen(fd, "wb")


def open_private_append(path: Path) -> BinaryIO:
    """``path`` open for appending bytes (and reading), created 0600 if missing."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o600)
    if os.fstat(fd).st_size == 0:
        os.fchmod(fd, 0o600)
    return os.fdopen(fd, "a+b")


def make_private(path: Path) -> None:
    """Make an existing file 0600 (one another library wrote)."""
    os.chmod(path, 0o600)


def restrict_umask() -> int:
    """Make this process (and what it starts) create private files; returns the old umask."""
    return os.umask(PRIVATE_UMASK)
