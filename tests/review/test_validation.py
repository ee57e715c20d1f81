"""The checks on values a person types (the review page's script applies the same ones), and
what a decision does with values of several lines, names with apostrophes and each person's
ID against their own birth date."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from models.records import AuditAction, ExtractedField, FieldStatus, Record, RecordStatus
from review.lifecycle import FieldAction, FieldDecision, ValueRefused, apply_decisions
from review.validation import Problem, birth_pairs, check, check_value, nfc

AT = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
MRZ = ("IDVNM0698797208034069879720<<<\n6902070M2902072VNM<<<<<<<<<<<3\n"
       "PHAN<<TUAN<<<<<<<<<<<<<<<<<<<<")
MARRIAGE_KINDS = {"wife_name": "person_name", "wife_date_of_birth": "date",
                  "husband_date_of_birth": "date", "wife_id": "citizen_id",
                  "husband_id": "citizen_id"}


def marriage() -> Record:
    """The wife born 1992 (her ID says so), the husband born 1990 (his printed ID: 1989)."""
    return Record(record_id="M1-01", dossier_id="M1", batch_id="B1",
                  doctype="marriage_registration", status=RecordStatus.needs_review, fields=[
                      ExtractedField(name="wife_name", value="H’Hen Niê",
                                     status=FieldStatus.review),
                      ExtractedField(name="wife_date_of_birth", value="1992-07-15",
                                     status=FieldStatus.accepted),
                      ExtractedField(name="husband_date_of_birth", value="1990-05-01",
                                     status=FieldStatus.accepted),
                      ExtractedField(name="wife_id", value="066192012345",
                                     status=FieldStatus.review),
                      ExtractedField(name="husband_id", value="066089012345",
                                     status=FieldStatus.review)])


@pytest.mark.parametrize("name", ["H’Hen Niê", "H'Hen Niê", "Y Moan Êban", "Lê Thị-Hoa",
                                  "HʼHen Niê"])
def test_names_with_an_apostrophe_typographic_or_ascii_are_names(name: str) -> None:
    assert check_value("person_name", name) == (name, [])


@pytest.mark.parametrize("name", ["'Hen Niê", "H’ Niê", "H’’Hen Niê", "Nguyễn A²", "Văn 2"])
def test_an_apostrophe_joins_letters_only(name: str) -> None:
    assert check("person_name", name).problems == [Problem.name_letters]


def test_dates_are_real_days_of_plausible_years() -> None:
    assert check("date", "01/01/1800").problems == [Problem.date_range]
    assert check("date", "01/01/1800").value == "1800-01-01"
    assert check("date", "29/02/1900").problems == [Problem.date_real]
    assert check("date", "29/02/2000") == check("date", "2000-2-29")
    assert check("date", "0050-01-01").problems == [Problem.date_range]
    assert check("date", "0000-01-01").problems == [Problem.date_real]


def test_ids_are_twelve_ascii_digits() -> None:
    assert check("citizen_id", "066 192 012 345").value == "066192012345"
    assert check("citizen_id", "０６６１９２０１２３４５").problems == [Problem.id12]
    assert check("citizen_id", "003692012345").problems == [Problem.province, Problem.century]
    assert check("number", "١٢").problems == [Problem.digits]


def test_values_of_several_lines_keep_their_line_breaks() -> None:
    assert nfc(" A  B \r\n\n C\u00a0 ", multiline=True) == "A B\nC"
    assert nfc(" A  B \n C ") == "A B C"
    assert check_value("mrz", MRZ) == (MRZ, [])


def test_each_persons_id_pairs_with_their_own_birth_date() -> None:
    assert birth_pairs(MARRIAGE_KINDS) == {
        "wife_id": "wife_date_of_birth", "wife_date_of_birth": "wife_id",
        "husband_id": "husband_date_of_birth", "husband_date_of_birth": "husband_id"}
    assert birth_pairs({"citizen_id": "citizen_id", "date_of_birth": "date",
                        "expiry_date": "date"}) == {"citizen_id": "date_of_birth",
                                                    "date_of_birth": "citizen_id"}
    assert birth_pairs({"id_number_2": "citizen_id", "date_of_birth_2": "date",
                        "declarant_id": "citizen_id", "child_date_of_birth": "date"}) == {
        "id_number_2": "date_of_birth_2", "date_of_birth_2": "id_number_2"}
    # Two birth dates for one ID: no guess.
    assert birth_pairs({"citizen_id": "citizen_id", "date_of_birth": "date",
                        "birth_date": "date"}) == {}


def test_every_problem_has_a_message_on_the_page() -> None:
    from api.web.i18n import use_lang
    from api.web.review_pages import _strings

    for lang in ("vi", "en"):
        use_lang(lang)
        strings = _strings()
        assert all(strings.get(p) for p in Problem), lang
    use_lang(None)


def test_a_value_of_several_lines_left_as_it_is_is_confirmed() -> None:
    """
    GIVEN a card back whose MRZ (three lines) waits for a person
    WHEN it is sent back exactly as stored, then with a line changed
    THEN the first is a confirmation (the audit says so), the second a correction that keeps
         the three lines
    """
    rec = Record(record_id="C1-02", dossier_id="C1", batch_id="B1", doctype="cccd_back",
                 status=RecordStatus.needs_review,
                 fields=[ExtractedField(name="mrz", value=MRZ, status=FieldStatus.review)])
    kinds = {"mrz": "mrz"}
    same, [e] = apply_decisions(rec, [FieldDecision(field="mrz", action=FieldAction.correct,
                                                    value=MRZ)], "an", AT, kinds)
    assert same.field("mrz").value == MRZ and same.field("mrz").status == FieldStatus.confirmed
    assert (e.action, e.old_value, e.new_value) == (AuditAction.confirmed, MRZ, MRZ)
    fixed = MRZ[:-1] + "1"
    new, [e] = apply_decisions(rec, [FieldDecision(field="mrz", action=FieldAction.correct,
                                                   value=fixed + "\n")], "an", AT, kinds)
    assert new.field("mrz").value == fixed and new.field("mrz").status == FieldStatus.corrected
    assert e.action == AuditAction.corrected


def test_each_persons_id_is_checked_against_their_own_birth_date() -> None:
    """
    GIVEN a marriage registration whose husband's printed ID says 1989, his birth date 1990
    WHEN the husband's ID is confirmed, then confirmed as printed; the wife's confirmed;
         a wrong year typed for the wife's ID
    THEN the first is refused and may be kept as printed; kept so, the audit says the document
         says so; the wife's matches her own birth date; the typed one is refused
    """
    rec = marriage()
    confirm = FieldDecision(field="husband_id", action=FieldAction.confirm)
    with pytest.raises(ValueRefused, match="date of birth") as refused:
        apply_decisions(rec, [confirm], "an", AT, MARRIAGE_KINDS)
    assert refused.value.problems == [Problem.id_birth] and refused.value.as_printed
    kept, [e] = apply_decisions(rec, [FieldDecision(field="husband_id", action=FieldAction.confirm,
                                                    as_printed=True)], "an", AT, MARRIAGE_KINDS)
    assert kept.field("husband_id").status == FieldStatus.confirmed
    assert e.action == AuditAction.confirmed and e.reason == (
        "the document says so: the year in the ID does not match the date of birth")
    _, [e] = apply_decisions(rec, [FieldDecision(field="wife_id", action=FieldAction.confirm)],
                             "an", AT, MARRIAGE_KINDS)
    assert e.action == AuditAction.confirmed and e.reason is None
    with pytest.raises(ValueRefused) as refused:
        apply_decisions(rec, [FieldDecision(field="wife_id", action=FieldAction.correct,
                                            value="066193012345")], "an", AT, MARRIAGE_KINDS)
    assert refused.value.field == "wife_id"
    # as_printed overrides that one check only.
    with pytest.raises(ValueRefused, match="12 digits"):
        apply_decisions(rec, [FieldDecision(field="wife_id", action=FieldAction.correct,
                                            value="0661930123", as_printed=True)], "an", AT,
                        MARRIAGE_KINDS)


def test_a_birth_date_waits_for_the_ids_decision() -> None:
    """
    GIVEN an ID and a birth date that disagree, both waiting for a person
    WHEN the birth date is confirmed first, then the ID
    THEN the birth date is not held up by an ID nobody has checked; the ID, decided second,
         is checked against the confirmed birth date
    """
    rec = marriage()
    rec.field("husband_date_of_birth").status = FieldStatus.review
    rec, _ = apply_decisions(rec, [FieldDecision(field="husband_date_of_birth",
                                                 action=FieldAction.confirm)], "an", AT,
                             MARRIAGE_KINDS)
    with pytest.raises(ValueRefused):
        apply_decisions(rec, [FieldDecision(field="husband_id", action=FieldAction.confirm)],
                        "an", AT, MARRIAGE_KINDS)
    fixed, _ = apply_decisions(rec, [FieldDecision(field="husband_id", action=FieldAction.correct,
                                                   value="066090012345")], "an", AT,
                               MARRIAGE_KINDS)
    assert fixed.field("husband_id").status == FieldStatus.corrected
