"""Synthetic one-stop-shop dossiers with ground truth: Vietnamese ID cards, civil-status forms
and certificates, scanned, photographed or born-digital.

    from sample_scans.generator import generate_corpus
    generate_corpus(Path("out"), dossiers=100, seed=1, split="dev")
"""

from .corpus import CONTAINERS, DossierSpec, generate_corpus, generate_dossier, plan_dossier
from .degrade import LEVELS
from .registry import DOCTYPES, LAYOUTS, SPLIT_LAYOUTS, layouts_for, render_document

__all__ = [
    "CONTAINERS",
    "DOCTYPES",
    "DossierSpec",
    "LAYOUTS",
    "LEVELS",
    "SPLIT_LAYOUTS",
    "generate_corpus",
    "generate_dossier",
    "layouts_for",
    "plan_dossier",
    "render_document",
]
