"""The card's machine-readable zone rebuilt from OCR's reading: structure, check digits and
the redundancy of the zone undo OCR's slips; nothing is guessed where the checks cannot tell."""

from __future__ import annotations

from datetime import date

from extraction.mrz import check_digit, name_line, rebuild_td1
from sample_scans.generator.cards import mrz_lines
from sample_scans.generator.data import Address, Person

PERSON = Person(name="Trần Đức Ngọc", sex="Nam", dob=date(2001, 3, 9),
                citizen_id="079201004321",
                origin=Address("Xã An Phú, Huyện Củ Chi, Thành phố Hồ Chí Minh",
                               "An Phú, Củ Chi, Hồ Chí Minh", "Thành phố Hồ Chí Minh", "79"),
                residence=Address("5 Lê Lợi, Phường Bến Nghé, Quận 1, Thành phố Hồ Chí Minh",
                                  "5 Lê Lợi, Bến Nghé, Quận 1, Hồ Chí Minh",
                                  "Thành phố Hồ Chí Minh", "79"),
                ethnicity="Kinh")
LINES = mrz_lines(PERSON, date(2026, 3, 9))


def test_check_digit_follows_icao_9303() -> None:
    # ICAO 9303 part 3's worked examples.
    assert check_digit("L898902C3") == "6"
    assert check_digit("740812") == "2"
    assert check_digit("<<<<<<") == "0"


def test_clean_zone_is_given_back_unchanged() -> None:
    assert rebuild_td1(LINES) == LINES
    assert rebuild_td1(mrz_lines(PERSON, None)) == mrz_lines(PERSON, None)


def test_lost_and_misread_fillers_and_letter_digit_swaps_are_undone() -> None:
    """GIVEN the zone as OCR reads small monospace print: filler runs shortened or read as
    «, K or (, an O for a 0 in a number, a 0 for an O in the name, spaces inside a line
    WHEN it is rebuilt THEN it is the printed zone exactly."""
    read = [LINES[0].replace("<<<", "«<").replace("0", "O", 1)[:10] + " " + LINES[0][10:-3],
            LINES[1].replace("<<<<<<<<<<<", "<<<(<<<"),
            LINES[2].replace("O", "0").rstrip("<") + "KKKKKK<<"]
    assert rebuild_td1(read) == LINES


def test_one_wrong_digit_is_repaired_when_only_one_repair_holds() -> None:
    """GIVEN a wrong digit in the document number (printed twice) or in the expiry date
    WHEN the zone is rebuilt THEN the check digits and the repeated number put it right."""
    doc_slip = [LINES[0][:9] + ("7" if LINES[0][9] != "7" else "1") + LINES[0][10:],
                LINES[1], LINES[2]]
    assert rebuild_td1(doc_slip) == LINES
    exp_slip = [LINES[0], LINES[1][:12] + ("8" if LINES[1][12] != "8" else "3") + LINES[1][13:],
                LINES[2]]
    assert rebuild_td1(exp_slip) == LINES


def test_unrepairable_or_foreign_zone_gives_nothing() -> None:
    two_slips = [LINES[0], LINES[1][:2] + "99" + LINES[1][4:], LINES[2]]
    assert rebuild_td1(two_slips) is None
    bad_final = [LINES[0], LINES[1][:-1] + str((int(LINES[1][-1]) + 1) % 10), LINES[2]]
    assert rebuild_td1(bad_final) is None
    assert rebuild_td1(["P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<", "x", "y"]) is None
    assert rebuild_td1(LINES[:2]) is None


def test_name_line_puts_two_fillers_after_the_surname() -> None:
    assert name_line(["TRAN", "DUC", "NGOC"]) == "TRAN<<DUC<NGOC" + "<" * 16
    assert LINES[2] == name_line(["TRAN", "DUC", "NGOC"])


def test_card_without_expiry_is_parsed() -> None:
    """GIVEN the zone of a card that never expires (fillers for the expiry date)
    WHEN it is parsed THEN its fields come out, with no expiry date."""
    from extraction.sources import parse_mrz

    lines = mrz_lines(PERSON, None)
    data = parse_mrz(lines)
    assert data is not None and data.values["mrz"] == "\n".join(lines)
    assert data.values["citizen_id"] == "079201004321"
    assert data.values["date_of_birth"] == "2001-03-09"
    assert "expiry_date" not in data.values
