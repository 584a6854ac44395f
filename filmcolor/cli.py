"""The ``filmcolor`` command line: parses options and calls the library.

Errors the user can act on come out as one line on stderr and a non-zero exit
code; ``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import functools
import signal
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

import click
from tqdm import tqdm

from . import __version__
from .encoding import CODECS as VIDEO_CODECS
from .encoding import X264_PRESETS
from .errors import FilmcolorError, OutputError

if TYPE_CHECKING:  # ONNX Runtime comes with them: imported when a command needs a colorizer, not for --help
    from .colorizer import Colorizer

EXIT_FAILED = 1
EXIT_INTERRUPTED = 130
EXIT_TERMINATED = 143  # 128 + SIGTERM, as a shell reports it


class Terminated(KeyboardInterrupt):
    """SIGTERM (a job scheduler, `timeout`, `docker stop`): unwound like Ctrl-C,
    so every half-written output is removed on the way out."""


def _on_sigterm(signum, frame) -> None:
    raise Terminated

CONTEXT = {"help_option_names": ["-h", "--help"], "show_default": True}


def fail(message: str, code: int = EXIT_FAILED):
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


def guarded(fn):
    """Turn filmcolor's errors, Ctrl-C and unexpected crashes into one line and an exit code."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        debug = kwargs.get("debug", False)
        try:
            return fn(*args, **kwargs)
        except Terminated:
            click.echo("terminated", err=True)
            sys.exit(EXIT_TERMINATED)
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            sys.exit(EXIT_INTERRUPTED)
        except FilmcolorError as e:
            if debug:
                raise
            fail(str(e))
        except (ValueError, MemoryError) as e:
            if debug:
                raise
            fail(str(e) or type(e).__name__)

    return wrapper


def model_options(fn):
    """--model, --device, --size, -q, --debug: shared by every command that colorizes."""

    fn = click.option("--debug", is_flag=True, help="Show tracebacks.")(fn)
    fn = click.option("-q", "--quiet", is_flag=True, help="No progress bar or summary.")(fn)
    fn = click.option("--size", default=None, type=click.IntRange(32, 2048),
                      help="Short side, in pixels, at which the network sees the picture (multiple of 32; "
                      "default: the size the model was trained at, 128 for the bundled one).")(fn)
    fn = click.option("--device", default="auto",
                      help="auto (CUDA, then CoreML or DirectML where installed, then CPU), cpu, cuda, cuda:1, coreml, dml.")(fn)
    fn = click.option("--model", "model_path", type=click.Path(dir_okay=False, path_type=Path),
                      help="An .onnx model file from python -m train.export (default: the bundled one).")(fn)
    return fn


def load_colorizer(model_path: Path | None, device: str, size: int | None) -> Colorizer:
    if size is not None and size % 32:
        raise click.BadParameter(f"{size} is not a multiple of 32", param_hint="--size")
    from .colorizer import Colorizer

    return Colorizer.load(model_path, device=device, size=size)


@click.group(context_settings=CONTEXT)
@click.version_option(__version__, prog_name="filmcolor")
def main() -> None:
    """Plausible colour for black-and-white photographs and films."""
    if threading.current_thread() is threading.main_thread():  # signals can only be set there
        signal.signal(signal.SIGTERM, _on_sigterm)


@main.command(context_settings=CONTEXT)
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
    """Colorize photos: files and folders of JPEG, PNG (8/16-bit), TIFF, WebP, BMP."""
    from .images import ImageOptions, JobResult, colorize_task, plan_jobs, read_reference

    _check_strength(reference_path is not None)
    reference = read_reference(reference_path, max_megapixels) if reference_path else None

    earlier: list[Path] = []
    jobs = plan_jobs(list(inputs), output, recursive, earlier)
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
    from .modelspec import Loaded, ModelSpec
    from .runners import Serial, pick

    runner = pick(1, ray_address, device) if ray_address is not None and work else Serial()  # Ray errors first
    colorizer = load_colorizer(model_path, device, size) if work else None
    opts = ImageOptions(compare=compare, max_megapixels=max_megapixels, debug=debug)
    if reference is not None and colorizer is not None:
        opts.reference = _steer(colorizer, reference_path, reference, reference_strength)
    start, done, megapixels, failed = time.perf_counter(), 0, 0.0, []
    workers: set[str] = set()

    def report(result: JobResult) -> None:
        nonlocal done, megapixels
        if result.ok:
            done += 1
            megapixels += result.megapixels
        else:
            failed.append(result.job.src)
            if result.trace:
                tqdm.write(result.trace.rstrip(), file=sys.stderr)
            tqdm.write(f"error: {result.job.src}: {result.error}", file=sys.stderr)

    def unexpected(job, e: BaseException) -> None:  # a bug on one file must not cost the rest of the batch
        if isinstance(e, FilmcolorError):
            return report(JobResult(job, False, str(e)))
        if debug:
            raise e
        report(JobResult(job, False, f"unexpected {type(e).__name__}: {e} (run with --debug for details)"))

    model = ModelSpec(str(model_path) if model_path else None, device, size) if runner.name == "Ray" else Loaded(colorizer)
    with tqdm(total=len(jobs), unit="picture", disable=quiet or len(jobs) == 1, file=sys.stderr) as bar:
        for outcome in runner.run(colorize_task, [(job, (model, job, opts)) for job in jobs], bar.update):
            workers.add(outcome.worker.partition(",")[0])
            if outcome.error is None:
                report(outcome.result)
            else:
                unexpected(outcome.key, outcome.error)
    seconds = time.perf_counter() - start
    if not quiet:
        line = f"{done} colorized ({megapixels:.1f} MP in {seconds:.1f} s{_on(runner, workers)})"
        if len(jobs) == 1 and done:
            line = f"wrote {jobs[0].dst}"
        if failed:
            line += f", {len(failed)} failed: " + ", ".join(str(p) for p in failed)
        click.echo(line, err=True)
    if failed:
        sys.exit(EXIT_FAILED)


