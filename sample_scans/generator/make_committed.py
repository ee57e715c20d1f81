"""Regenerate the small sample set committed in sample_scans/ (deterministic).

    python -m sample_scans.generator.make_committed [--out DIR]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from .corpus import DossierSpec, generate_dossier

__all__ = ["COMMITTED", "make_committed"]

SAMPLE_DIR = Path(__file__).resolve().parent.parent

_LIGHT = {"names": ["noise", "resample", "skew"], "skew_deg": 0.8, "dpi": 200, "params": {"noise_sigma": 3.0}}

COMMITTED: list[DossierSpec] = [
    DossierSpec("cccd-front-clean", 101, "dev", "png", "clean", [("cccd_front", "b", "applicant")],
                family="noto-sans", card_on_a4=False, forced={"dpi": 600}),
    DossierSpec("cccd-front-2016-on-a4-scan", 102, "dev", "png", "light", [("cccd_front", "a", "applicant")],
                family="dejavu-sans", card_on_a4=True,
                forced={"names": ["resample", "skew"], "skew_deg": -1.2, "dpi": 300}),
    DossierSpec("cccd-front-skewed-phone", 103, "dev", "jpeg", "heavy", [("cccd_front", "b", "applicant")],
                family="noto-sans", card_on_a4=False,
                forced={"names": ["jpeg", "noise", "phone_photo", "shadow"], "dpi": 600,
                        "params": {"noise_sigma": 5.0, "jpeg_quality": 75, "shadow_strength": 0.2}}),
    DossierSpec("birth-registration-clean", 104, "dev", "png", "clean", [("birth_registration", "a", "applicant")],
                family="dejavu-serif"),
    DossierSpec("birth-registration-scan-200dpi", 105, "dev", "pdf-scan", "light",
                [("birth_registration", "b", "applicant")], family="liberation-serif", forced=dict(_LIGHT)),
    DossierSpec("birth-registration-rotated-90", 106, "dev", "tiff", "light",
                [("birth_registration", "a", "applicant")], family="noto-sans",
                forced={"names": ["resample"], "dpi": 200, "rotation": 90}),
    DossierSpec("birth-registration-born-digital", 107, "dev", "pdf-text", "clean",
                [("birth_registration", "b", "applicant")], family="dejavu-serif"),
    DossierSpec("dossier-mixed-receipt-cccd-birth", 108, "dev", "pdf-scan", "light",
                [("receipt_appointment", "a", ""), ("cccd_front", "b", "father"), ("cccd_back", "b", "father"),
                 ("birth_registration", "a", "")], bundle="khai-sinh", family="liberation-serif",
                card_on_a4=True, forced={"names": ["noise", "resample"], "dpi": 200, "params": {"noise_sigma": 3.0}}),
    DossierSpec("dossier-folder-cccd-front-back", 109, "dev", "folder", "light",
                [("cccd_front", "a", "applicant"), ("cccd_back", "a", "applicant")], family="dejavu-sans",
                card_on_a4=True, forced={"names": ["jpeg", "resample"], "dpi": 250, "params": {"jpeg_quality": 85}}),
    DossierSpec("residence-confirmation-heavy-phone-shadow", 110, "dev", "jpeg", "heavy",
                [("residence_confirmation", "a", "applicant")], family="noto-sans",
                forced={"names": ["blur", "jpeg", "noise", "phone_photo", "resample", "seal_over_text", "shadow"],
                        "dpi": 200, "params": {"noise_sigma": 8.0, "jpeg_quality": 55, "blur_sigma": 0.7,
                                                "shadow_strength": 0.3}}),
    DossierSpec("enterprise-registration-fax-200x100", 111, "dev", "png", "heavy",
                [("enterprise_registration", "a", "applicant")], family="liberation-serif",
                forced={"names": ["bilevel_fax", "resample", "skew"], "skew_deg": 2.5, "dpi": 200}),
]


def make_committed(out: Path = SAMPLE_DIR) -> list[dict[str, object]]:
    """Write every committed sample and the manifest listing them."""
    entries = [generate_dossier(out, spec) for spec in COMMITTED]
    manifest = {"schema": "dossier-manifest/1", "seed": None, "split": "dev", "degradation": "mixed",
                "dossiers": entries}
    (out / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    return entries


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=SAMPLE_DIR)
    args = ap.parse_args()
    for e in make_committed(args.out):
        print(f"{e['dossier']}: {e['pages']} page(s), {', '.join(e['doctypes'])}")  # type: ignore[arg-type]
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
