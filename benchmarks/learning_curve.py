"""How data-bound the recipe is: models trained on 25%, 50% and 100% of the
training photos (``python -m train --data-fraction``, every source cut alike),
scored at full size on a half of the held-out sources, beside grey.

    python benchmarks/learning_curve.py --model RUN25/model.onnx --model RUN50/model.onnx \\
        --model RUN100/model.onnx [--half choose] [--plot F.png] [--json F]

Each model file says how many photos it trained on (its metadata). The
plot: PSNR and CIEDE2000 against the number of training photos, with grey's
as a line.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from common import QUALITY_AXES, finish_quality_figure, quality_figure
from holdout import HALVES
from holdout import photos as half_photos
from quality import measure

from filmcolor.network import Network


def plot(rows: list[dict], path: Path, title: str) -> None:
    fig, axes = quality_figure(title)
    rows = sorted(rows, key=lambda r: r["photos"])
    x = [r["photos"] for r in rows]
    for ax, (key, _) in zip(axes, QUALITY_AXES, strict=True):
        ax.plot(x, [r[key] for r in rows], "o-", label="trained model")
        ax.set_xscale("log", base=2)
        ax.set_xticks(x, [str(v) for v in x])
    finish_quality_figure(fig, axes, rows[0], "training photos and cut-outs", path, legend=0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", action="append", required=True)
    ap.add_argument("--half", choices=tuple(HALVES), default="choose")
    ap.add_argument("--plot", type=Path)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    photos = half_photos(args.half)
    rows = []
    print("| training photos | share | PSNR (grey) | CIEDE2000 (grey) | colourfulness / truth | beats grey: PSNR, CIEDE |")
    print("|---|---|---|---|---|---|")
    for m in args.model:
        data = Network(m, device="cpu").info.data
        r = measure(m, photos)
        r.pop("per_photo")
        if "images" not in data:
            raise SystemExit(f"{m}: its metadata does not say how many photos it trained on")
        r.update(photos=data["images"], share=data.get("data_fraction", 1.0))
        rows.append(r)
        w = r["wins"]
        print(f"| {r['photos']} | {r['share']:.0%} | {r['psnr']:.2f} ({r['grey_psnr']:.2f}) | {r['ciede2000']:.2f} "
              f"({r['grey_ciede2000']:.2f}) | {r['colorfulness']:.1f} / {r['colorfulness_truth']:.1f} "
              f"| {w['psnr']}, {w['ciede2000']} of {w['n']} |", flush=True)
    if args.plot:
        plot(rows, args.plot, f"learning curve: {len(photos)} held-out photos ({args.half} half)")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
