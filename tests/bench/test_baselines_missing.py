"""`dossier bench` without its baselines stops before any work, with the install command."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

DOSSIER_BIN = Path(sys.executable).parent / "dossier"


def test_bench_without_ghostscript_stops_at_once_with_the_install_command(tmp_path):
    # GIVEN a PATH with Tesseract but without Ghostscript (OCRmyPDF's baseline needs it)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    os.symlink(shutil.which("tesseract"), bin_dir / "tesseract")
    env = {**os.environ, "PATH": str(bin_dir), "DOSSIER_DATA_DIR": str(tmp_path / "data")}
    # WHEN the bench is asked for
    p = subprocess.run([str(DOSSIER_BIN), "bench", "--out", str(tmp_path / "out")], env=env,
                       capture_output=True, text=True, timeout=120, cwd=tmp_path)
    # THEN it exits with the missing-dependency code, names the fix, and did no work
    assert p.returncode == 5, p.stderr
    said = " ".join(p.stderr.split())  # the console wraps long lines
    assert "make bench" in said and "apt-get install ghostscript" in said
    assert "Traceback" not in p.stderr
    assert not (tmp_path / "data" / "bench").exists()
