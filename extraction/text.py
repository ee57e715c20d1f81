"""Vietnamese text helpers: folding for matching, OCR digit repair."""

from __future__ import annotations

import re
import unicodedata

__all__ = ["nfc", "fold", "strip_marks", "fold_token", "repair_digits", "TOKEN_RE", "collapse_ws"]

# Dates and numbers with separators stay one token; words; any other single symbol.
TOKEN_RE = re.compile(r"\d{1,4}(?:[/.\-]\d{1,4}){1,2}|\w+|[^\w\s]", re.UNICODE)

_DIGIT_LOOKALIKES = str.maketrans({"O": "0", "o": "0", "D": "0", "Q": "0", "I": "1", "l": "1",
                                   "|": "1", "i": "1", "!": "1", "Z": "2", "z": "2", "S": "5",
                                   "s": "5", "B": "8", "G": "6", "b": "6", "g": "9", "q": "9",
                                   "T": "7"})


def nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


def fold(text: str) -> str:
    """Lowercase without diacritics (đ -> d), for matching labels through OCR noise."""
    return strip_marks(text).lower()


def strip_marks(text: str) -> str:
    """Text without diacritics (đ -> d), case kept: for regular expressions, whose escapes
    (``\\W``, ``\\S``) lowercasing would change."""
    text = unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "D"))
    return "".join(ch for ch in text if unicodedata.category(ch) != "Mn")


def fold_token(token: str) -> str:
    return fold(token).strip()


def repair_digits(text: str) -> str:
    """Map letters OCR often reads in place of digits (O->0, l->1, S->5...)."""
    return text.translate(_DIGIT_LOOKALIKES)


def collapse_ws(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()