@main.command(context_settings=CONTEXT)
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
def video(paths, out_dir, codec, crf, preset, batch_size, no_smooth, key_interval, deinterlace, references,
          reference_list, reference_strength, segment_seconds, workers, restart, ray_address, model_path, device, size, quiet,
          debug):
    """Colorize a film IN into OUT, or several into a folder: every frame and timestamp kept, sound and
    subtitles copied."""
    from .modelspec import ModelSpec
    from .video import VideoOptions

    if debug:  # FFmpeg's own messages (PyAV keeps them quiet by default), for the traceback that follows
        import logging

        import av

        logging.basicConfig(format="%(name)s: %(message)s")
        av.logging.set_level(av.logging.WARNING)

    if out_dir is None and len(paths) != 2:
        raise click.UsageError("give IN OUT, or several films and -o FOLDER")
    _check_video_options(codec, crf, no_smooth)
    _check_strength(bool(references or reference_list))
    films = [(p, out_dir / p.name) for p in paths] if out_dir is not None else [(paths[0], paths[1])]
    opts = VideoOptions(codec=codec, crf=crf, preset=preset, batch_size=batch_size,
                        smooth=not no_smooth, key_interval=key_interval, deinterlace=deinterlace)
    from .images import read_reference

    given = [_time_and_photo(r) for r in references] + (_reference_list(reference_list) if reference_list else [])
    photos = [(t, path, read_reference(path)) for t, path in given]  # bad photos refused before the model loads
    model = ModelSpec(str(model_path) if model_path else None, device, size)
    job = _FilmJob(opts, model, segment_seconds, workers, restart, ray_address, quiet)
    if len(films) == 1:
        src, dst = films[0]
        job.prepare(src, dst)  # a wrong name is answered before the model loads
        _say_late_references(src, given)
        _say_replacing([dst], quiet)
        job.load(photos, reference_strength)
        _say_report(dst, *job.render(src, dst), quiet)
        return
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
        job.load(photos, reference_strength)
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
        click.echo(f"{len(films) - len(failed)} of {len(films)} films colorized{_on(job.runner, job.workers)}"
                   + (f"; failed: {', '.join(map(str, failed))}" if failed else ""), err=True)
    if failed:
        sys.exit(EXIT_FAILED)


def _on(runner, workers: set[str]) -> str:
    """' on Ray (2 workers)' where tasks ran on Ray; nothing where they ran here."""
    workers = {w for w in workers if w}
    return f" on Ray ({len(workers)} workers)" if runner.name == "Ray" and workers else ""


def _say_late_references(src: Path, given: list[tuple[float, Path]]) -> None:
    """Warn of references that start at or after the film's end: they colour nothing of it."""
    from .video import film_seconds

    end = film_seconds(src)
    for t, photo in given:
        if end is not None and t >= end:
            click.echo(f"warning: {src}: reference {photo} from {_clock(t)} starts after the film ends "
                       f"({_clock(end)}): it colours nothing", err=True)


