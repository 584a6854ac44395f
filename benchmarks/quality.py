"""Colour quality on photos from sources a model never trained on, beside grey.

    python benchmarks/quality.py [--model M.onnx ...] [--half choose|report|all] [--data DIR ...] [--json F]

Every photo below the --data folders (default: a half of the held-out
sources, ../shared/data/more-photos and ../shared/data/open-photos/kphotoalbum,
which the training runs keep out of training; benchmarks/holdout.py says
which half chooses and which only reports) is made grey,
colorized at full size with `filmcolor evaluate`'s code, and compared with its
original. One row per model:

- mean PSNR, CIEDE2000 and colourfulness, with the grey baseline's (a = b = 0)
  and the truth's colourfulness;
- on how many photos the colour beats grey (PSNR; CIEDE2000);
- how sure "beats grey" is: the mean difference from grey in PSNR and
  CIEDE2000 with a 95% interval from resampling whole sources (a half's
  folders, or the sub-folders of each --data folder; photos of one source
  are alike, so they are drawn together), 2,000 draws;
- neutral stays neutral: the mean chroma (C*ab) the result gives to pixels
  that are neutral in the truth (C*ab < 5: white walls, grey streets, steel,
  paper), over the photos where at least 5% of the pixels are; the truth
  gives them < 5 by definition, grey 0. Also the photos whose truth has
  colourfulness below --neutral (15, "not colourful" on Hasler and
  Suesstrunk's scale): how colourful the result is there, and on how many it
  stays below that line too.

Runs, recipes and decodings are chosen by `--half choose`; the figures to
quote are `--half report`'s. The reserved evaluation sources of
../shared/data/README.md must never be given here.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from holdout import HALVES, folders

from filmcolor import Colorizer
from filmcolor.decoding import Decoding
from filmcolor.evaluate import EvalOptions, beats_grey, evaluate, find_inputs

NEUTRAL = 15.0


def _mean(rows: list[dict], key: str) -> float:
    return float(np.mean([r[key] for r in rows])) if rows else float("nan")


def parse_decoding(text: str) -> Decoding:
    """'T,GAIN[,CONFIDENCE]' -> Decoding."""
    try:
        return Decoding(*(float(v) for v in text.split(",")))
    except (TypeError, ValueError):
        raise argparse.ArgumentTypeError(f"expected T,GAIN[,CONFIDENCE] like 1.0,1.2,0.5. Got {text!r}") from None


def measure(model: str | None, photos: list[Path], neutral: float = NEUTRAL, size: int | None = None,
            decoding: Decoding | None = None) -> dict:
    """The row of one model (None: the bundled one) over ``photos``, decoded as
    ``decoding`` says (None: as the model says)."""
    colorizer = Colorizer.load(model, size=size, decoding=decoding)
    results = evaluate(colorizer, photos, EvalOptions(), on_error=lambda p, m: print(f"skipped {p}: {m}"))
    mean = {k: _mean(results, k) for k in
            ("psnr", "grey_psnr", "ciede2000", "grey_ciede2000", "colorfulness", "colorfulness_truth")}
    pale = [r for r in results if r["colorfulness_truth"] < neutral]
    greyish = [r for r in results if r["neutral_share"] >= 0.05]
    return {
        "model": model or "bundled",
        "decoding": [colorizer.decoding.temperature, colorizer.decoding.gain, colorizer.decoding.confidence],
        "size": colorizer.size,  # photos' short side: the model's photo size unless --size
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


def source_interval(per_photo: list[dict], sources: list[Path], key: str, draws: int = 2000,
                    seed: int = 0) -> tuple[float, float, float]:
    """(mean, low, high) of ``key`` minus grey's over the photos, the interval
    the 2.5th and 97.5th percentiles of the means of ``draws`` resamples of
    whole sources: a photo's source is the first of ``sources`` it lies in,
    else its folder."""
    groups: dict[str, list[float]] = {}
    for r in per_photo:
        if r.get("kind") == "mean":
            continue
        path = Path(r["path"])
        source = next((q for q in sources if path.is_relative_to(q)), path.parent)
        groups.setdefault(str(source), []).append(r[key] - r[f"grey_{key}"])
    sums = np.array([sum(v) for v in groups.values()])
    counts = np.array([len(v) for v in groups.values()])
    picks = np.random.default_rng(seed).integers(0, len(sums), (draws, len(sums)))
    means = sums[picks].sum(1) / counts[picks].sum(1)
    low, high = np.percentile(means, [2.5, 97.5])
    return float(sums.sum() / counts.sum()), float(low), float(high)


def intervals(rows: list[dict], sources: list[Path]) -> str:
    lines = ["| model | PSNR - grey's (95% interval, sources resampled) | CIEDE2000 - grey's (same; below 0 is better) |",
             "|---|---|---|"]
    for r in rows:
        cells = []
        for key in ("psnr", "ciede2000"):
            m, lo, hi = source_interval(r["per_photo"], sources, key)
            cells.append(f"{m:+.2f} ({lo:+.2f} to {hi:+.2f})")
        lines.append(f"| {Path(r['model']).parent.name or r['model']} | {cells[0]} | {cells[1]} |")
    return "\n".join(lines)


def table(rows: list[dict]) -> str:
    lines = [
        "| model | decoding (T, gain, confidence) | PSNR (grey) | CIEDE2000 (grey) | colourfulness / truth | beats grey: PSNR, CIEDE2000 "
        "| chroma on neutral pixels | neutral photos: colourfulness (truth), stay neutral, CIEDE2000 (grey) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        w = r["wins"]
        lines.append(
            f"| {Path(r['model']).parent.name or r['model']} | {', '.join(f'{v:g}' for v in r['decoding'])} "
            f"| {r['psnr']:.2f} ({r['grey_psnr']:.2f}) "
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
    ap.add_argument("--half", choices=tuple(HALVES), default="report",
                    help="which half of the held-out sources (without --data)")
    ap.add_argument("--data", action="append", type=Path, help="folders of colour photos (repeatable)")
    ap.add_argument("--neutral", type=float, default=NEUTRAL)
    ap.add_argument("--size", type=int, default=None, help="network's short side (default: the model's)")
    ap.add_argument("--decoding", action="append", type=parse_decoding, metavar="T,GAIN[,CONFIDENCE]",
                    help="decode a classification model so (repeatable; default: as the model says)")
    ap.add_argument("--json", type=Path, help="also write every figure, per photo too")
    args = ap.parse_args()
    roots = args.data or folders(args.half)
    photos = [p for p in find_inputs(roots, recursive=True) if p.is_file()]
    if not photos:  # e.g. run from a checkout with no ../shared beside it
        raise SystemExit(f"no photos under {', '.join(map(str, roots))}: give --data")
    rows = [measure(m, photos, args.neutral, args.size, d) for m in (args.model or [None])
            for d in (args.decoding or [None])]
    print(f"{len(photos)} photos; neutral: truth colourfulness < {args.neutral:g}")
    print(table(rows))
    # a half's folders are its sources; a --data folder holds sources as its sub-folders
    sources = [d for r in roots for d in sorted(r.iterdir()) if d.is_dir()] + roots if args.data else roots
    print()
    print(intervals(rows, sources))
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
