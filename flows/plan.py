"""Which input files form which dossier: a folder or a single file is one dossier."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from ocr.loading import SUPPORTED_SUFFIXES
from storage.batches import dossier_id_for

__all__ = ["DossierInput", "discover", "dossier_id_for", "sha256_file"]


@dataclass
class DossierInput:
    name: str
    files: list[Path] = field(default_factory=list)


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _folder_files(folder: Path) -> list[Path]:
    # Truth files, notes and other non-scans beside the pages are not part of the dossier;
    # a scan with a wrong extension is caught later by its content.
    return sorted((p for p in folder.iterdir()
                   if p.is_file() and p.suffix.lower() in SUPPORTED_SUFFIXES
                   and not p.name.startswith(".")), key=lambda p: p.name)


def discover(paths: list[Path], *, split_folders: bool = False
             ) -> tuple[list[DossierInput], list[tuple[Path, str]]]:
    """Dossiers from command-line paths, and (path, problem) for paths that are not inputs.

    A file is one dossier; a folder is one dossier of its scans in name order, and each of its
    subfolders is a dossier of its own. With ``split_folders`` every file and subfolder of a
    given folder is its own dossier (a folder of scanned dossiers, as the demo uses).
    """
    dossiers: list[DossierInput] = []
    problems: list[tuple[Path, str]] = []

    def add_folder(folder: Path) -> None:
        files = _folder_files(folder)
        if files:
            dossiers.append(DossierInput(folder.name, files))
        for sub in sorted(p for p in folder.iterdir() if p.is_dir()
                          and not p.name.startswith((".", "_"))):
            add_folder(sub)

    for path in paths:
        if not path.exists():
            problems.append((path, "no such file or folder"))
        elif path.is_dir():
            if split_folders:
                for child in _folder_files(path):
                    dossiers.append(DossierInput(child.name, [child]))
                for sub in sorted(p for p in path.iterdir() if p.is_dir()
                                  and not p.name.startswith((".", "_"))):
                    add_folder(sub)
            else:
                before = len(dossiers)
                add_folder(path)
                if len(dossiers) == before:
                    problems.append((path, "the folder has no JPEG, PNG, TIFF or PDF files"))
        else:
            dossiers.append(DossierInput(path.name, [path]))
    return dossiers, problems
