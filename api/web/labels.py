"""Words for values that reach templates as codes (statuses, roles, audit actions): marked
here so the catalogue extraction finds them; templates translate them with ``_(code)``."""

from __future__ import annotations

__all__ = ["CODES"]


def N_(message: str) -> str:
    return message


CODES = [
    # record statuses
    N_("extracted"), N_("needs_review"), N_("in_review"), N_("verified"), N_("rejected"),
    # field statuses
    N_("accepted"), N_("review"), N_("missing"), N_("confirmed"), N_("corrected"),
    N_("not_on_document"),
    # roles
    N_("operator"), N_("reviewer"), N_("admin"),
    # audit actions
    N_("claimed"), N_("released"), N_("restored"), N_("reopened"), N_("retyped"),
]
