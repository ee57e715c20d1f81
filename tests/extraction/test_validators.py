"""Field parsers turn OCR text into normalized, validated values."""

from __future__ import annotations

import pytest

from extraction.validators import check_citizen_id, parse_value, province_codes


def test_province_codes_come_from_the_admin_units_table():
    codes = province_codes()
    assert len(codes) == 63
    assert {"001", "079", "048", "096"} <= codes
    assert "003" not in codes  # no province has code 03


@pytest.mark.parametrize("raw,value", [
    ("079085001234", "079085001234"),
    ("CCCD số 079O85 OO1234", "079085001234"),  # O read for 0, split in groups
    ("Số: 001 190 012 345", "001190012345"),
])
def test_citizen_id_is_repaired_and_accepted(raw, value):
    parsed = parse_value("citizen_id", raw)
    assert parsed.value == value and parsed.valid


def test_citizen_id_with_unknown_province_goes_to_review():
    parsed = parse_value("citizen_id", "003085001234")
    assert parsed.value == "003085001234"
    assert not parsed.valid and "province" in parsed.problems[0]


def test_citizen_id_birth_year_must_match():
    assert check_citizen_id("079085001234", 1985) == []
    assert check_citizen_id("079085001234", 1986)  # 0 + 85 -> 1985
    assert check_citizen_id("079203001234", 2003) == []  # 2 = male born in the 2000s


@pytest.mark.parametrize("raw,iso", [
    ("12/03/1985", "1985-03-12"),
    ("05-11-2024", "2024-11-05"),
    ("ngày 05 tháng 11 năm 2024", "2024-11-05"),
    ("Ngày O5/11/2O24", "2024-11-05"),
])
def test_dates_in_both_notations(raw, iso):
    assert parse_value("date", raw).value == iso


def test_impossible_date_is_flagged():
    parsed = parse_value("date", "31/02/2020")
    assert not parsed.valid


def test_card_name_stops_at_the_next_label():
    assert parse_value("person_name", "NGUYỄN VĂN AN Năm sinh: 1990").value == "NGUYỄN VĂN AN"
    assert parse_value("person_name", "Trần Thị Cúc").value == "Trần Thị Cúc"


def test_single_word_name_is_suspicious():
    assert not parse_value("person_name", "An").valid


def test_sex_in_both_languages():
    assert parse_value("sex", "Nữ").value == "Nữ"
    assert parse_value("sex", "Male").value == "Nam"
    assert parse_value("sex", "???").value is None


def test_leaders_are_trimmed_from_text():
    assert parse_value("text", ": Kinh ..........").value == "Kinh"


def test_text_value_stops_at_a_written_date_and_survives_long_leaders():
    from extraction.validators import parse_value

    assert parse_value("text", "Xã Long Hòa, ngày 21 tháng 01 năm 2024").value == "Xã Long Hòa"
    assert parse_value("text", "Ngày 21 tháng 01 năm 2024").value == "Ngày 21 tháng 01 năm 2024"
    # A nested-quantifier regex once took minutes on a run like this one.
    assert parse_value("text", "Việt Nam" + "." * 5000 + "x").value.startswith("Việt Nam")


@pytest.mark.parametrize("raw,name", [
    ("H’HEN NIÊ Ngày sinh: 1990", "H’HEN NIÊ"),  # typographic apostrophe (U+2019)
    ("H'Hen Niê", "H'Hen Niê"),
])
def test_names_with_an_apostrophe_are_read_whole(raw, name):
    parsed = parse_value("person_name", raw)
    assert parsed.value == name and parsed.valid
