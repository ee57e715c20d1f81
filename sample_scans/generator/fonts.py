"""Font families with full Vietnamese coverage, checked glyph by glyph."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from PIL import ImageFont

__all__ = [
    "FONT_FAMILIES",
    "FontFamily",
    "FontSpec",
    "VIETNAMESE_CHARS",
    "families_for_split",
    "load_font",
    "missing_glyphs",
]

_VN_LOWER = (
    "aàáảãạăằắẳẵặâầấẩẫậbcdđeèéẻẽẹêềếểễệghiìíỉĩịklmnoòóỏõọôồốổỗộơờớởỡợ"
    "pqrstuùúủũụưừứửữựvxyỳýỷỹỵfjwz"
)
VIETNAMESE_CHARS = (
    _VN_LOWER + _VN_LOWER.upper() + "0123456789.,:;/-()'\"<>%&+*#_–“”…"
)


@dataclass(frozen=True)
class FontSpec:
    """One font file at one pixel size (pixel size at the 300-dpi design scale)."""

    path: str
    size: float


@dataclass(frozen=True)
class FontFamily:
    """A family with the four faces a document needs."""

    name: str
    regular: str
    bold: str
    italic: str
    bold_italic: str
    serif: bool

    def face(self, *, bold: bool = False, italic: bool = False) -> str:
        if bold and italic:
            return self.bold_italic
        if bold:
            return self.bold
        if italic:
            return self.italic
        return self.regular


_DEJAVU = "/usr/share/fonts/truetype/dejavu"
_NOTO = "/usr/share/fonts/truetype/noto"
_LIB = "/usr/share/fonts/truetype/liberation2"

FONT_FAMILIES: dict[str, FontFamily] = {
    "dejavu-serif": FontFamily(
        "dejavu-serif", f"{_DEJAVU}/DejaVuSerif.ttf", f"{_DEJAVU}/DejaVuSerif-Bold.ttf",
        f"{_DEJAVU}/DejaVuSerif-Italic.ttf", f"{_DEJAVU}/DejaVuSerif-BoldItalic.ttf", True,
    ),
    "dejavu-sans": FontFamily(
        "dejavu-sans", f"{_DEJAVU}/DejaVuSans.ttf", f"{_DEJAVU}/DejaVuSans-Bold.ttf",
        f"{_DEJAVU}/DejaVuSans-Oblique.ttf", f"{_DEJAVU}/DejaVuSans-BoldOblique.ttf", False,
    ),
    "noto-sans": FontFamily(
        "noto-sans", f"{_NOTO}/NotoSans-Regular.ttf", f"{_NOTO}/NotoSans-Bold.ttf",
        f"{_NOTO}/NotoSans-Italic.ttf", f"{_NOTO}/NotoSans-BoldItalic.ttf", False,
    ),
    "liberation-serif": FontFamily(
        "liberation-serif", f"{_LIB}/LiberationSerif-Regular.ttf",
        f"{_LIB}/LiberationSerif-Bold.ttf", f"{_LIB}/LiberationSerif-Italic.ttf",
        f"{_LIB}/LiberationSerif-BoldItalic.ttf", True,
    ),
    # Held out of the dev split: only the test split renders with these two.
    "noto-serif": FontFamily(
        "noto-serif", f"{_NOTO}/NotoSerif-Regular.ttf", f"{_NOTO}/NotoSerif-Bold.ttf",
        f"{_NOTO}/NotoSerif-Italic.ttf", f"{_NOTO}/NotoSerif-BoldItalic.ttf", True,
    ),
    "liberation-sans": FontFamily(
        "liberation-sans", f"{_LIB}/LiberationSans-Regular.ttf", f"{_LIB}/LiberationSans-Bold.ttf",
        f"{_LIB}/LiberationSans-Italic.ttf", f"{_LIB}/LiberationSans-BoldItalic.ttf", False,
    ),
}

MONO_FONT = f"{_DEJAVU}/DejaVuSansMono.ttf"

_SPLIT_FAMILIES = {
    "dev": ("dejavu-serif", "dejavu-sans", "noto-sans", "liberation-serif"),
    "test": ("noto-serif", "liberation-sans"),
}


def families_for_split(split: str) -> tuple[str, ...]:
    """Font family names a split may use; dev and test share none."""
    try:
        return _SPLIT_FAMILIES[split]
    except KeyError:
        raise ValueError(f"unknown split {split!r}; expected 'dev' or 'test'") from None


@lru_cache(maxsize=256)
def load_font(path: str, size: float) -> ImageFont.FreeTypeFont:
    """Pillow font at a pixel size; basic layout so advances match the PDF writer."""
    return ImageFont.truetype(path, size=max(1, round(size)), layout_engine=ImageFont.Layout.BASIC)


@lru_cache(maxsize=64)
def _cmap(path: str) -> frozenset[int]:
    from fontTools.ttLib import TTFont

    with TTFont(path, lazy=True) as tt:
        return frozenset(tt.getBestCmap().keys())


def missing_glyphs(path: str, text: str = VIETNAMESE_CHARS) -> list[str]:
    """Characters of `text` (NFC) that the font file has no glyph for."""
    cmap = _cmap(path)
    return sorted({c for c in unicodedata.normalize("NFC", text) if ord(c) not in cmap and c != " "})


def check_families() -> None:
    """Fail early with the file name if an installed font lacks a Vietnamese glyph."""
    for fam in FONT_FAMILIES.values():
        for path in (fam.regular, fam.bold, fam.italic, fam.bold_italic):
            if not Path(path).exists():
                raise FileNotFoundError(f"font file {path} is missing; install the Debian font packages in deps/apt.txt")
            miss = missing_glyphs(path)
            if miss:
                raise ValueError(f"font {path} lacks Vietnamese glyphs: {''.join(miss)}")
