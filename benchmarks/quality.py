"""Colour quality on photos from sources a model never trained on, beside grey.

    python benchmarks/quality.py [--model M.onnx ...] [--data DIR ...] [--json F]

Every photo below the --data folders (default: the held-out validation
sources, ../shared/data/more-photos and ../shared/data/open-photos/kphotoalbum,
which the bundled model's training run keeps out of training) is made grey,
colorized at full size with `filmcolor evaluate`'s code, and compared with its
original. One row per model:

- mean PSNR, CIEDE2000 and colourfulness, with the grey baseline's (a = b = 0)
  and the truth's colourfulness;
- on how many photos the colour beats grey (PSNR; CIEDE2000);
- neutral stays neutral: the mean chroma (C*ab) the result gives to pixels
  that are neutral in the truth (C*ab < 5: white walls, grey streets, steel,
  paper), over the photos where at least 5% of the pixels are; the truth
  gives them < 5 by definition, grey 0. Also the photos whose truth has
  colourfulness below --neutral (15, "not colourful" on Hasler and
  Suesstrunk's scale): how colourful the result is there, and on how many it
  stays below that line too.

Models are chosen by these figures. The reserved evaluation sources of
../shared/data/README.md must never be given here.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from common import REPO

from filmcolor import Colorizer
from filmcolor.evaluate import EvalOptions, beats_grey, evaluate, find_inputs

DATA = REPO.parent / "shared" / "data"
HELD_OUT = (DATA / "more-photos", DATA / "open-photos" / "kphotoalbum")
NEUTRAL = 15.0


def _mean(rows: list[dict], key: str) -> float:
    return float(np.mean([r[key] for r in rows])) if rows else float("nan")


def measure(model: str | None, photos: list[Path], neutral: float = NEUTRAL, size: int | None = None) -> dict:
    """The row of one model (None: the bundled one) over ``photos``."""
    colorizer = Colorizer.load(model, size=size)
    results = evaluate(colorizer, photos, EvalOptions(), on_error=lambda p, m: print(f"skipped {p}: {m}"))
    mean = {k: _mean(results, k) for k in
            ("psnr", "grey_psnr", "ciede2000", "grey_ciede2000", "colorfulness", "colorfulness_truth")}
    pale = [r for r in results if r["colorfulness_truth"] < neutral]
    greyish = [r for r in results if r["neutral_share"] >= 0.05]
    return {
        "model": model or "bundled",
        **mean,
        "wins": beats_grey(results),
        "neutral_pixel_photos": len(greyish),
        "neutral_pixel_chroma": _mean(greyish, "neutral_chroma"),
        "neutral_n": len(pale),
        "neutral_kept": sum(r["colorfulness"] < neutral for r in pale),
        **{f"neutral_{k}": _mean(pale, k) for k in ("colorfulness", "ciede2000", "grey_ciede2000")},
        "neutral_truth": _mean(pale, "colorfulness_truth"),
        "per_photo": results,
    }


def table(rows: list[dict]) -> str:
    lines = [
        "| model | PSNR (grey) | CIEDE2000 (grey) | colourfulness / truth | beats grey: PSNR, CIEDE2000 "
        "| chroma on neutral pixels | neutral photos: colourfulness (truth), stay neutral, CIEDE2000 (grey) |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        w = r["wins"]
        lines.append(
            f"| {Path(r['model']).parent.name or r['model']} | {r['psnr']:.2f} ({r['grey_psnr']:.2f}) "
            f"| {r['ciede2000']:.2f} ({r['grey_ciede2000']:.2f}) "
            f"| {r['colorfulness']:.1f} / {r['colorfulness_truth']:.1f} "
            f"({r['colorfulness'] / r['colorfulness_truth']:.0%}) "
            f"| {w['psnr']} and {w['ciede2000']} of {w['n']} "
            f"| {r['neutral_pixel_chroma']:.1f} ({r['neutral_pixel_photos']} photos) "
            f"| {r['neutral_colorfulness']:.1f} ({r['neutral_truth']:.1f}), {r['neutral_kept']} of {r['neutral_n']}, "
            f"{r['neutral_ciede2000']:.2f} ({r['neutral_grey_ciede2000']:.2f}) |"
        )
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", action="append", help="an .onnx model file (repeatable; default: bundled)")
    ap.add_argument("--data", action="append", type=Path, help="folders of colour photos (repeatable)")
    ap.add_argument("--neutral", type=float, default=NEUTRAL)
    ap.add_argument("--size", type=int, default=None, help="network's short side (default: the model's)")
    ap.add_argument("--json", type=Path, help="also write every figure, per photo too")
    args = ap.parse_args()
    photos = [p for p in find_inputs(args.data or list(HELD_OUT), recursive=True) if p.is_file()]
    if not photos:  # e.g. run from a checkout with no ../shared beside it
        raise SystemExit(f"no photos under {', '.join(map(str, args.data or HELD_OUT))}: give --data")
    rows = [measure(m, photos, args.neutral, args.size) for m in (args.model or [None])]
    print(f"{len(photos)} photos; neutral: truth colourfulness < {args.neutral:g}")
    print(table(rows))
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
