"""Make the pictures the README shows, from samples/ and the bundled model.

    python output/make_gallery.py [--only photos|reference|film|size]

Writes into output/:
- <sample>.jpg: grey | colour | truth for each photo in samples/ (truth from samples/truth/);
- reference_<sample>.jpg: grey | automatic | with a reference | truth: the left 60% of a
  sample colorized with the right 40% of its colour original as the reference (another
  view of the same place; the reference is shown small in its panel's corner);
- bikes_strip.jpg: four frames of samples/video/bikes.mp4 made grey, grey above colour;
- bikes_color.mp4: the whole clip made grey and colorized by `filmcolor video`;
- quality_vs_size.png (+ .json): PSNR and colourfulness on samples/truth against --size.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

import av
import cv2
import numpy as np

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "output"
sys.path.insert(0, str(REPO / "benchmarks"))

from flicker import decode_rgb, write_grey  # noqa: E402

from filmcolor import Colorizer  # noqa: E402
from filmcolor.evaluate import score  # noqa: E402
from filmcolor.images import read_picture  # noqa: E402
from filmcolor.video import VideoOptions, colorize_video  # noqa: E402

SIZES = (64, 96, 128, 192, 256, 384, 512)


def label(img: np.ndarray, text: str) -> np.ndarray:
    img = img.copy()
    cv2.putText(img, text, (8, 22), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (0, 0, 0), 3, cv2.LINE_AA)
    cv2.putText(img, text, (8, 22), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (255, 255, 255), 1, cv2.LINE_AA)
    return img


def fit_height(img: np.ndarray, h: int) -> np.ndarray:
    return cv2.resize(img, (round(img.shape[1] * h / img.shape[0]), h), interpolation=cv2.INTER_AREA)


def photos(colorizer: Colorizer) -> list[str]:
    made = []
    for src in sorted((REPO / "samples").glob("*.jpg")):
        grey = read_picture(src).pixels
        colored = colorizer.colorize(grey)
        panels = [label(np.dstack([grey] * 3), "grey"), label(colored, "filmcolor")]
        truth = REPO / "samples" / "truth" / src.name
        if truth.exists():
            panels.append(label(read_picture(truth).pixels, "truth"))
        row = np.concatenate([fit_height(p, 300) for p in panels], axis=1)
        cv2.imwrite(str(OUT / src.name), cv2.cvtColor(row, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 88])
        made.append(src.name)
    return made


def with_reference(colorizer: Colorizer, names: tuple[str, ...] = ("street.jpg", "lake.jpg")) -> None:
    for name in names:
        truth = read_picture(REPO / "samples" / "truth" / name).pixels[..., :3]
        k = int(truth.shape[1] * 0.6)
        part, ref = np.ascontiguousarray(truth[:, :k]), np.ascontiguousarray(truth[:, k:])
        grey = np.dstack([cv2.cvtColor(part, cv2.COLOR_RGB2GRAY)] * 3)
        steered = colorizer.colorize(grey, ref).copy()
        thumb = fit_height(ref, steered.shape[0] // 3)
        steered[-thumb.shape[0]:, -thumb.shape[1]:] = thumb
        panels = [label(grey, "grey"), label(colorizer.colorize(grey), "automatic"),
                  label(steered, "with reference"), label(part, "truth")]
        row = np.concatenate([fit_height(p, 300) for p in panels], axis=1)
        cv2.imwrite(str(OUT / f"reference_{name}"), cv2.cvtColor(row, cv2.COLOR_RGB2BGR),
                    [cv2.IMWRITE_JPEG_QUALITY, 88])


def film() -> None:
    clip = REPO / "samples" / "video" / "bikes.mp4"
    truth = decode_rgb(clip)
    colorizer = Colorizer.load()
    with tempfile.TemporaryDirectory() as tmp:
        grey = Path(tmp) / "grey.mkv"
        write_grey(truth, grey, 25)
        colorize_video(colorizer, grey, OUT / "bikes_color.mp4", VideoOptions(crf=26, preset="slow"))
    colored = decode_rgb(OUT / "bikes_color.mp4")
    picks = [20, 90, 160, 230]
    top = np.concatenate([np.dstack([cv2.cvtColor(truth[i], cv2.COLOR_RGB2GRAY)] * 3) for i in picks], axis=1)
    bottom = np.concatenate([colored[i] for i in picks], axis=1)
    strip = fit_height(np.concatenate([top, bottom], axis=0), 360)
    cv2.imwrite(str(OUT / "bikes_strip.jpg"), cv2.cvtColor(strip, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 88])


def quality_vs_size() -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    truths = [read_picture(p).pixels for p in sorted((REPO / "samples" / "truth").glob("*.jpg"))]
    rows = []
    for size in SIZES:
        c = Colorizer.load(size=size)
        scores = [score(c.colorize(t), t) for t in truths]
        rows.append({"size": size, **{k: float(np.mean([s[k] for s in scores])) for k in scores[0]}})
    grey_psnr = float(np.mean([score(np.dstack([cv2.cvtColor(t, cv2.COLOR_RGB2GRAY)] * 3), t)["psnr"] for t in truths]))
    (OUT / "quality_vs_size.json").write_text(json.dumps({"grey_psnr": grey_psnr, "rows": rows}, indent=1))
    fig, ax = plt.subplots(1, 2, figsize=(10, 3.6))
    ax[0].plot(SIZES, [r["psnr"] for r in rows], "o-", label="filmcolor")
    ax[0].axhline(grey_psnr, ls="--", c="grey", label="grey")
    ax[0].set_title("PSNR (dB)")
    ax[1].plot(SIZES, [r["colorfulness"] for r in rows], "o-", label="filmcolor")
    ax[1].axhline(rows[0]["colorfulness_truth"], ls="--", c="green", label="truth")
    ax[1].set_title("colourfulness")
    for a in ax:
        a.set_xlabel("--size (short side the network sees, px)")
        a.set_xscale("log", base=2)
        a.set_xticks(SIZES, [str(s) for s in SIZES])
        a.legend()
    fig.suptitle(f"samples/truth ({len(truths)} photos)")
    fig.tight_layout()
    fig.savefig(OUT / "quality_vs_size.png", dpi=80)


def main() -> None:
    import argparse

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--only", choices=("photos", "reference", "film", "size"), help="make only these pictures")
    only = ap.parse_args().only
    OUT.mkdir(exist_ok=True)
    if only in (None, "photos"):
        print("photos:", ", ".join(photos(Colorizer.load())))
    if only in (None, "reference"):
        with_reference(Colorizer.load())
        print("reference: reference_street.jpg, reference_lake.jpg")
    if only in (None, "film"):
        film()
        print("film: bikes_strip.jpg, bikes_color.mp4")
        with av.open(str(OUT / "bikes_color.mp4")) as c:
            assert c.streams.video[0].frames == 250
    if only in (None, "size"):
        quality_vs_size()
        print("plot: quality_vs_size.png")


if __name__ == "__main__":
    main()
