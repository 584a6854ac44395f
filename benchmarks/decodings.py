"""The decoding trade-off: PSNR, CIEDE2000 and colourfulness of one model's
colour against each other, over annealed-mean temperatures, chroma gains and
sureness weights (filmcolor/decoding.py), on a half of the held-out sources.

    python benchmarks/decodings.py [--model M.onnx] [--half choose] [--size S] [--plot F.png] [--json F]

Every photo is made grey, colorized at full size, and scored as
benchmarks/quality.py does. Choose a decoding on `--half choose` (the
default), then quote it with `quality.py --half report --decoding T,G,C`.
The chosen row is the one with the lowest CIEDE2000 among those that beat
grey by PSNR and keep at least 60% of the truth's colourfulness.
"""

from __future__ import annotations

import argparse
import itertools
import json
from pathlib import Path

from common import QUALITY_AXES, finish_quality_figure, quality_figure
from holdout import HALVES
from holdout import photos as half_photos
from quality import measure

from filmcolor.decoding import Decoding

TEMPERATURES = (0.5, 1.0)
GAINS = (1.0, 1.2, 1.4, 1.6, 1.8)
CONFIDENCES = (0.0, 0.5, 1.0, 2.0)
KEEP = 0.6  # of the truth's colourfulness


def chosen(rows: list[dict]) -> dict | None:
    ok = [r for r in rows if r["psnr"] > r["grey_psnr"] and r["colorfulness"] >= KEEP * r["colorfulness_truth"]]
    return min(ok, key=lambda r: r["ciede2000"]) if ok else None


def plot(rows: list[dict], path: Path, title: str) -> None:
    fig, axes = quality_figure(title)
    truth = rows[0]["colorfulness_truth"]
    line = lambda r: (r["decoding"][0], r["decoding"][2])  # noqa: E731 (temperature, sureness power)
    for (t, c), group in itertools.groupby(sorted(rows, key=lambda r: (line(r), r["decoding"][1])), key=line):
        group = list(group)
        x = [r["colorfulness"] / truth * 100 for r in group]
        for ax, (key, _) in zip(axes, QUALITY_AXES, strict=True):
            ax.plot(x, [r[key] for r in group], "o-", label=f"T {t:g}, sureness^{c:g}")
    for ax in axes:
        ax.axvline(KEEP * 100, color="k", lw=0.5)
    finish_quality_figure(fig, axes, rows[0], "colourfulness, % of the truth's (gain rises to the right)", path)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default=None, help="an .onnx model (default: bundled)")
    ap.add_argument("--half", choices=tuple(HALVES), default="choose")
    ap.add_argument("--size", type=int, default=None, help="network's short side (default: the model's)")
    ap.add_argument("--temperatures", type=float, nargs="+", default=TEMPERATURES)
    ap.add_argument("--gains", type=float, nargs="+", default=GAINS)
    ap.add_argument("--confidences", type=float, nargs="+", default=CONFIDENCES)
    ap.add_argument("--plot", type=Path)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    photos = half_photos(args.half)
    rows = []
    print("| T | gain | sureness power | PSNR (grey) | CIEDE2000 (grey) | colourfulness / truth | beats grey: PSNR, CIEDE |")
    print("|---|---|---|---|---|---|---|")
    for t, c, g in itertools.product(args.temperatures, args.confidences, args.gains):
        r = measure(args.model, photos, size=args.size, decoding=Decoding(t, g, c))
        r.pop("per_photo")
        rows.append(r)
        w = r["wins"]
        print(f"| {t:g} | {g:g} | {c:g} | {r['psnr']:.2f} ({r['grey_psnr']:.2f}) | {r['ciede2000']:.2f} "
              f"({r['grey_ciede2000']:.2f}) | {r['colorfulness']:.1f} / {r['colorfulness_truth']:.1f} "
              f"({r['colorfulness'] / r['colorfulness_truth']:.0%}) | {w['psnr']}, {w['ciede2000']} of {w['n']} |",
              flush=True)
        if args.json:  # after every row: a long sweep stopped early keeps what it measured
            args.json.write_text(json.dumps(rows, indent=1))
    best = chosen(rows)
    print(f"chosen ({len(photos)} photos, {args.half} half): " + (
        "none beats grey at 60% colourfulness" if best is None else ",".join(f"{v:g}" for v in best["decoding"])))
    if args.plot:
        plot(rows, args.plot, f"{args.model or 'bundled model'}: decodings on {len(photos)} photos ({args.half} half)")


if __name__ == "__main__":
    main()
