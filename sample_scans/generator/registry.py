"""Document types, their layouts, and which layouts each split may use."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import date, timedelta

from . import cards, forms
from .canvas import Canvas
from .fonts import FONT_FAMILIES
from .sheet import Ctx, RenderedDocument, make_office

__all__ = ["DOCTYPES", "LAYOUTS", "SPLIT_LAYOUTS", "layouts_for", "new_ctx", "render_document"]

Renderer = Callable[[Ctx, str], RenderedDocument]

DOCTYPES: dict[str, Renderer] = {
    "cccd_front": cards.render_cccd_front,
    "cccd_back": cards.render_cccd_back,
    "birth_registration": forms.render_birth_registration,
    "birth_certificate_extract": forms.render_birth_certificate_extract,
    "marriage_registration": forms.render_marriage_registration,
    "residence_confirmation": forms.render_residence_confirmation,
    "land_use_certificate": forms.render_land_use_certificate,
    "enterprise_registration": forms.render_enterprise_registration,
    "receipt_appointment": forms.render_receipt_appointment,
    "power_of_attorney": forms.render_power_of_attorney,
    "application_letter": forms.render_application_letter,
}

LAYOUTS: dict[str, tuple[str, ...]] = {
    "cccd_front": ("a", "b", "c"),  # a: 2016 barcode card, b: 2021 chip card, c: 2024 "CĂN CƯỚC"
    "cccd_back": ("a", "b", "c"),
    "birth_registration": ("a", "b", "c"),
    "birth_certificate_extract": ("a", "b"),
    "marriage_registration": ("a", "b"),
    "residence_confirmation": ("a", "b"),
    "land_use_certificate": ("a", "b"),
    "enterprise_registration": ("a", "b"),
    "receipt_appointment": ("a", "b"),
    "power_of_attorney": ("a", "b"),
    "application_letter": ("a", "b"),
}

# The last layout of every doctype is held out for the test split.
SPLIT_LAYOUTS: dict[str, dict[str, tuple[str, ...]]] = {
    "dev": {k: v[:-1] for k, v in LAYOUTS.items()},
    "test": {k: v[-1:] for k, v in LAYOUTS.items()},
}

CARD_DOCTYPES = frozenset({"cccd_front", "cccd_back"})


def layouts_for(doctype: str, split: str) -> tuple[str, ...]:
    if doctype not in DOCTYPES:
        raise ValueError(f"unknown doctype {doctype!r}; known: {', '.join(DOCTYPES)}")
    try:
        return SPLIT_LAYOUTS[split][doctype]
    except KeyError:
        raise ValueError(f"unknown split {split!r}; expected 'dev' or 'test'") from None


def new_ctx(rng: random.Random, family: str, today: date | None = None) -> Ctx:
    """Shared state for the documents of one dossier."""
    if today is None:
        today = date(2024, 1, 2) + timedelta(days=rng.randint(0, 600))
        while today.weekday() >= 5:
            today = today.fromordinal(today.toordinal() + 1)
    return Ctx(rng=rng, family=FONT_FAMILIES[family], today=today, office=make_office(rng))


def render_document(doctype: str, layout: str, rng: random.Random, *, family: str = "dejavu-serif",
                    ctx: Ctx | None = None) -> RenderedDocument:
    """Render one document at 300 dpi as display lists (one per page) plus its field values."""
    if doctype not in DOCTYPES:
        raise ValueError(f"unknown doctype {doctype!r}; known: {', '.join(DOCTYPES)}")
    if layout not in LAYOUTS[doctype]:
        raise ValueError(f"doctype {doctype} has no layout {layout!r}; it has {', '.join(LAYOUTS[doctype])}")
    ctx = ctx or new_ctx(rng, family)
    state = rng.getstate()
    people, cards_known = dict(ctx.people), dict(ctx.card_dates)
    for scale in (1.0, 0.93, 0.86, 0.8, 0.74):
        rng.setstate(state)
        ctx.people, ctx.card_dates, ctx.font_scale = dict(people), dict(cards_known), scale
        doc = DOCTYPES[doctype](ctx, layout)
        if all(_fits(c) for c in doc.pages):
            break
    ctx.font_scale = 1.0
    return doc


def _fits(canvas: Canvas) -> bool:
    margin = 40 if canvas.height > 2000 else 4
    return all(w.bbox[0] >= 0 and w.bbox[1] >= 0 and w.bbox[2] <= canvas.width - margin * 0.25
               and w.bbox[3] <= canvas.height - margin for w in canvas.words())
