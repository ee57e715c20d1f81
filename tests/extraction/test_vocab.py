"""Values from a known set get back what OCR lost: the accents of a vocabulary's words, the exact
text of one of a few fixed choices; an ambiguous or distant reading is left as read."""

from __future__ import annotations

from extraction.vocab import restore_bare_syllables, restore_words, snap_choice, snap_prefix

OFFICES = ["CỤC TRƯỞNG CỤC CẢNH SÁT ĐKQL CƯ TRÚ VÀ DLQG VỀ DÂN CƯ",
           "CỤC TRƯỞNG CỤC CẢNH SÁT QUẢN LÝ HÀNH CHÍNH VỀ TRẬT TỰ XÃ HỘI", "BỘ CÔNG AN"]


def test_reading_without_accents_or_with_a_slip_snaps_to_its_choice() -> None:
    assert snap_choice("CỤC TRƯỞNG CỤC CẢNH SÁT ĐKQL CƯ TRU VA DLQG VỀ DÂN CƯ", OFFICES)[0] \
        == OFFICES[0]
    hit = snap_choice("CUC TRUONG CUC CANH SAT QUAN LY HANH CHINH VE TRAT TU XA H0I", OFFICES)
    assert hit is not None and hit[0] == OFFICES[1] and hit[1] < 1.0
    assert snap_choice("Bộ Công an", OFFICES) == ("BỘ CÔNG AN", 1.0)


def test_reading_that_runs_on_past_a_choice_is_that_choice() -> None:
    assert snap_choice("BỘ CONG AN MINISTRY OF PUBLIC SECURITY", OFFICES) == ("BỘ CÔNG AN", 1.0)


def test_distant_or_partial_reading_is_not_snapped() -> None:
    assert snap_choice("CỤC TRƯỞNG CỤC CẢNH SÁT", OFFICES) is None
    assert snap_choice("GIÁM ĐỐC CÔNG AN TỈNH NAM ĐỊNH", OFFICES) is None
    assert snap_choice("anything", []) is None


def test_words_get_their_accents_back_in_the_reading_case() -> None:
    words = ["Sẹo", "chấm", "trên", "đầu", "lông", "mày", "phải", "mắt", "mặt"]
    assert restore_words("Seo chầm C:0,5cm tren đầu long may phai", words) == (
        "Sẹo chấm C:0,5cm trên đầu lông mày phải", 6)
    # "mat" is both "mắt" (eye) and "mặt" (face): left as read.
    assert restore_words("SEO MAT", words) == ("SẸO MAT", 1)
    assert restore_words("Hà Nội", words) == ("Hà Nội", 0)
    # "duoi" is "dưới" (below) or "đuôi" (tail): the accents read tell which.
    assert restore_words("đưới đuoi", ["dưới", "đuôi"]) == ("dưới đuôi", 2)


LEGAL_FORMS = ["CÔNG TY TNHH MỘT THÀNH VIÊN", "CÔNG TY TNHH", "CÔNG TY CỔ PHẦN"]


def test_a_value_starting_with_a_known_prefix_gets_it_written_as_known() -> None:
    """The longest prefix that fits word by word is written as known, in the reading's case;
    the words after it (the enterprise's own name) stay as read."""
    assert snap_prefix("CONG TY TNHH MOT THÀNH VIÊN NÔNG SẢN", LEGAL_FORMS) == \
        "CÔNG TY TNHH MỘT THÀNH VIÊN NÔNG SẢN"
    assert snap_prefix("CÔNG TY CỐ PHAN DU LICH", LEGAL_FORMS) == "CÔNG TY CỔ PHẦN DU LICH"
    assert snap_prefix("Công ty cổ phan An Phát", LEGAL_FORMS) == "Công ty cổ phần An Phát"


def test_a_value_not_starting_with_a_known_prefix_is_left_as_read() -> None:
    assert snap_prefix("CÔNG TY THỰC PHẨM NAM", LEGAL_FORMS) == "CÔNG TY THỰC PHẨM NAM"
    assert snap_prefix("CÔNG", LEGAL_FORMS) == "CÔNG"


def test_identifying_marks_read_with_slips_get_their_words_and_distance_back() -> None:
    """GIVEN a card back's identifying marks read with a letter slipped in a word and the
    distance's unit misread WHEN its fields are known-valued THEN both are written right; a
    slip two words fit alike is left as read."""
    from extraction.doctypes import load_doctypes
    from extraction.fields import _known_values
    from models.records import ExtractedField

    back = next(d for d in load_doctypes() if d.id == "cccd_back")
    fdef = next(f for f in back.fields if f.name == "identifying_marks")
    for read, right in [("Nốt rudi C:1,5em dưới sau mép phải", "Nốt ruồi C:1,5cm dưới sau mép phải"),
                        ("Sẹo chấm C:lem dưéi trước cánh mũi phải",
                         "Sẹo chấm C:1cm dưới trước cánh mũi phải"),
                        ("Mốt ruồi C:3cm trên", "Mốt ruồi C:3cm trên")]:
        f = ExtractedField(name=fdef.name, value=read)
        _known_values(fdef, f)
        assert f.value == right


def test_bare_syllables_take_the_accents_of_the_word_beside_them() -> None:
    """GIVEN free text where OCR lost the accents of some syllables
    WHEN it is restored from the word list THEN a bare syllable beside a neighbour it forms a
    known word with gets that word's accents, in the reading's case; one the list leaves
    ambiguous, or text with no accent at all, stays as read."""
    assert restore_bare_syllables("Dang ký biến động quyền sử dung đất") == (
        "Đăng ký biến động quyền sử dụng đất", 2)
    assert restore_bare_syllables("CÔNG TY TNHH DU LICH MINH KHANG") == (
        "CÔNG TY TNHH DU LỊCH MINH KHANG", 1)
    # Both syllables bare: đăng ký or đang ký, so neither changes.
    assert restore_bare_syllables("Dang ky thường trú") == ("Dang ky thường trú", 0)
    assert restore_bare_syllables("Total amount due") == ("Total amount due", 0)
    # Punctuation between two syllables: not one word.
    assert restore_bare_syllables("sử, dung đất")[0] == "sử, dung đất"
