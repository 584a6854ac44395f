"""Colour from a reference photo, on photos the model never trained on.

    python benchmarks/reference.py [--strength 1.0 ...] [--palette 0.5] [--data DIR ...] [--limit N]

Every photo below the --data folders (default: the held-out validation
sources, as benchmarks/quality.py) is made grey and colorized four ways, all
scored at full size against the original (`filmcolor evaluate`'s measures):

- automatic: no reference;
- true: the original colour photo itself as the reference (the upper bound);
- same scene: the photo is cut in two, 60% and 40% of its long side; the
  larger part is colorized and scored, the other part (no pixel in common,
  the same place and light) is the reference: a stand-in for another shot of
  the same place;
- same collection: the next photo (in name order) of the same source folder,
  as an archivist might give another photo of the same collection (here
  mostly unrelated scenes); photos alone in their folder are left out;
- wrong kind: the photo of another source whose mean a/b lies farthest from
  this one's (a beach for a forest): how much a bad reference can hurt.

Rows: mean PSNR, CIEDE2000, colourfulness, on how many photos the reference
beats the automatic colour, and on how many it is further from the truth than
grey (PSNR; CIEDE2000). The reserved evaluation
sources of ../shared/data/README.md must never be given here.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from holdout import folders

from filmcolor import Colorizer, reference
from filmcolor.evaluate import find_inputs, score
from filmcolor.images import grey_rgb, read_picture


def rgb8(path: Path) -> np.ndarray:
    px = read_picture(path).pixels[..., :3]
    return (px // 257).astype(np.uint8) if px.dtype == np.uint16 else px


def cut(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(the larger 60% of a picture along its long side, the other 40%)."""
    h, w = rgb.shape[:2]
    if w >= h:
        k = int(w * 0.6)
        return np.ascontiguousarray(rgb[:, :k]), np.ascontiguousarray(rgb[:, k:])
    k = int(h * 0.6)
    return np.ascontiguousarray(rgb[:k]), np.ascontiguousarray(rgb[k:])


def source_of(path: Path, roots: list[Path]) -> str:
    for root in roots:
        if root in path.parents:
            rel = path.relative_to(root)
            return f"{root}/{rel.parts[0]}" if len(rel.parts) > 1 else str(root)
    return str(path.parent)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", action="append", type=Path, help="folders of colour photos (repeatable)")
    ap.add_argument("--strength", action="append", type=float, help="reference strength (repeatable; default 1)")
    ap.add_argument("--palette", type=float, help="how far the palette step goes at strength 1 "
                    f"(default {reference.PALETTE}, filmcolor/reference.py's PALETTE)")
    ap.add_argument("--model", default=None)
    ap.add_argument("--limit", type=int, default=0, help="only the first N photos (a quick look)")
    args = ap.parse_args()
    if args.palette is not None:
        reference.PALETTE = args.palette
    roots = args.data or folders("all")
    photos = find_inputs(roots, recursive=True)
    photos = photos[: args.limit] if args.limit else photos
    colorizer = Colorizer.load(args.model)
    truths = {p: rgb8(p) for p in photos}
    sources = {p: source_of(p, roots) for p in photos}
    mean_ab = {p: np.asarray(colorizer.reference(truths[p]).mean) for p in photos}
    by_source: dict[str, list[Path]] = {}
    for p in photos:
        by_source.setdefault(sources[p], []).append(p)
    similar = {}
    for group in by_source.values():
        if len(group) > 1:
            for i, p in enumerate(group):
                similar[p] = group[(i + 1) % len(group)]
    wrong = {p: max((q for q in photos if sources[q] != sources[p]),
                    key=lambda q: float(np.linalg.norm(mean_ab[q] - mean_ab[p]))) for p in photos}
    auto = {p: score(colorizer.colorize(truths[p]), truths[p]) for p in photos}
    grey = {p: score(grey_rgb(truths[p]), truths[p]) for p in photos}
    parts = {p: cut(truths[p]) for p in photos}
    part_auto = {p: score(colorizer.colorize(parts[p][0]), parts[p][0]) for p in photos}
    part_grey = {p: score(grey_rgb(parts[p][0]), parts[p][0]) for p in photos}
    print(f"{len(photos)} photos from {len(by_source)} sources; similar-scene pairs for {len(similar)}")
    print("| reference | strength | photos | PSNR (automatic, grey) | CIEDE2000 (automatic, grey) "
          "| colourfulness / truth | beats automatic: PSNR, CIEDE | worse than grey: PSNR, CIEDE |")
    print("|---|---|---|---|---|---|---|---|")
    for strength in args.strength or [1.0]:
        for name, pick in (("true", {p: p for p in photos}), ("same scene", {p: p for p in photos}),
                           ("same collection", similar), ("wrong kind", wrong)):
            scene = name == "same scene"
            target = {p: parts[p][0] if scene else truths[p] for p in pick}
            auto_, grey_ = (part_auto, part_grey) if scene else (auto, grey)
            got = {}
            for p, ref in pick.items():
                palette = colorizer.reference(parts[p][1] if scene else truths[ref], strength)
                got[p] = score(colorizer.colorize(target[p], palette), target[p])
            ps = list(got)

            def m(table, key, ps=ps):
                return float(np.mean([table[p][key] for p in ps]))

            base, flat = auto_, grey_
            print(f"| {name} | {strength:g} | {len(ps)} "
                  f"| {m(got, 'psnr'):.2f} ({m(base, 'psnr'):.2f}, {m(flat, 'psnr'):.2f}) "
                  f"| {m(got, 'ciede2000'):.2f} ({m(base, 'ciede2000'):.2f}, {m(flat, 'ciede2000'):.2f}) "
                  f"| {m(got, 'colorfulness'):.1f} / {m(base, 'colorfulness_truth'):.1f} "
                  f"| {sum(got[p]['psnr'] > base[p]['psnr'] for p in ps)}, "
                  f"{sum(got[p]['ciede2000'] < base[p]['ciede2000'] for p in ps)} of {len(ps)} "
                  f"| {sum(got[p]['psnr'] < flat[p]['psnr'] for p in ps)}, "
                  f"{sum(got[p]['ciede2000'] > flat[p]['ciede2000'] for p in ps)} "
                  f"(automatic {sum(base[p]['psnr'] < flat[p]['psnr'] for p in ps)}, "
                  f"{sum(base[p]['ciede2000'] > flat[p]['ciede2000'] for p in ps)}) |", flush=True)


if __name__ == "__main__":
    main()
