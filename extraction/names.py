"""Accents of Vietnamese names, when OCR lost them and no other reading (QR code, another
document of the dossier) has them.

Tesseract often reads ``NGUYỄN`` as ``NGUYEN`` on a card. The syllables of Vietnamese names are
few: a syllable read with no accent at all is given the form names most often have (the
family name from the family names, the others from middle and given names; ``VĂN``/``THỊ`` by
the card's sex). It is a likely reading, not a certain one: a restored name always goes to
review, saying so.
"""

from __future__ import annotations

import unicodedata

from extraction.text import fold

__all__ = ["restore_name", "restore_names", "RESTORED"]

RESTORED = "accents of the name restored from common names: check them on the document"

FAMILY = """Nguyễn Trần Lê Phạm Hoàng Huỳnh Phan Vũ Võ Đặng Bùi Đỗ Hồ Ngô Dương Lý Đinh Đào
Trương Lâm Mai Trịnh Cao Hà Lương Tạ Chu Lưu Tô Quách Thái Tăng Kiều Vương Đoàn Triệu Châu
Nghiêm Khúc Mạc Lục Giang Hứa Âu Phùng Kim Doãn Tống Thân Từ Viên Quan Lò Đàm Khổng Ninh
Diệp Hầu Lại Tôn Văn Mẫn Bạch Thạch Nông Lường Hoa Ông""".split()

# Middle and given names.
GIVEN = """Văn Thị Hữu Đức Minh Quang Thành Công Xuân Hoàng Ngọc Đình Gia Tuấn Trọng Quốc Anh
Bá Thế Thu Thanh Bảo Phương Khánh Hồng Kim Mai Thùy Diệu Hoài Quỳnh Mỹ Tuyết An Bình Cường
Dũng Đạt Hải Hiếu Hùng Huy Khang Khoa Long Nam Nghĩa Phong Phúc Quân Sơn Tài Thắng Toàn
Trung Việt Vinh Duy Hưng Kiên Lâm Lộc Nhân Thịnh Tùng Khải Hậu Thông Chi Dung Giang Hà
Hằng Hạnh Hoa Huyền Hương Lan Linh Loan My Nga Ngân Nhung Oanh Thảo Thủy Trang Trâm Uyên
Vân Vy Yến Nhi Diệp Hiền Liên Ánh Thư Tâm Trí Nhật Hiển Lực Lợi Lộc Nguyên Phát Phước Quý
Tân Thiện Thuận Tiến Toản Trường Tú Vũ Vương Châu Cúc Đào Điệp Hảo Hòa Hồ Kiều Lệ Liễu Lụa
Ly Mơ Nguyệt Nhàn Nhạn Phượng Sương Thắm Thoa Thơ Thúy Tiên Trinh Tươi Xuyến Ý Yên Đông
Bích Cẩm Duyên Giao Hân Hậu Hiệp Khôi Khương Luân Mạnh Ngạn Nhạc Phú Quế Quyên Sang Sinh
Tấn Thạch Thắng Thiên Thục Thùy Tín Triết Trúc Tường Uy Vĩnh Vượng Xuân Bằng Chiến Cảnh Cương
Đăng Định Giáp Huệ Khiêm Lễ Lĩnh Luyến Mẫn Nhẫn Phụng Quyết Sỹ Tài Thái Thao Thìn Toại
Tuệ Văn Vịnh Ân Ẩn""".split()

# Where sex decides between two forms of the same letters.
BY_SEX = {"van": {"Nam": "Văn", "Nữ": "Vân"}, "thi": {"Nam": "Thi", "Nữ": "Thị"},
          "dung": {"Nam": "Dũng", "Nữ": "Dung"}}


def _table(words: list[str]) -> dict[str, str | None]:
    """Letters -> the one name form with them; None where several forms share them (HÙNG,
    HƯNG): those are left as read."""
    out: dict[str, str | None] = {}
    for w in words:
        key = fold(w)
        out[key] = w if out.get(key, w) == w else None
    return out


# Letters two forms share where one of them is by far the more common name.
PREFER = {"phuong": "Phương", "thao": "Thảo", "cuong": "Cường", "dinh": "Đình", "toan": "Toàn",
          "tien": "Tiến", "hien": "Hiền", "yen": "Yến", "ngan": "Ngân", "nhan": "Nhân",
          "diep": "Diệp"}

_FAMILY = {**_table(FAMILY), "luong": "Lương", "doan": "Đoàn"}
_GIVEN = {**_table(GIVEN), **PREFER}
_FORMS: dict[str, set[str]] = {}
for _w in FAMILY + GIVEN:
    _FORMS.setdefault(fold(_w), set()).add(_w.upper())


def _closest(word: str, forms: set[str]) -> str | None:
    """Of the name forms with the letters of ``word``, the one whose accents are closest to
    those read (None on a tie)."""
    scored = sorted(((sum(a == b for a, b in zip(word, f, strict=False)), f) for f in forms),
                    reverse=True)
    if len(scored) > 1 and scored[0][0] == scored[1][0]:
        return None
    return scored[0][1]


_TONES = {"\u0300", "\u0301", "\u0303", "\u0309", "\u0323"}


def _spelling(word: str) -> tuple[str, str]:
    """Letters with their vowel marks, and the tone mark: HOÀ and HÒA (the tone placed on
    either vowel, both in use) spell the same."""
    d = unicodedata.normalize("NFD", word.upper())
    return ("".join(ch for ch in d if ch not in _TONES),
            "".join(sorted(ch for ch in d if ch in _TONES)))


def _bare(word: str) -> bool:
    return fold(word) == word.lower() and word.isalpha()


def restore_name(value: str, sex: str | None = None) -> str | None:
    """``value`` (a name in capitals, or with each word capitalized) with each syllable read
    without any accent written as names most often have it (Thong: Thông), and each one read
    with accents no name has (HÃNG) written as the name form of its letters closest to the
    reading (HẰNG); None when nothing changes."""
    words = value.split()
    upper = value.isupper()
    if len(words) < 2 or not (upper or all(w[:1].isupper() and w[1:].islower() for w in words)):
        return None
    out = []
    for i, read in enumerate(words):
        w = read.upper()
        key = fold(w)
        form = None
        if _bare(w):
            if i == 0:
                form = _FAMILY.get(key)
            elif key in BY_SEX and sex in BY_SEX[key]:
                form = BY_SEX[key][sex]
            else:
                form = _GIVEN.get(key)
        elif key in _FORMS and all(_spelling(w) != _spelling(f) for f in _FORMS[key]):
            form = _closest(w, _FORMS[key])
        out.append(read if not form else form.upper() if upper else form.capitalize())
    restored = " ".join(out)
    return restored if restored != value else None


def restore_names(docs: list, types: dict[tuple[str, str], str]) -> None:
    """Every name still without some of its accents after the exact sources and the other
    documents had their say gets the likely ones, and goes to review saying so."""
    from models.records import Reading

    for d in docs:
        sex = d.field("sex")
        for f in d.fields:
            if types.get((d.doctype, f.name)) != "person_name" or not f.value:
                continue
            restored = restore_name(f.value, sex.value if sex is not None else None)
            if restored is None:
                continue
            f.readings.append(Reading(value=f.value, source=f.source, confidence=f.confidence))
            f.value = restored
            if RESTORED not in f.problems:
                f.problems.append(RESTORED)
