"""The benchmark's trust section: per field type auto-accept precision, review share, ECE and a
reliability plot, from hand-made outcomes."""

from __future__ import annotations

from pathlib import Path

from bench.report_trust import trust_markdown, trust_plots
from bench.trust import Scored, trust_figures
from models.records import FieldStatus


def _items() -> list[Scored]:
    acc, rev = FieldStatus.accepted, FieldStatus.review
    dates = [Scored("t", "d", "date", 0.99, acc, True) for _ in range(9)]
    dates.append(Scored("t", "d", "date", 0.4, rev, False))
    names = [Scored("t", "n", "person_name", 0.97, acc, True),
             Scored("t", "n", "person_name", 0.97, acc, False),
             Scored("t", "n", "person_name", 0.3, rev, True),
             Scored("t", "n", "person_name", 0.3, rev, False)]
    return dates + names


def test_figures_per_field_type() -> None:
    fig = trust_figures(_items(), 0.95)
    d, n, o = fig["by_kind"]["date"], fig["by_kind"]["person_name"], fig["overall"]
    assert (d["accepted"], d["accepted_precision"], d["review_share"]) == (9, 1.0, 0.1)
    assert (n["accepted"], n["accepted_precision"], n["review_share"]) == (2, 0.5, 0.5)
    assert o["found"] == 14 and o["accepted_right"] == 10
    # dates: 9 at 0.99 all right (|1-0.99|), 1 at 0.4 wrong (|0-0.4|)
    assert abs(d["ece"] - (9 * 0.01 + 0.4) / 10) < 1e-9


def test_report_section_and_plot(tmp_path: Path) -> None:
    summary = {"trust": trust_figures(_items(), 0.95)}
    plots = trust_plots(summary, tmp_path)
    text = "\n".join(trust_markdown(summary, plots))
    assert "| date | 10 | 90.0 % | 9 | 100.0 % | 10.0 % |" in text
    assert "target NOT met" in text  # 10 of 11 accepted right: 90.9 %
    if plots:  # matplotlib is a bench extra
        assert (tmp_path / "reliability.png").stat().st_size > 1000
        assert "![Reliability](reliability.png)" in text
