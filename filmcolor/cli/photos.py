"""`filmcolor image`: photos, files and folders of them."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import click
from tqdm import tqdm

from ..errors import FilmcolorError
from .common import (
    CONTEXT,
    EXIT_FAILED,
    check_strength,
    fail,
    guarded,
    load_colorizer,
    model_options,
    pick_runner,
    steer,
)


@click.command(context_settings=CONTEXT)
@click.argument("inputs", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("-o", "--output", type=click.Path(path_type=Path),
              help="Output file (one input) or folder (several). Default: <name>_color.<ext> beside each input.")
@click.option("-r", "--recursive", is_flag=True, help="Look into sub-folders of folder inputs.")
@click.option("--compare", is_flag=True, help="Also write <name>_color_compare.<ext> (or OUT with _compare): grey | colour side by side.")
@click.option("--max-megapixels", default=250.0, type=click.FloatRange(min=0.01),
              help="Refuse larger pictures (they need about 8 bytes a pixel).")
@click.option("--reference", "reference_path", type=click.Path(dir_okay=False, path_type=Path),
              help="A colour photo to steer the colour toward (the same place, a similar scene).")
@click.option("--reference-strength", default=1.0, show_default=True, type=click.FloatRange(0.0, 1.0),
              help="How far toward the reference: 0 the automatic colour, 1 the reference's full effect.")
@click.option("--ray", "ray_address", is_flag=False, flag_value="local", default=None, metavar="[ADDRESS]",
              help="Colorize the photos as Ray tasks: on a local cluster started for the run (--ray alone), the "
                   "cluster this machine is in (auto) or at ADDRESS. Paths must be seen by every node. "
                   'Needs pip install "filmcolor[ray]".')
@model_options
@guarded
def image(inputs, output, recursive, compare, max_megapixels, reference_path, reference_strength, ray_address,
          model_path, device, size, quiet, debug):
    """Colorize photos: files and folders of JPEG, PNG (8/16-bit), TIFF, WebP, BMP, TGA, JPEG 2000, PPM, AVIF."""
    from ..images import ImageOptions, colorize_task, plan_jobs, read_reference

    check_strength(reference_path is not None)
    reference = read_reference(reference_path, max_megapixels) if reference_path else None

    earlier: list[Path] = []
    unread: list[Path] = []
    jobs = plan_jobs(list(inputs), output, recursive, earlier, unread)
    if unread:  # pictures of kinds filmcolor does not read, found in a folder: counted and named
        shown = ", ".join(str(p) for p in unread[:3]) + (" ..." if len(unread) > 3 else "")
        click.echo(f"note: {len(unread)} pictures in a kind filmcolor does not read: {shown}", err=True)
    if not jobs:
        fail("no pictures found in " + ", ".join(map(str, inputs)))
    replacing = [j.dst for j in jobs if j.error is None and j.dst.exists()]
    if earlier and not quiet:
        click.echo(f"note: skipping {len(earlier)} earlier results (*_color, *_compare), "
                   f"e.g. {earlier[0]}", err=True)
    if replacing and not quiet:
        click.echo(f"note: replacing {len(replacing)} existing outputs, e.g. {replacing[0]}", err=True)
    # a batch of names that are all wrong is answered without loading the model
    work = any(j.error is None for j in jobs)
    from ..modelspec import Loaded, ModelSpec
    from ..runners import Serial

    runner = pick_runner(1, ray_address, device) if ray_address is not None and work else Serial()  # Ray errors first
    colorizer = load_colorizer(model_path, device, size) if work else None
    opts = ImageOptions(compare=compare, max_megapixels=max_megapixels, debug=debug)
    if reference is not None and colorizer is not None:
        opts.reference = steer(colorizer, reference_path, reference, reference_strength)
    model = ModelSpec(str(model_path) if model_path else None, device, size) if runner.name == "Ray" else Loaded(colorizer)
    tally = _Tally(debug)
    with tqdm(total=len(jobs), unit="picture", disable=quiet or len(jobs) == 1, file=sys.stderr) as bar:
        for outcome in runner.run(colorize_task, [(job, (model, job, opts)) for job in jobs], bar.update):
            tally.add(outcome)
    if not quiet:
        line = tally.summary(runner.where(tally.workers))
        click.echo(f"wrote {jobs[0].dst}" if len(jobs) == 1 and tally.done else line, err=True)
    if tally.failed:
        sys.exit(EXIT_FAILED)


class _Tally:
    """What the photos of one command came to, said as each ends."""

    def __init__(self, debug: bool):
        self.debug = debug
        self.start = time.perf_counter()
        self.done, self.megapixels = 0, 0.0
        self.failed: list[Path] = []
        self.workers: set[str] = set()

    def add(self, outcome) -> None:
        from ..images import JobResult

        self.workers.add(outcome.worker.partition(",")[0])
        if outcome.error is None:
            return self.report(outcome.result)
        e = outcome.error
        if isinstance(e, FilmcolorError):
            return self.report(JobResult(outcome.key, False, str(e)))
        if self.debug:
            raise e
        # a bug on one file must not cost the rest of the batch
        self.report(JobResult(outcome.key, False, f"unexpected {type(e).__name__}: {e} (run with --debug for details)"))

    def report(self, result) -> None:
        for warning in result.warnings:
            tqdm.write(f"warning: {result.job.src}: {warning}", file=sys.stderr)
        if result.ok:
            self.done += 1
            self.megapixels += result.megapixels
            return
        self.failed.append(result.job.src)
        if result.trace:
            tqdm.write(result.trace.rstrip(), file=sys.stderr)
        tqdm.write(f"error: {result.job.src}: {result.error}", file=sys.stderr)

    def summary(self, where: str) -> str:
        seconds = time.perf_counter() - self.start
        line = f"{self.done} colorized ({self.megapixels:.1f} MP in {seconds:.1f} s{where})"
        if self.failed:
            line += f", {len(self.failed)} failed: " + ", ".join(str(p) for p in self.failed)
        return line