def _clock(seconds: float) -> str:
    """312.5 -> '5:12.5', as --reference times are written."""
    m, s = divmod(seconds, 60)
    return (f"{int(m)}:{s:04.1f}" if m else f"{s:.1f}").removesuffix(".0")


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
        from .runners import pick

        self.opts, self.model, self.segment_seconds = opts, model, segment_seconds
        self.restart, self.quiet = restart, quiet
        self.runner = pick(workers, ray, model.device)  # --ray's errors come before any work
        self.workers: set[str] = set()  # where films ran as tasks (Ray)
        self.colorizer = None

    def prepare(self, src: Path, dst: Path) -> None:
        from .video import check_paths

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
                                        self.model.size)
        self.opts.references = tuple((t, _steer(self.colorizer, path, rgb, strength)) for t, path, rgb in photos)

    def render(self, src: Path, dst: Path):
        """One film here (its segments on Ray with --ray): (report, seconds)."""
        from .segments import render_in_segments

        bars: list[tqdm] = []

        def start(total: int) -> None:
            bars.append(tqdm(total=total or None, unit="frame", disable=self.quiet, file=sys.stderr,
                             dynamic_ncols=True, smoothing=0.05))

        start_time = time.perf_counter()
        try:
            report = render_in_segments(
                src, dst, self.opts, self.model, self.segment_seconds, self.runner, self.restart, self.colorizer,
                progress=lambda n: bars[0].update(n), on_start=start,
                say=lambda text: None if self.quiet else tqdm.write(f"note: {text}", file=sys.stderr))
        except FilmcolorError as e:
            raise type(e)(f"{src}: {e}") from e
        finally:
            for bar in bars:
                bar.close()
        return report, time.perf_counter() - start_time

    def several_on_ray(self, films: list[tuple[Path, Path]]) -> list[Path]:
        """Several films as Ray tasks, one film a task; returns those that failed."""
        from .segments import render_task
        from .video import expected_frames

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


def _seconds(when: str, hint: str) -> float:
    """'5:12' -> 312.0; '1:02:03.5' and plain seconds too."""
    try:
        parts = [float(p) for p in when.split(":")]
        if len(parts) > 3 or any(p < 0 for p in parts):
            raise ValueError
    except ValueError:
        raise click.BadParameter(f"{when!r} is not a time (5:12, 1:02:03.5 or seconds)", param_hint=hint) from None
    seconds = 0.0
    for p in parts:
        seconds = seconds * 60 + p
    return seconds


def _time_and_photo(text: str) -> tuple[float, Path]:
    """'5:12=garden.jpg' -> (312.0, Path('garden.jpg')); a bare photo starts at 0."""
    when, sep, photo = text.partition("=")
    if not sep:
        return 0.0, Path(text)
    return _seconds(when, "--reference"), Path(photo)


def _reference_list(path: Path) -> list[tuple[float, Path]]:
    """The (time, photo) of each 'TIME PHOTO' or 'TIME=PHOTO' line of a text file."""
    hint = "--reference-list"
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as e:
        raise click.BadParameter(f"cannot read {path}: {getattr(e, 'strerror', None) or e}", param_hint=hint) from None
    out = []
    for n, line in enumerate(lines, 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        when, sep, photo = line.partition("=")
        if not sep:
            when, _, photo = line.partition(" ")
        if not photo.strip():
            raise click.BadParameter(f"{path} line {n}: expected TIME PHOTO, got {line!r}", param_hint=hint)
        out.append((_seconds(when.strip(), f"{hint} ({path} line {n})"), path.parent / photo.strip()))
    if not out:
        raise click.BadParameter(f"{path} names no reference", param_hint=hint)
    return out


def _steer(colorizer: Colorizer, path: Path, rgb, strength: float):
    """The colorizer's :class:`Reference` of a photo, its errors naming the photo."""
    try:
        return colorizer.reference(rgb, strength)
    except FilmcolorError as e:
        raise type(e)(f"reference {path}: {e}") from None


def _given(name: str) -> bool:
    """Whether the user typed option ``name`` (rather than left its default)."""
    return click.get_current_context().get_parameter_source(name) == click.core.ParameterSource.COMMANDLINE


def _check_strength(has_reference: bool) -> None:
    if _given("reference_strength") and not has_reference:
        click.echo("note: --reference-strength does nothing without a reference", err=True)


def _check_video_options(codec: str, crf: int, no_smooth: bool) -> None:
    """Refuse a --crf the encoder cannot take; say when an option given does nothing."""
    enc = VIDEO_CODECS[codec]
    if _given("crf") and enc.crf_option is None:
        click.echo(f"note: --crf does nothing with {codec} (it has no quality number)", err=True)
    elif crf > enc.crf_max:
        raise click.BadParameter(f"{crf} is above {codec}'s highest, {enc.crf_max}", param_hint="--crf")
    if _given("preset") and not enc.uses_preset:
        click.echo(f"note: --preset does nothing with {codec}", err=True)
    if _given("key_interval") and no_smooth:
        click.echo("note: --key-interval does nothing with --no-smooth: every frame goes through the network",
                   err=True)


@main.command(context_settings=CONTEXT)
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

    from .evaluate import EvalOptions, beats_grey, find_inputs, with_mean
    from .evaluate import evaluate as run_evaluation

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

    colorizer = load_colorizer(model_path, device, size)
    results = run_evaluation(colorizer, inputs, opts, on_error)
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


if __name__ == "__main__":
    main()
