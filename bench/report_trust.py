"""The benchmark report's trust section: per field type, how often auto-accepted values are
right, how many go to review, how well confidence matches accuracy (ECE), and a reliability
plot. Kept apart from ``bench.report`` so each changes on its own."""

from __future__ import annotations

from pathlib import Path

__all__ = ["trust_markdown", "trust_plots"]

TARGET = 0.995


def _pct(x: float | None) -> str:
    return "–" if x is None else f"{100 * x:.1f} %"


def _num(x: float | None, fmt: str = ".3f") -> str:
    return "–" if x is None else format(x, fmt)


def trust_plots(summary: dict, target: Path) -> dict[str, str]:
    trust = summary.get("trust")
    if not trust:
        return {}
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return {}
    kinds = [k for k, v in trust["by_kind"].items() if v["found"] >= 10]
    panels = [("all types", trust["reliability"])] + [(k, trust["by_kind"][k]["reliability"])
                                                      for k in kinds]
    cols = min(4, len(panels))
    rows = (len(panels) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 3.0 * rows), squeeze=False)
    for ax, (name, bins) in zip(axes.flat, panels, strict=False):
        pts = [b for b in bins if b["n"]]
        ax.plot([0, 1], [0, 1], color="grey", lw=1, ls="--")
        ax.bar([b["lo"] + 0.05 for b in pts], [b["accuracy"] for b in pts], width=0.09,
               alpha=0.6, label="share right")
        ax.plot([b["confidence"] for b in pts], [b["accuracy"] for b in pts], "o-", ms=3)
        for b in pts:
            ax.annotate(str(b["n"]), (b["lo"] + 0.05, 0.02), ha="center", fontsize=6)
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1.02)
        ax.set_title(name, fontsize=9)
        ax.set_xlabel("confidence", fontsize=8)
        ax.set_ylabel("share right", fontsize=8)
    for ax in list(axes.flat)[len(panels):]:
        ax.axis("off")
    fig.tight_layout()
    fig.savefig(target / "reliability.png", dpi=110)
    plt.close(fig)
    return {"reliability": "reliability.png"}


def trust_markdown(summary: dict, plots: dict[str, str]) -> list[str]:
    trust = summary.get("trust")
    if not trust:
        return []
    o = trust["overall"]
    th = trust["threshold"]
    L = ["### Trust: calibrated confidence and the auto-accept rule", ""]
    L += [f"Each found value's confidence is a calibrated probability of being right "
          f"(`extraction/calibration.json`, trained on the dev split by "
          f"`python -m bench.trust train`). A value is accepted automatically when that "
          f"probability is at least **{_num(th, '.4f')}**, no validator objects and no other "
          f"reading disagrees; otherwise it goes to review. Target: accepted values right "
          f"at least {100 * TARGET:.1f} % of the time.", ""]
    met = o["accepted_precision"] is not None and o["accepted_precision"] >= TARGET
    L += [f"Over **{o['found']}** found values: **{o['accepted']}** accepted, right "
          f"**{_pct(o['accepted_precision'])}** ({o['accepted'] - o['accepted_right']} wrong; "
          f"target {'met' if met else 'NOT met'}); **{_pct(o['review_share'])}** routed to "
          f"review; expected calibration error {_num(o['ece'])}.", ""]
    rows = []
    for k, v in trust["by_kind"].items():
        rows.append([k, str(v["found"]), _pct(v["right"] / v["found"] if v["found"] else None),
                     str(v["accepted"]), _pct(v["accepted_precision"]),
                     _pct(v["review_share"]), _num(v["ece"])])
    rows.append(["**all**", str(o["found"]), _pct(o["right"] / o["found"] if o["found"] else None),
                 str(o["accepted"]), _pct(o["accepted_precision"]), _pct(o["review_share"]),
                 _num(o["ece"])])
    header = ["field type", "found", "right", "auto-accepted", "accepted right",
              "review share", "ECE"]
    L += ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    L += ["| " + " | ".join(r) + " |" for r in rows] + [""]
    st = trust.get("straight_through")
    if st:
        L += [f"**Documents settled with no person** (every field accepted: none to review, "
              f"none missing): **{st['settled']}** of {st['documents']} "
              f"({_pct(st['share'])}), on a first visit (nothing verified before). "
              f"`python -m bench.trust eval --split test --scenario returning` measures "
              f"citizens whose papers were verified before.", ""]
        header = ["document type", "documents", "settled alone", "values to review",
                  "accepted right", "fields holding it most"]
        L += ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
        for t, v in st["by_doctype"].items():
            held = ", ".join(f"{n} {c}" for n, c in v["held_by"][:3])
            L.append(f"| {t} | {v['documents']} | {v['settled']} ({_pct(v['share'])}) | "
                     f"{_pct(v['review_share'])} | {_pct(v['accepted_precision'])} | {held} |")
        L.append("")
    if "reliability" in plots:
        L += ["Reliability: per confidence bin, the share of values that are right (bars) "
              "against the bin's mean confidence (dots); on the diagonal is calibrated. "
              "Numbers are values per bin.", "", f"![Reliability]({plots['reliability']})", ""]
    return L
