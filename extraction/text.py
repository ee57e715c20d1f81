"""Vietnamese text helpers: folding for matching, OCR digit repair."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

__all__ = ["nfc", "fold", "in_case", "strip_marks", "fold_token", "repair_digits", "TOKEN_RE", "collapse_ws",
           "restore_name_marks"]

# Dates and numbers with separators stay one token; words; any other single symbol.
TOKEN_RE = re.compile(r"\d{1,4}(?:[/.\-]\d{1,4}){1,2}|\w+|[^\w\s]", re.UNICODE)

_DIGIT_LOOKALIKES = str.maketrans({"O": "0", "o": "0", "D": "0", "Q": "0", "I": "1", "l": "1",
                                   "|": "1", "i": "1", "!": "1", "Z": "2", "z": "2", "S": "5",
                                   "s": "5", "B": "8", "G": "6", "b": "6", "g": "9", "q": "9",
                                   "T": "7"})


def nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


def in_case(word: str, reading: str) -> str:
    """``word`` written in the case of the ``reading`` it replaces: all capitals, a capital
    first, or lower case."""
    if reading.isupper() and len(reading) > 1:
        return word.upper()
    if reading[:1].isupper():
        return word[:1].upper() + word[1:]
    return word.lower()


# Extraction folds the same words (labels, syllables) over and over, on every row and page.
@lru_cache(maxsize=32768)
def fold(text: str) -> str:
    """Lowercase without diacritics (đ -> d), for matching labels through OCR noise."""
    return strip_marks(text).lower()


def strip_marks(text: str) -> str:
    """Text without diacritics (đ -> d), case kept: for regular expressions, whose escapes
    (``\\W``, ``\\S``) lowercasing would change."""
    if text.isascii():
        return text  # nothing to decompose, no marks
    text = unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "D"))
    return "".join(ch for ch in text if unicodedata.category(ch) != "Mn")


def fold_token(token: str) -> str:
    return fold(token).strip()


def repair_digits(text: str) -> str:
    """Map letters OCR often reads in place of digits (O->0, l->1, S->5...)."""
    return text.translate(_DIGIT_LOOKALIKES)


def collapse_ws(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


# Vietnamese family names, as written with their diacritics. A handful of names covers
# nearly everyone, and each is the only common family name its bare letters spell, so a
# family name OCR read without (or with the wrong) marks can be written back with them.
_FAMILY_NAMES = (
    "Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Huỳnh", "Phan", "Vũ", "Võ", "Đặng", "Bùi",
    "Đỗ", "Hồ", "Ngô", "Dương", "Lý", "Đinh", "Đoàn", "Trịnh", "Lâm", "Trương", "Lương",
    "Lưu", "Tô", "Tạ", "Hà", "Quách", "Thái", "Kiều", "Tôn", "Châu", "Lục", "Tăng",
    "Vương", "Phùng", "Nông", "Đào", "Đàm", "Khúc", "Thân", "Hàn", "Mạc", "Diệp", "Triệu",
    "Giang", "Mai", "Cao", "Văn", "Âu", "Ông", "Lạc", "Chu", "Ninh",
)
# Middle names that mark a person's sex: bare THI or VAN in the middle of a full name.
_MIDDLE_NAMES = ("Thị", "Văn")


def _by_fold(names: tuple[str, ...]) -> dict[str, str]:
    return {fold(n): n for n in names}


_FAMILY_BY_FOLD = _by_fold(_FAMILY_NAMES)
_MIDDLE_BY_FOLD = _by_fold(_MIDDLE_NAMES)


def restore_name_marks(name: str) -> str:
    """A full name with the diacritics of its family name (first word) and of a Thị/Văn
    middle name written back when OCR lost or misread them; the other words are kept as
    read (a given name's bare letters can spell several names)."""
    words = name.split()
    out = []
    for i, w in enumerate(words):
        table = _FAMILY_BY_FOLD if i == 0 else (
            _MIDDLE_BY_FOLD if 0 < i < len(words) - 1 else {})
        fixed = table.get(fold(w))
        if fixed is None or fixed == w:
            out.append(w)
        elif w.isupper():
            out.append(fixed.upper())
        elif w[:1].isupper():
            out.append(fixed)
        else:
            out.append(w)
    return " ".join(out)
