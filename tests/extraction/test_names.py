"""Names read in capitals without their accents: the same name on another document of the
dossier lends them; failing that, the common form of each syllable, sent to review."""

from __future__ import annotations

from extraction.names import RESTORED, restore_name, restore_names
from extraction.sources import reconcile
from models.records import ExtractedDocument, ExtractedField, FieldSource, FieldStatus


def _doc(doctype: str, **values: str) -> ExtractedDocument:
    return ExtractedDocument(doctype=doctype, title=doctype, pages=[0], fields=[
        ExtractedField(name=k, value=v, confidence=0.9, status=FieldStatus.review)
        for k, v in values.items()])


def test_card_name_takes_accents_from_the_same_name_on_a_form() -> None:
    """GIVEN a card front whose number OCR lost and whose name lost its accents, and a
    receipt naming the same person WHEN the dossier is reconciled THEN the card's name has the
    accents, in capitals, and keeps its reading; an accent OCR did read stays."""
    card = _doc("cccd_front", full_name="NGUYEN THẾ THINH")
    receipt = _doc("receipt_appointment", applicant_name="Nguyễn Thế Thịnh")
    other = _doc("receipt_appointment", applicant_name="Nguyễn Thế Thành")
    reconcile([card, receipt, other])
    f = card.field("full_name")
    assert f.value == "NGUYỄN THẾ THỊNH"
    assert f.source == FieldSource.reconciled
    assert [r.value for r in f.readings] == ["NGUYEN THẾ THINH"]
    assert receipt.field("applicant_name").value == "Nguyễn Thế Thịnh"


def test_common_name_forms_by_position_and_sex() -> None:
    assert restore_name("NGUYEN VAN AN", "Nam") == "NGUYỄN VĂN AN"
    assert restore_name("TRAN THI HANG", "Nữ") == "TRẦN THỊ HẰNG"
    # THANH or THÀNH, HÙNG or HƯNG: left as read; accents OCR read stay.
    assert restore_name("PHAN THANH HUNG", "Nam") is None
    # Accents no name has: the name form of those letters closest to what was read.
    assert restore_name("NGUYỄN KHÁNH HÃNG", "Nữ") == "NGUYỄN KHÁNH HẰNG"
    assert restore_name("NGUYỄN QUỲNH CHỈ", "Nữ") == "NGUYỄN QUỲNH CHI"
    assert restore_name("LÊ HOÀI THU HÀ", "Nữ") is None
    # Printed with capitals only at the start of each word: the same, in that case.
    assert restore_name("Nguyễn Đức Thong", "Nam") == "Nguyễn Đức Thông"
    assert restore_name("Nguyen Van An", "Nam") == "Nguyễn Văn An"
    # The tone placed on either vowel (Hoà, Hòa) is the same name.
    assert restore_name("Trần Thị Hoà", "Nữ") is None
    assert restore_name("nguyen van an", "Nam") is None  # not written as a name


def test_restored_name_goes_to_review_saying_so() -> None:
    card = _doc("cccd_front", full_name="PHAM HOAI THU HA", sex="Nữ")
    restore_names([card], {("cccd_front", "full_name"): "person_name"})
    f = card.field("full_name")
    assert f.value == "PHẠM HOÀI THU HÀ"
    assert RESTORED in f.problems
    assert f.readings[0].value == "PHAM HOAI THU HA"


def test_card_without_number_takes_it_from_the_same_person_on_a_form() -> None:
    """GIVEN a card whose number OCR lost and a marriage form naming the same person with an
    ID number WHEN the dossier is reconciled THEN the card has that number, for review saying
    where it came from; with two people of that name (other dates of birth), nothing is
    taken."""
    from extraction.sources import ID_FROM_NAME

    card = _doc("cccd_front", citizen_id=None, full_name="NGUYEN THẾ THỊNH",
                date_of_birth="1985-07-03")
    form = _doc("marriage_registration", husband_name="Nguyễn Thế Thịnh",
                husband_id="049085161486", husband_date_of_birth="1985-07-03")
    reconcile([card, form])
    f = card.field("citizen_id")
    assert f.value == "049085161486" and f.status == FieldStatus.review
    assert f.problems == [ID_FROM_NAME] and f.source == FieldSource.reconciled

    card = _doc("cccd_front", citizen_id=None, full_name="NGUYEN THẾ THỊNH",
                date_of_birth="1990-01-01")
    form = _doc("marriage_registration", husband_name="Nguyễn Thế Thịnh",
                husband_id="049085161486", husband_date_of_birth="1985-07-03")
    reconcile([card, form])
    assert card.field("citizen_id").value is None


def test_unread_sex_comes_from_the_id_numbers_sex_digit() -> None:
    from extraction.sources import SEX_FROM_ID

    card = _doc("cccd_front", citizen_id="001190012345", sex=None)
    reconcile([card])
    f = card.field("sex")
    assert f.value == "Nữ" and f.status == FieldStatus.review and f.problems == [SEX_FROM_ID]
    card = _doc("cccd_front", citizen_id="079202095071", sex=None)
    reconcile([card])
    assert card.field("sex").value == "Nam"
