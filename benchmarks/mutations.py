"""Mutation check of the film path's wiring: plant one plausible bug at a time,
run the test files that should see it, and say which test failed (or that the
bug SURVIVED). Each file is restored after its run, whatever happens.

    python benchmarks/mutations.py [NAME-PART ...]   # only the mutations whose name contains one

Prints a Markdown table: mutation | file | first failing test. Takes several
minutes (each row runs one to three test files); run it on a clean tree.
"""

from __future__ import annotations

import re
import subprocess
import sys

from common import REPO

M = [
 ("--workers ignored", "filmcolor/cli/common.py", "    return Pool(workers) if workers > 1 else Serial()", "    return Serial()", ["tests/test_segments.py"]),
 ("a killed worker hangs the run", "filmcolor/runners.py", "                    except BrokenProcessPool:", "                    except ZeroDivisionError:", ["tests/test_runners.py"]),
 ("--ray ignored for a film's segments", "filmcolor/segments.py", "    runner = runner or Serial()", "    runner = Serial()", ["tests/test_cluster.py"]),
 ("--ray ignored for several films", "filmcolor/cli/films.py", '    if ready and job.runner.name == "Ray":', "    if False:", ["tests/test_cluster.py"]),
 ("--ray ignored for photos", "filmcolor/cli/photos.py", "    runner = pick_runner(1, ray_address, device) if ray_address is not None and work else Serial()", "    runner = Serial()", ["tests/test_cluster.py"]),
 ("Ray retries set to 0", "filmcolor/cluster.py", "max_retries=RETRIES, retry_exceptions=True", "max_retries=0, retry_exceptions=False", ["tests/test_cluster.py"]),
 ("--reference-strength ignored (image)", "filmcolor/cli/photos.py", "steer(colorizer, reference_path, reference, reference_strength)", "steer(colorizer, reference_path, reference, 1.0)", ["tests/test_orchestration.py", "tests/test_reference.py"]),
 ("--reference-strength ignored (video)", "filmcolor/cli/films.py", "steer(c, path, rgb, strength, c.film_size)", "steer(c, path, rgb, 1.0, c.film_size)", ["tests/test_orchestration.py", "tests/test_reference.py"]),
 ("a film's reference fitted at the photo size", "filmcolor/cli/films.py", "steer(c, path, rgb, strength, c.film_size)", "steer(c, path, rgb, strength)", ["tests/test_reference.py"]),
 ("film frames seen at the photo size", "filmcolor/frames.py", "small_shape(lay.height, lay.width, self.colorizer.film_size)", "small_shape(lay.height, lay.width, self.colorizer.size)", ["tests/test_colorizer.py"]),
 ("photos seen at the training size", "filmcolor/colorizer.py", "        return self.net.info.photo_size or self.net.info.train_size", "        return self.net.info.train_size", ["tests/test_colorizer.py"]),
 ("cpu_threads ignored", "filmcolor/video/stages.py", "    return opts.cpu_threads or max(1, (os.cpu_count() or 1) // 4)", "    return max(1, (os.cpu_count() or 1) // 4)", ["tests/test_orchestration.py", "tests/test_video.py"]),
 ("a segment's frame count off by one (plan)", "filmcolor/segments.py", "index=n, frames=stop - i))", "index=n, frames=stop - i - (n == 1)))", ["tests/test_segments.py"]),
 ("a segment's frame count off by one (damage booked)", "filmcolor/segments.py", "    report.lost_frames = max(0, seg.frames - report.frames - report.damaged_packets)", "    report.lost_frames = max(0, seg.frames + 1 - report.frames - report.damaged_packets)", ["tests/test_segments.py"]),
 ("the join's decode-time repair removed", "filmcolor/video/mux.py", "            if p.dts is not None and self.last_dts is not None and p.dts <= self.last_dts:", "            if False:", ["tests/test_orchestration.py", "tests/test_segments.py"]),
 ("the seeking-not-exact check removed", "filmcolor/segments.py", "    if report.window_packets != seg.frames or report.first_pts is None or report.first_pts < seg.start:", "    if False:", ["tests/test_segments.py"]),
 ("a zero-frame film published", "filmcolor/video/pipeline.py", "            if report.frames == 0:", "            if False:", ["tests/test_orchestration.py", "tests/test_video.py"]),
 ("luma lookup always limited range", "filmcolor/frames.py", "        lut = color.l_from_luma_table(lumas[0][1], lay.full_range)", "        lut = color.l_from_luma_table(lumas[0][1], False)", ["tests/test_orchestration.py", "tests/test_frames.py", "tests/test_video.py"]),
 ("carried colour interpolated across a cut", "filmcolor/frames.py", "            if after is not None and not motions[after - first].fresh:", "            if after is not None:", ["tests/test_frames.py"]),
 ("resume forgets finished segments", "filmcolor/manifest.py", "    return {i: r for i, f in enumerate(files) if (r := load_report(f)) is not None}", "    return {}", ["tests/test_segments.py"]),
 ("a pool interrupted lets its workers run on", "filmcolor/runners.py", "            _stop_now(pool)\n", "            pass\n", ["tests/test_runners.py", "tests/test_segments.py"]),
 ("chapters and film tags dropped", "filmcolor/video/mux.py", "            copy_container_tags(source.container, output)\n", "            pass\n", ["tests/test_catalogue.py"]),
 ("a re-encoded track moved to the end", "filmcolor/video/mux.py", "            elif s.index in plan.reencode:", "            elif False:", ["tests/test_catalogue.py"]),
 ("stream languages dropped", "filmcolor/video/tags.py", "    dst.metadata.update(_titled(carried(dict(src.metadata))))\n", "    pass\n", ["tests/test_catalogue.py"]),
 ("what the container lost not said", "filmcolor/video/pipeline.py", "                report.warnings += what_was_lost(source.container, muxer.order, tmp, dst.suffix)", "                pass", ["tests/test_catalogue.py"]),
 ("raw DV's 60000 fps believed", "filmcolor/video/source.py", "    if vin.guessed_rate and rate > 4 * vin.guessed_rate:", "    if False:", ["tests/test_catalogue.py"]),
 ("an edit list's hidden frames planned", "filmcolor/segments.py", "            if not p.size or p.is_discard:", "            if not p.size:", ["tests/test_segments.py"]),
 ("--drop ignored", "filmcolor/video/layout.py", "        if s.index in drop:", "        if False:", ["tests/test_catalogue.py"]),
 ("DVD navigation carried", "filmcolor/video/streams.py", '    if name == "dvd_nav_packet":', '    if False:', ["tests/test_catalogue.py"]),
 ("RGB kept 4:4:4", "filmcolor/encoding.py", '    if rgb_as_420(codec, in_format) and "yuv420p" in formats:', "    if False:", ["tests/test_catalogue.py"]),
 ("alpha plane not copied", "filmcolor/frames.py", "            if lay.alpha:\n", "            if False:\n", ["tests/test_catalogue.py"]),
 ("chroma memory ignored", "filmcolor/frames.py", "            memory = smoother.cfg.chroma_memory\n", "            memory = 0.0\n", ["tests/test_frames.py"]),
 ("--pix-fmt ignored", "filmcolor/video/layout.py", "source.width, source.height, opts.pix_fmt)", "source.width, source.height, None)", ["tests/test_catalogue.py"]),
 ("XMP not carried", "filmcolor/captions.py", '        opts["xmp"] = c.xmp\n', "        pass\n", ["tests/test_captions.py"]),
 ("IPTC not put back", "filmcolor/captions.py", '    if fmt == "JPEG" and c.iptc:', "    if False:", ["tests/test_captions.py"]),
 ("PNG gamma not written", "filmcolor/captions.py", "        if c.gamma:", "        if False:", ["tests/test_captions.py"]),
 ("a Gray/Lab profile kept on colour", "filmcolor/captions.py", '    if space == "RGB":', "    if True:", ["tests/test_captions.py"]),
 ("16-bit TIFF credits lost without a word", "filmcolor/images.py", '    if sixteen and fmt == "TIFF" and pic.exif:', "    if False:", ["tests/test_captions.py"]),
 ("two runs not locked out", "filmcolor/manifest.py", "            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)\n", "            pass\n", ["tests/test_segments.py"]),
 ("unread pictures not named", "filmcolor/cli/photos.py", "    if unread:", "    if False:", ["tests/test_images.py"]),
 ("a too-long picture not refused", "filmcolor/images.py", "                if max(w, h) >= color.SHRT_MAX or max(w, h) >= 255 * min(w, h):", "                if False:", ["tests/test_images.py"]),
 ("an unwritable folder found out late", "filmcolor/images.py", "        elif (folder := _unwritable(job.dst.parent)) is not None:", "        elif False:", ["tests/test_images.py"]),
 ("a change of shape's distortion not said", "filmcolor/video/demux.py", "{source.in_format}{_distortion(seen, source)}", "{source.in_format}", ["tests/test_archive.py"]),
 ("an attachment called empty", "filmcolor/video/mux.py", ' and s.type != "attachment":', ":", ["tests/test_catalogue.py"]),
 ("the progress bar stuck past its total", "filmcolor/cli/films.py", "    if bar.total and bar.n + n > bar.total:", "    if False:", ["tests/test_catalogue.py"]),
 ("a QuickTime title not taken as a title", "filmcolor/video/tags.py", "    dst.metadata.update(_titled(carried(dict(src.metadata))))", "    dst.metadata.update(carried(dict(src.metadata)))", ["tests/test_catalogue.py"]),
 ("alpha lost without a word", "filmcolor/video/layout.py", "    elif alpha:", "    elif False:", ["tests/test_catalogue.py"]),
 ("--ray address not checked", "filmcolor/cluster.py", "        _check_reachable(address)\n", "        pass\n", ["tests/test_runners.py"]),
 ("--hold-out ignored", "train/loop.py", '            files = data.outside(files, cfg.hold_out, "--hold-out")', "            pass", ["tests/test_train.py"]),
 ("a frozen encoder still takes gradients", "train/loop.py", "        encoder.requires_grad_(False)", "        pass", ["tests/test_train.py"]),
 ("--freeze-bn ignored", "train/loop.py", "    if freeze_bn and encoder is not None:", "    if False:", ["tests/test_train.py"]),
 ("--data-fraction ignored", "train/loop.py", "        train_files = data.subsample(train_files, cfg.data, cfg.data_fraction, cfg.seed)", "        pass", ["tests/test_train.py"]),
 ("--epoch-size ignored", "train/loop.py", "cfg.epoch_size or len(train_ds)", "len(train_ds)", ["tests/test_train.py"]),
 ("--resume with another network not refused", "train/loop.py", '        _check_resumable(out / "config.json", cfg)', "        pass", ["tests/test_train.py"]),
 ("the sureness weight ignored (numpy)", "filmcolor/decoding.py", "    if not dec.confidence:", "    if True:", ["tests/test_colorizer.py", "tests/test_export.py"]),
 ("a decoding given to the Colorizer ignored", "filmcolor/colorizer.py", "        if reference is None and self.cfg.decoding is None:", "        if reference is None:", ["tests/test_colorizer.py"]),
 ("WebM VP9 alpha read by FFmpeg's own decoder", "filmcolor/video/source.py", "    decoder = _alpha_decoder(vin, in_format)", "    decoder = None", ["tests/test_catalogue.py"]),
 ("hue cells near an edge left to OpenCV", "filmcolor/color.py", "        if edge.size:\n", "        if False:\n", ["tests/test_color.py"]),
 ("the quality interval drawn by photo, not by source", "benchmarks/quality.py", "groups.setdefault(str(source), [])", "groups.setdefault(str(path), [])", ["tests/test_benchmarks.py"]),
 ("collisions judged on the input clock", "filmcolor/timestamps.py", "                elif self._on_output(out) <= self._on_output(self.last):", "                elif out < self.last + math.ceil(self.min_step):", ["tests/test_archive.py"]),
]


def main() -> None:
    """Plant each mutation of M (or those named on the command line) and run its tests."""
    only = sys.argv[1:]
    print("| mutation | file | first failing test |")
    print("|---|---|---|")
    rows = []
    for name, path, old, new, tests in M:
        if only and not any(o in name for o in only):
            continue
        f = REPO / path
        src = f.read_text()
        if src.count(old) != 1:  # the code this row plants its bug in has changed: say so, go on
            print(f"| {name} | {path} | STALE: the line it changes is not there once |", flush=True)
            continue
        f.write_text(src.replace(old, new))
        try:
            r = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-x", *tests],
                               cwd=REPO, capture_output=True, text=True, timeout=900)
            failed = re.findall(r"^FAILED (\S+)", r.stdout, re.M)
            rows.append((name, path, failed[0] if failed else ("SURVIVED" if r.returncode == 0 else f"rc {r.returncode}")))
        finally:
            f.write_text(src)
        print(f"| {rows[-1][0]} | {rows[-1][1]} | {rows[-1][2]} |", flush=True)


if __name__ == "__main__":
    main()
