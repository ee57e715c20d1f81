"""The shop-receipt benchmark's generator and scoring, without OCR."""

from __future__ import annotations

from bench.receipts import FIELDS, SEEDS, Outcome, make_receipt, score


def test_a_receipt_depends_only_on_its_seed_and_index() -> None:
    """GIVEN the dev seed
    WHEN receipt 3 is made twice, and receipt 3 of the test seed once
    THEN the two dev ones are the same image and truth, the test one another receipt."""
    a, b = make_receipt(SEEDS["dev"], 3), make_receipt(SEEDS["dev"], 3)
    assert a.truth == b.truth and a.lines == b.lines
    assert a.image is not None and b.image is not None
    assert a.image.tobytes() == b.image.tobytes()
    other = make_receipt(SEEDS["test"], 3)
    assert (other.truth, other.look) != (a.truth, a.look)


def test_the_truth_is_what_the_receipt_prints() -> None:
    """GIVEN a few receipts
    THEN each truth names the shop, its address, an ISO date and a decimal total printed on
    it (the receipt number where the shop prints one)."""
    for i in range(4):
        r = make_receipt(SEEDS["dev"], i)
        printed = "\n".join(r.lines)
        assert set(r.truth) <= set(FIELDS) and len(r.truth) >= 4
        assert r.truth["company_name"] in printed
        assert all(line in printed for line in r.truth["company_address"].split(", ")[:1])
        assert len(r.truth["date"]) == 10 and r.truth["date"][4] == "-"
        assert r.truth["total"] in printed.replace(",", "")
        if "receipt_no" in r.truth:
            assert r.truth["receipt_no"] in printed


def test_fields_exact_counts_only_fields_with_a_truth() -> None:
    truth = {"company_name": "A SHOP", "company_address": "1 ROAD", "date": "2018-01-05",
             "total": "9.10"}
    got = Outcome(0, "A SHOP", "clean", "shop_receipt_en", truth,
                  {"company_name": "A  SHOP", "company_address": "1 ROAD.",
                   "date": "2018-01-05", "total": None, "receipt_no": "123"})
    s = score([got])
    assert s["company_name"] == (1, 1) and s["company_address"] == (0, 1)
    assert "receipt_no" not in s and s["all"] == (2, 4)
