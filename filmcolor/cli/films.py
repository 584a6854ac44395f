"""`filmcolor video`: films, one IN OUT or several into a folder, with progress and a report."""

from __future__ import annotations

import dataclasses
import sys
import time
from pathlib import Path

import click
from tqdm import tqdm

from ..encoding import CODECS as VIDEO_CODECS
from ..encoding import X264_PRESETS
from ..errors import FilmcolorError, OutputError
from ..shotlist import format_time
from .common import (
    CONTEXT,
    EXIT_FAILED,
    check_strength,
    given,
    guarded,
    load_colorizer,
    model_options,
    pick_runner,
    steer,
)


@click.command(context_settings=CONTEXT)
@click.argument("paths", metavar="IN OUT | IN... -o FOLDER", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("-o", "--output", "out_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Colorize several films into this folder, each under its own name.")
@click.option("--codec", type=click.Choice(list(VIDEO_CODECS)), default="libx264")
@click.option("--crf", default=18, type=click.IntRange(0, 63), help="Quality (lower is better; x264/x265/AV1/VP9).")
@click.option("--preset", default="medium", type=click.Choice(X264_PRESETS), help="Encoder speed/size trade-off.")
@click.option("--batch-size", default=8, type=click.IntRange(1, 1024), help="Frames per network call.")
@click.option("--no-smooth", is_flag=True, help="Don't smooth colour over time (to see what it does).")
@click.option("--key-interval", default=4, show_default=True, type=click.IntRange(1, 100),
              help="Run the network on at most every Nth frame of a steady shot and carry colour "
                   "along the motion between (1: every frame; needs smoothing).")
@click.option("--deinterlace", is_flag=True, help="Deinterlace (bwdif) before colorizing.")
@click.option("--drop", multiple=True, metavar="STREAM",
              help="Leave a stream of the source out: its number (3), a kind (a, s, d, t: every audio, subtitle, "
                   "data or attachment stream) or the n-th of a kind (a:1, the second audio). Repeatable.")
@click.option("--pix-fmt", default=None, metavar="FORMAT",
              help="The encoder's pixel format (yuv420p, yuv444p, yuv422p10le, ...). Default: the source's depth "
                   "and chroma where the codec takes them; 8-bit RGB sources 4:2:0 in x264/x265/AV1/VP9.")
@click.option("--reference", "references", multiple=True, metavar="[TIME=]PHOTO",
              help="A colour photo to steer the colour toward, from TIME (5:12, 1:02:03.5 or "
                   "seconds; default 0) until the next reference. Repeatable.")
@click.option("--reference-list", type=click.Path(dir_okay=False, path_type=Path), metavar="FILE",
              help="References from a text file, a 'TIME PHOTO' (or TIME=PHOTO) a line, # for comments; "
                   "photos named relative to the file.")
@click.option("--reference-strength", default=1.0, show_default=True, type=click.FloatRange(0.0, 1.0),
              help="How far toward each reference: 0 the automatic colour, 1 the reference's full effect.")
@click.option("--segment-seconds", default=60.0, type=click.FloatRange(min=0.0),
              help="Render long films in segments of about this many seconds, kept beside OUT until the film is "
                   "done: the same command again resumes an interrupted render (0: one piece).")
@click.option("--workers", default=1, type=click.IntRange(1, 64),
              help="Segments rendered at once (processes, each with its own copy of the model).")
@click.option("--restart", is_flag=True, help="Ignore segments an earlier, interrupted render left.")
@click.option("--ray", "ray_address", is_flag=False, flag_value="local", default=None, metavar="[ADDRESS]",
              help="Render the segments as Ray tasks: on a local cluster started for the run (--ray alone), "
                   "the cluster this machine is in (auto) or at ADDRESS. Paths must be seen by every node. "
                   'Needs pip install "filmcolor[ray]".')
@model_options
@guarded
def video(paths, out_dir, codec, crf, preset, batch_size, no_smooth, key_interval, deinterlace, drop, pix_fmt, references,
          reference_list, reference_strength, segment_seconds, workers, restart, ray_address, model_path, device, size, quiet,
          debug):
    """Colorize a film IN into OUT, or several into a folder: every frame and timestamp kept, sound and
    subtitles copied."""
    from ..modelspec import ModelSpec
    from ..video import VideoOptions

    if debug:  # FFmpeg's own messages (PyAV keeps them quiet by default), for the traceback that follows
        import logging

        import av

        logging.basicConfig(format="%(name)s: %(message)s")
        av.logging.set_level(av.logging.WARNING)

    if out_dir is None and len(paths) != 2:
        raise click.UsageError("give IN OUT, or several films and -o FOLDER")
    _check_video_options(codec, crf, no_smooth)
    check_strength(bool(references or reference_list))
    films = [(p, out_dir / p.name) for p in paths] if out_dir is not None else [(paths[0], paths[1])]
    opts = VideoOptions(codec=codec, crf=crf, preset=preset, batch_size=batch_size,
                        smooth=not no_smooth, key_interval=key_interval, deinterlace=deinterlace, pix_fmt=pix_fmt,
                        drop=tuple(drop))
    from ..images import read_reference

    given = _shots(references, reference_list)
    photos = [(t, path, read_reference(path)) for t, path in given]  # bad photos refused before the model loads
    model = ModelSpec(str(model_path) if model_path else None, device, size, films=True)
    job = _FilmJob(opts, model, segment_seconds, workers, restart, ray_address, quiet)
    if len(films) == 1:
        src, dst = films[0]
        job.prepare(src, dst)  # a wrong name is answered before the model loads
        _say_late_references(src, given)
        _say_replacing([dst], quiet)
        job.load(photos, reference_strength)
        _say_report(dst, *job.render(src, dst), quiet)
        return
    _several(job, films, given, photos, reference_strength, quiet)


def _several(job: _FilmJob, films: list[tuple[Path, Path]], given: list, photos: list, strength: float,
             quiet: bool) -> None:
    """Several films into a folder: each checked first, then rendered (one a Ray task
    with --ray); one that fails is named and the rest go on."""
    failed = []
    ready = []
    claimed: dict[Path, Path] = {}  # output -> the film that writes it
    for src, dst in films:
        try:
            first = claimed.get(dst.resolve())
            if first is not None:  # reel1/film.mp4 and reel2/film.mp4 into one folder
                raise OutputError(f"{src}: output {dst} would overwrite the result of {first}")
            job.prepare(src, dst)
            _say_late_references(src, given)
            claimed[dst.resolve()] = src
            ready.append((src, dst))
        except FilmcolorError as e:
            click.echo(f"error: {e}", err=True)  # it names the film (prepare's errors do)
            failed.append(src)
    _say_replacing([dst for _, dst in ready], quiet)
    if ready:
        job.load(photos, strength)
    if ready and job.runner.name == "Ray":
        failed += job.several_on_ray(ready)
    else:
        for src, dst in ready:
            try:
                _say_report(dst, *job.render(src, dst), quiet)
            except FilmcolorError as e:
                click.echo(f"error: {e}", err=True)
                failed.append(src)
    if not quiet:
        click.echo(f"{len(films) - len(failed)} of {len(films)} films colorized{job.runner.where(job.workers)}"
                   + (f"; failed: {', '.join(map(str, failed))}" if failed else ""), err=True)
    if failed:
        sys.exit(EXIT_FAILED)


def _shots(references: tuple[str, ...], shot_list: Path | None) -> list[tuple[float, Path]]:
    """(time, photo) of every --reference and of the --reference-list file."""
    from ..shotlist import ShotListError, parse_reference, read_shot_list

    try:
        given = [parse_reference(r) for r in references]
    except ShotListError as e:
        raise click.BadParameter(str(e), param_hint="--reference") from None
    try:
        return given + (read_shot_list(shot_list) if shot_list else [])
    except ShotListError as e:
        raise click.BadParameter(str(e), param_hint="--reference-list" + (f" ({e.where})" if e.where else "")) from None


def _say_late_references(src: Path, given: list[tuple[float, Path]]) -> None:
    """Warn of references that start at or after the film's end: they colour nothing of it."""
    from ..video import film_seconds

    end = film_seconds(src)
    for t, photo in given:
        if end is not None and t >= end:
            click.echo(f"warning: {src}: reference {photo} from {format_time(t)} starts after the film ends "
                       f"({format_time(end)}): it colours nothing", err=True)


def _say_replacing(outputs: list[Path], quiet: bool) -> None:
    """Say which existing outputs a run writes over, as photos do."""
    replacing = [p for p in outputs if p.exists()]
    if replacing and not quiet:
        what = f"{len(replacing)} existing outputs, e.g. {replacing[0]}" if len(replacing) > 1 else f"{replacing[0]}"
        click.echo(f"note: replacing {what}", err=True)


class _FilmJob:
    """What every film of one `filmcolor video` command shares, and how one is rendered."""

    def __init__(self, opts, model, segment_seconds: float, workers: int, restart: bool, ray: str | None,
                 quiet: bool):
        self.opts, self.model, self.segment_seconds = opts, model, segment_seconds
        self.restart, self.quiet = restart, quiet
        self.runner = pick_runner(workers, ray, model.device)  # --ray's errors come before any work
        self.workers: set[str] = set()  # where films ran as tasks (Ray)
        self.colorizer = None

    def prepare(self, src: Path, dst: Path) -> None:
        from ..video import check_paths

        if src.is_file() and not dst.parent.is_dir():  # as `filmcolor image -o` does
            try:
                dst.parent.mkdir(parents=True)
            except OSError as e:
                raise OutputError(f"cannot create the output folder {dst.parent}: {e.strerror}") from None
        try:
            check_paths(src, dst, self.opts)
        except FilmcolorError as e:
            raise type(e)(f"{src}: {e}") from e

    def load(self, photos: list, strength: float) -> None:
        self.colorizer = load_colorizer(self.model.path and Path(self.model.path), self.model.device,
                                        self.model.size, films=True)
        c = self.colorizer
        if self.model.path is None:
            # the file chosen here (the bundled int8 copy on the CPU) colours every segment and
            # task, wherever it runs, and names the resume: the references are fitted with it
            self.model = dataclasses.replace(self.model, path=str(c.net.path))
        # fitted at the size the film's frames are seen at, not the photo size
        self.opts.references = tuple((t, steer(c, path, rgb, strength, c.film_size)) for t, path, rgb in photos)

    def render(self, src: Path, dst: Path):
        """One film here (its segments on Ray with --ray): (report, seconds)."""
        from ..segments import render_in_segments

        bars: list[tqdm] = []

        def start(total: int) -> None:
            bars.append(tqdm(total=total or None, unit="frame", disable=self.quiet, file=sys.stderr,
                             dynamic_ncols=True, smoothing=0.05))

        start_time = time.perf_counter()
        try:
            report = render_in_segments(
                src, dst, self.opts, self.model, self.segment_seconds, self.runner, self.restart, self.colorizer,
                progress=lambda n: _advance(bars[0], n), on_start=start,
                say=lambda text: None if self.quiet else tqdm.write(f"note: {text}", file=sys.stderr))
        except FilmcolorError as e:
            raise type(e)(f"{src}: {e}") from e
        finally:
            for bar in bars:
                bar.close()
        return report, time.perf_counter() - start_time

    def several_on_ray(self, films: list[tuple[Path, Path]]) -> list[Path]:
        """Several films as Ray tasks, one film a task; returns those that failed."""
        from ..segments import render_task
        from ..video import expected_frames

        failed: list[Path] = []
        start_time = time.perf_counter()
        calls = [((src, dst), (str(src), str(dst), self.opts, self.model, self.segment_seconds, self.restart))
                 for src, dst in films]
        with tqdm(total=sum(expected_frames(src) for src, _ in films) or None, unit="frame", disable=self.quiet,
                  file=sys.stderr, dynamic_ncols=True) as bar:
            for outcome in self.runner.run(render_task, calls, bar.update):
                self.workers.add(outcome.worker.partition(",")[0])
                if outcome.error is None:
                    _say_report(outcome.key[1], outcome.result, time.perf_counter() - start_time, self.quiet)
                else:
                    click.echo(f"error: {outcome.key[0]}: {outcome.error}", err=True)
                    failed.append(outcome.key[0])
        return failed


def _advance(bar: tqdm, n: int) -> None:
    """Count ``n`` frames; past a total the header promised (an AVI's may be wrong: 68 of 444),
    the bar goes on without a total rather than show 444/68."""
    if bar.total and bar.n + n > bar.total:
        bar.total = None
    bar.update(n)


def _say_report(dst: Path, report, seconds: float, quiet: bool) -> None:
    for notice in report.reencoded + ([] if quiet else report.notices):
        click.echo(f"note: {notice}", err=True)
    for warning in report.warnings:
        click.echo(f"warning: {warning}", err=True)
    if report.damaged_packets or report.lost_frames:
        click.echo(f"warning: damaged video: {report.damaged_packets} packets refused by the decoder, "
                   f"{report.lost_frames} more frames not decoded; those frames are missing from {dst}", err=True)
    if report.concealed_frames:
        click.echo(f"warning: {report.concealed_frames} frames were damaged; the decoder patched them over", err=True)
    if not quiet:
        kept = f"; copied {', '.join(report.copied)}" if report.copied else ""
        if report.carried:
            kept = f"; {report.carried} coloured along the motion" + kept
        now = report.frames - report.kept_frames
        resumed = f" ({now} rendered now, {report.kept_frames} kept from the interrupted render)" if report.kept_frames else ""
        speed = f" ({now / max(seconds, 1e-9):.1f} fps)" if now else ""
        click.echo(f"wrote {dst}: {report.frames} frames{resumed} in {seconds:.1f} s{speed}{kept}", err=True)


def _check_video_options(codec: str, crf: int, no_smooth: bool) -> None:
    """Refuse a --crf the encoder cannot take; say when an option given does nothing."""
    enc = VIDEO_CODECS[codec]
    if given("crf") and enc.crf_option is None:
        click.echo(f"note: --crf does nothing with {codec} (it has no quality number)", err=True)
    elif crf > enc.crf_max:
        raise click.BadParameter(f"{crf} is above {codec}'s highest, {enc.crf_max}", param_hint="--crf")
    if given("preset") and not enc.uses_preset:
        click.echo(f"note: --preset does nothing with {codec}", err=True)
    if given("key_interval") and no_smooth:
        click.echo("note: --key-interval does nothing with --no-smooth: every frame goes through the network",
                   err=True)
