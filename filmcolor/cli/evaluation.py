"""`filmcolor evaluate`: colour quality on colour photos and films."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from .common import (
    CONTEXT,
    EXIT_FAILED,
    fail,
    guarded,
    load_colorizer,
    model_options,
)


@click.command(context_settings=CONTEXT)
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--json", "json_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write the figures here: one entry per input and a 'mean' entry.")
@click.option("--save", type=click.Path(file_okay=False, path_type=Path), help="Keep the colorized outputs here.")
@click.option("--every", default=1, type=click.IntRange(min=1), help="Films: score every n-th frame.")
@click.option("-r", "--recursive", is_flag=True, help="Look in sub-folders too.")
@model_options
@guarded
def evaluate(paths, json_path, save, every, recursive, model_path, device, size, quiet, debug):
    """Measure colour quality on colour photos or films: each is made grey,
    colorized, and compared with its original (PSNR, SSIM, CIEDE2000,
    colourfulness; films also flicker), beside the grey baseline."""
    import json

    from ..evaluate import FILM_SUFFIXES, EvalOptions, beats_grey, find_inputs, with_mean
    from ..evaluate import evaluate as run_evaluation

    inputs = find_inputs(list(paths), recursive)
    if not inputs:
        fail("nothing to evaluate in " + ", ".join(map(str, paths)))
    if save:
        save.mkdir(parents=True, exist_ok=True)
    opts = EvalOptions(every=every, save=save, progress=not quiet)
    failed = []

    def on_error(path: Path, message: str) -> None:
        failed.append(path)
        click.echo(f"error: {path}: {message}", err=True)

    clips = [p for p in inputs if p.suffix.lower() in FILM_SUFFIXES]
    # each as its command would colour it: films with the bundled model's int8 copy on the CPU
    photos = load_colorizer(model_path, device, size) if len(clips) < len(inputs) else None
    films = None
    if clips:  # a model named is one file for both
        films = photos if photos and model_path else load_colorizer(model_path, device, size, films=True)
    results = run_evaluation(photos or films, inputs, opts, on_error, films)
    wins = beats_grey(results)
    results = with_mean(results)
    if not quiet and results:
        click.echo(_table(results))
        click.echo(f"colour beats grey on {wins['psnr']} of {wins['n']} by PSNR, "
                   f"{wins['ciede2000']} of {wins['n']} by CIEDE2000")
    if json_path and results:
        json_path.write_text(json.dumps(results, indent=1))
    if failed or not results:
        sys.exit(EXIT_FAILED)


def _table(results: list[dict]) -> str:
    head = ("| input | PSNR (grey) | SSIM (grey) | CIEDE2000 (grey) | colourfulness / truth "
            "| chroma on neutral | consistency | warp | static colour change 1 / 25 frames (truth) "
            "| mean chroma spread in a shot (truth) |")
    lines = [head, "|---|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        temporal = (f"{r['consistency']:.4f} | {r['warp_error']:.4f} | {r['static_1']:.3f} / {r['static_25']:.3f} "
                    f"({r['truth_static_1']:.3f} / {r['truth_static_25']:.3f}) | {r['chroma_spread']:.2f} "
                    f"({r['truth_chroma_spread']:.2f})" if "consistency" in r else "- | - | - | -")
        lines.append(
            f"| {Path(r['path']).name} | {r['psnr']:.2f} ({r['grey_psnr']:.2f}) | {r['ssim']:.3f} ({r['grey_ssim']:.3f}) "
            f"| {r['ciede2000']:.2f} ({r['grey_ciede2000']:.2f}) | {r['colorfulness']:.1f} / {r['colorfulness_truth']:.1f} "
            f"| {r['neutral_chroma']:.1f} | {temporal} |"
        )
    return "\n".join(lines)

