"""Command line: python -m sample_scans.generator --out DIR --dossiers N --seed S --split dev."""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from pathlib import Path

from . import CONTAINERS, DOCTYPES, LEVELS, generate_corpus


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m sample_scans.generator",
                                 description="Generate synthetic scanned dossiers with ground truth.")
    ap.add_argument("--out", required=True, type=Path, help="output directory")
    ap.add_argument("--dossiers", required=True, type=int, help="number of dossiers")
    ap.add_argument("--seed", required=True, type=int)
    ap.add_argument("--split", choices=("dev", "test"), default="dev")
    ap.add_argument("--doctypes", default="", help=f"comma-separated subset of: {','.join(DOCTYPES)}")
    ap.add_argument("--containers", default="", help=f"comma-separated subset of: {','.join(CONTAINERS)}")
    ap.add_argument("--degradation", choices=LEVELS, default="mixed")
    args = ap.parse_args(argv)
    doctypes = [d for d in args.doctypes.split(",") if d] or None
    containers = [c for c in args.containers.split(",") if c] or None
    t0 = time.perf_counter()
    try:
        manifest = generate_corpus(args.out, dossiers=args.dossiers, seed=args.seed, split=args.split,
                                   doctypes=doctypes, containers=containers, degradation=args.degradation)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    data = json.loads(manifest.read_text(encoding="utf-8"))
    pages = sum(d["pages"] for d in data["dossiers"])
    secs = time.perf_counter() - t0
    print(f"{len(data['dossiers'])} dossiers, {pages} pages in {secs:.1f} s -> {manifest}")
    for kind, counter in (("container", Counter(d["container"] for d in data["dossiers"])),
                          ("doctype", Counter(t for d in data["dossiers"] for t in d["doctypes"]))):
        print(f"  by {kind}: " + ", ".join(f"{k} {v}" for k, v in sorted(counter.items())))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
