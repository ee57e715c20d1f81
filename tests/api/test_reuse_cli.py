"""`dossier apikey create` with an agency and document types, as a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from storage.index import RecordIndex

DOSSIER = Path(sys.executable).parent / "dossier"


def run(args: list[str], data: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DOSSIER_DATA_DIR": str(data)}
    env.pop("DOSSIER_INDEX_URL", None)
    return subprocess.run([str(DOSSIER), *args], env=env, capture_output=True, text=True,
                          timeout=120)


def test_apikey_create_names_the_agency_and_limits_document_types(tmp_path: Path) -> None:
    """
    GIVEN an empty data dir
    WHEN a key is created for an agency limited to two types, and one with an unknown type
    THEN the first is stored with both and listed so; the second is refused (exit 2)
    """
    made = run(["apikey", "create", "--name", "police", "--scope", "records:read",
                "--agency", "Công an tỉnh", "--doctype", "cccd_front", "--doctype",
                "cccd_back"], tmp_path)
    assert made.returncode == 0, made.stderr
    key = made.stdout.strip().splitlines()[-1]
    assert "Công an tỉnh" in made.stderr and "cccd_back, cccd_front" in made.stderr
    with RecordIndex(f"sqlite:///{tmp_path / 'index.sqlite3'}") as index:
        info = index.verify_api_key(key)
    assert info is not None and info.agency == "Công an tỉnh"
    assert info.doctypes == ["cccd_back", "cccd_front"]
    listed = run(["apikey", "list"], tmp_path)
    assert "Công an tỉnh" in listed.stdout and "cccd_back,cccd_front" in listed.stdout
    bad = run(["apikey", "create", "--name", "x", "--doctype", "no_such_type"], tmp_path)
    assert bad.returncode == 2 and "no_such_type" in bad.stderr
