"""Colour from a reference photo, on photos the model never trained on.

    python benchmarks/reference.py [--strength 1.0 ...] [--data DIR ...] [--limit N]

Every photo below the --data folders (default: the held-out validation
sources, as benchmarks/quality.py) is made grey and colorized four ways, all
scored at full size against the original (`filmcolor evaluate`'s measures):

- automatic: no reference;
- true: the original colour photo itself as the reference (the upper bound);
- similar: the next photo (in name order) of the same source folder, as an
  archivist would give another shot of the same series; photos alone in their
  folder are left out of this row;
- wrong kind: the photo of another source whose mean a/b lies farthest from
  this one's (a beach for a forest): how much a bad reference can hurt.

Rows: mean PSNR, CIEDE2000, colourfulness, and on how many photos the
reference beats the automatic colour and grey. The reserved evaluation
sources of ../shared/data/README.md must never be given here.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from quality import HELD_OUT

from filmcolor import Colorizer
from filmcolor.evaluate import find_inputs, score
from filmcolor.images import grey_rgb, read_picture


def rgb8(path: Path) -> np.ndarray:
    px = read_picture(path).pixels[..., :3]
    return (px // 257).astype(np.uint8) if px.dtype == np.uint16 else px


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
    ap.add_argument("--model", default=None)
    ap.add_argument("--limit", type=int, default=0, help="only the first N photos (a quick look)")
    args = ap.parse_args()
    roots = args.data or list(HELD_OUT)
    photos = find_inputs(roots, recursive=True)
    photos = photos[: args.limit] if args.limit else photos
    colorizer = Colorizer.load(args.model)
    truths = {p: rgb8(p) for p in photos}
    sources = {p: source_of(p, roots) for p in photos}
    mean_ab = {p: colorizer.reference(truths[p]).mean.numpy() for p in photos}
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
    auto = {}
    for p in photos:
        auto[p] = score(colorizer.colorize(truths[p]), truths[p])
    grey = {p: score(grey_rgb(truths[p]), truths[p]) for p in photos}
    print(f"{len(photos)} photos from {len(by_source)} sources; similar-scene pairs for {len(similar)}")
    print("| reference | strength | photos | PSNR (automatic, grey) | CIEDE2000 (automatic, grey) "
          "| colourfulness / truth | beats automatic: PSNR, CIEDE | worse than grey (PSNR) |")
    print("|---|---|---|---|---|---|---|---|")
    for strength in args.strength or [1.0]:
        for name, pick in (("true", {p: p for p in photos}), ("similar", similar), ("wrong kind", wrong)):
            rows = []
            for p, ref in pick.items():
                s = score(colorizer.colorize(truths[p], colorizer.reference(truths[ref], strength)), truths[p])
                rows.append((p, s))
            ps = [p for p, _ in rows]

            def m(table, key, ps=ps):
                return float(np.mean([table[p][key] for p in ps]))

            got = {p: s for p, s in rows}
            print(f"| {name} | {strength:g} | {len(rows)} "
                  f"| {m(got, 'psnr'):.2f} ({m(auto, 'psnr'):.2f}, {m(grey, 'psnr'):.2f}) "
                  f"| {m(got, 'ciede2000'):.2f} ({m(auto, 'ciede2000'):.2f}, {m(grey, 'ciede2000'):.2f}) "
                  f"| {m(got, 'colorfulness'):.1f} / {m(auto, 'colorfulness_truth'):.1f} "
                  f"| {sum(got[p]['psnr'] > auto[p]['psnr'] for p in ps)}, "
                  f"{sum(got[p]['ciede2000'] < auto[p]['ciede2000'] for p in ps)} of {len(ps)} "
                  f"| {sum(got[p]['psnr'] < grey[p]['psnr'] for p in ps)} "
                  f"(automatic {sum(auto[p]['psnr'] < grey[p]['psnr'] for p in ps)}) |", flush=True)


if __name__ == "__main__":
    main()
