"""An ID number read on several documents of a dossier: a reading one digit off the others is
a misread, and is held for review with the others' reading shown."""

from __future__ import annotations

from extraction.confidence import held_for_review
from extraction.sources import reconcile
from models.records import ExtractedDocument, ExtractedField, FieldStatus


def _doc(doctype: str, **values: str) -> ExtractedDocument:
    return ExtractedDocument(doctype=doctype, title=doctype, pages=[0], fields=[
        ExtractedField(name=k, value=v, confidence=0.9, status=FieldStatus.review)
        for k, v in values.items()])


def test_an_id_one_digit_off_the_dossiers_other_readings_goes_to_review() -> None:
    """GIVEN a receipt and a form reading 025062068504 and a card front reading 025062068594
    WHEN the dossier is reconciled THEN the card's number is held for review with the
    receipt's reading beside it; the two agreeing readings are not."""
    receipt = _doc("receipt_appointment", applicant_id="025062068504")
    form = _doc("application_letter", citizen_id="025062068504")
    card = _doc("cccd_front", citizen_id="025062068594")
    reconcile([receipt, form, card])
    f = card.field("citizen_id")
    assert held_for_review(f)
    assert [(r.value, r.document) for r in f.readings] == [
        ("025062068504", "receipt_appointment")]
    assert f.value == "025062068594"  # the reviewer decides; nothing is overwritten
    assert not held_for_review(receipt.field("applicant_id"))
    assert not held_for_review(form.field("citizen_id"))


def test_two_readings_one_each_both_go_to_review_and_distant_numbers_stand() -> None:
    """One document against one: either may be the misread, both go to review. Two numbers
    differing in more than one digit are two people."""
    card = _doc("cccd_front", citizen_id="025062068594")
    form = _doc("application_letter", citizen_id="025062068504")
    reconcile([card, form])
    assert held_for_review(card.field("citizen_id"))
    assert held_for_review(form.field("citizen_id"))
    wife = _doc("marriage_registration", wife_id="001190012345", husband_id="001088054321")
    other = _doc("cccd_front", citizen_id="001190012399")
    reconcile([wife, other])
    assert not held_for_review(wife.field("wife_id"))
    assert not held_for_review(other.field("citizen_id"))
