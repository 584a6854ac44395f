"""One check of filmcolor on a CUDA GPU: the machine, CUDA tests, colour, speed.

    python benchmarks/gpu_check.py --out gpu_check.json

Needs the project installed as the README says, plus ONNX Runtime's GPU build::

    pip install -e ".[test]" && pip install onnxruntime-gpu

(``onnx``, from the test extra, makes the fp16 graph; without it the fp16 rows
are skipped with the reason.) It runs from the repository, in under 8 minutes
(``--budget``, 450 s by default, bounds the whole run), in parts:

1. ``machine``: GPU name and memory (nvidia-smi), ONNX Runtime's version,
   installed builds and providers, CPU count, and whether a CUDA session starts
   (retried after ``onnxruntime.preload_dlls()`` if it does not);
2. ``cuda_tests``: ``python -m pytest -m cuda -q`` (exit code 5, no tests
   collected, is reported as "none marked");
3. ``colour_photos``: the bundled model on 3 sample photos, CUDA against CPU
   (max and mean abs difference of the uint8 pixels, PSNR);
   ``colour_film``: ``colorize_video`` on the first 50 frames of
   bigbuckbunny.mp4 on each, written lossless (ffv1) so that only the colour
   differs, decoded and compared frame by frame; ``network_ab``: the network's
   a/b for one batch of sample photos, fp32 CUDA and fp16 CUDA against fp32 CPU;
4. ``network_speed``: the network alone, frames/s at 128 and 256 pixels, batch
   8 to 64, fp32 and fp16 (median of timed runs after warm-up; on CUDA also with
   input and output bound on the GPU), and the CPU at batch 8, 128 pixels;
5. ``video_speed``: ``filmcolor video`` (CUDA, and CPU) against a plain PyAV
   transcode (benchmarks/video.py) of a 130-frame 1080p copy of
   bigbuckbunny.mp4, libx264 crf 18 preset medium: fps of each and the ratio.

Each part runs in its own process under a time limit, so a crash, hang or
error in one is recorded (``"status": "error"`` or ``"timeout"``) and the next
part still runs. Without CUDA each CUDA part is recorded as ``"skipped"`` with
the reason, and the CPU parts that make sense still run (the machine, the CPU
network timing). All figures go to ONE JSON file (written after every part);
a short summary is printed. Exit code 1 if any part failed, else 0.

``--quick`` uses tiny inputs and one repeat (seconds; for tests).
``--device cpu`` runs every "CUDA" part on the CPU instead, against the CPU:
a way to try all of the script on a machine without a GPU (differences 0).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
from common import REPO, timed

SAMPLES = REPO / "samples"
PHOTOS = ("street.jpg", "livingroom.jpg", "grandfather.jpg")  # compared CPU against CUDA
BATCH_PHOTOS = ("street.jpg", "livingroom.jpg", "grandfather.jpg", "beach.jpg", "castle.jpg", "lake.jpg")
CLIP = SAMPLES / "video" / "bigbuckbunny.mp4"
BUDGET_S = 450.0  # the whole run, so that it ends in under 8 minutes
MIN_PART_S = 10.0  # a part is not started with less time than this left


@dataclass
class Plan:
    """What one run measures; the same in the driver and in every part's process."""

    quick: bool
    device: str  # the device checked against the CPU: cuda, cuda:N (or cpu, to try the script)
    deadline: float = math.inf  # time.time() by which a part should have wrapped up
    accel_skip: str | None = None  # why the device's rows are skipped (no CUDA), or None
    preload: bool = False  # call onnxruntime.preload_dlls() first (the machine part found it needed)

    @property
    def repeats(self) -> int:
        return 1 if self.quick else 7

    @property
    def warmup(self) -> int:
        return 1 if self.quick else 3

    @property
    def sizes(self) -> tuple[int, ...]:
        return (64,) if self.quick else (128, 256)

    @property
    def batches(self) -> tuple[int, ...]:
        return (2, 4) if self.quick else (8, 16, 32, 64)

    @property
    def photo_side(self) -> int | None:
        """Photos are shrunk to this short side (None: as they are)."""
        return 192 if self.quick else None

    @property
    def film(self) -> tuple[int, tuple[int, int] | None]:
        """Frames and size (None: the source's) of the clip whose colour is compared."""
        return (6, (320, 180)) if self.quick else (50, None)

    @property
    def speed_film(self) -> tuple[int, tuple[int, int]]:
        """Frames and size of the clip timed against the plain transcode."""
        return (8, (320, 180)) if self.quick else (130, (1920, 1080))

    @property
    def preset(self) -> str:
        return "ultrafast" if self.quick else "medium"

    @property
    def film_repeats(self) -> int:
        return 1 if self.quick else 2

    def left(self) -> float:
        return self.deadline - time.time()

    def args(self) -> list[str]:
        """This plan as command-line options for a part's process."""
        out = ["--device", self.device, "--deadline", repr(self.deadline)]
        if self.quick:
            out.append("--quick")
        if self.accel_skip:
            out += ["--accel-skip", self.accel_skip]
        if self.preload:
            out.append("--preload-dlls")
        return out


class Record(dict):
    """A part's figures, saved to its file after every step: a part killed for
    time still leaves what it had measured."""

    def __init__(self, path: Path):
        super().__init__()
        self.path = path

    def save(self) -> None:
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self, indent=1, default=str))
        tmp.replace(self.path)


class OutOfTime(Exception):
    """A part's own deadline came before it finished."""


# ------------------------------------------------------------------ helpers


def diff_stats(a: np.ndarray, b: np.ndarray) -> dict[str, Any]:
    """max and mean abs difference, and PSNR (dB; None where identical) of two uint8 arrays."""
    d = np.abs(a.astype(np.int16) - b.astype(np.int16))
    mse = float(np.mean(d.astype(np.float64) ** 2))
    return {
        "max_abs": int(d.max()),
        "mean_abs": float(d.mean()),
        "psnr_db": None if mse == 0 else 10 * math.log10(255.0**2 / mse),
        "identical": mse == 0,
    }


def ab_stats(ab: np.ndarray, ref: np.ndarray) -> dict[str, Any]:
    """How far a/b (LAB units) is from the reference a/b."""
    d = np.abs(ab.astype(np.float64) - ref.astype(np.float64))
    return {
        "max_abs": float(d.max()),
        "mean_abs": float(d.mean()),
        "mean_abs_ref": float(np.abs(ref).mean()),  # the scale: how much colour there is
        "relative": float(d.mean() / max(np.abs(ref).mean(), 1e-9)),
    }


def first_line(e: BaseException) -> str:
    text = str(e).strip()
    return f"{type(e).__name__}: {text.splitlines()[0]}" if text else type(e).__name__


def load_colorizer(device: str, size: int | None = None):
    from filmcolor import Colorizer

    return Colorizer.load(device=device, size=size)


def fp16_session(providers: list):
    """The bundled model converted to fp16 (inputs and outputs stay float32), on ``providers``.

    Returns (session, seconds the conversion took). ImportError without the onnx package.
    """
    import onnx
    import onnxruntime as ort
    from onnxruntime.transformers.float16 import convert_float_to_float16

    from filmcolor.network import DEFAULT_PATH

    t = time.perf_counter()
    model = convert_float_to_float16(onnx.load(str(DEFAULT_PATH)), keep_io_types=True)
    seconds = time.perf_counter() - t
    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    return ort.InferenceSession(model.SerializeToString(), opts, providers=providers), seconds


def sample_batch(n: int = 8, side: int = 128) -> np.ndarray:
    """Lightness (n, 1, side, side) float32 of the sample photos (and their mirror images)."""
    import cv2

    from filmcolor import color
    from filmcolor.images import read_picture

    planes = []
    for name in BATCH_PHOTOS:
        px = read_picture(SAMPLES / name).pixels
        rgb = px if px.ndim == 3 else np.repeat(px[..., None], 3, axis=2)
        small = cv2.resize(np.ascontiguousarray(rgb[..., :3]), (side, side), interpolation=cv2.INTER_AREA)
        planes.append(color.rgb_to_lab(small)[..., 0].astype(np.float32))
    while len(planes) < n:
        planes.append(planes[len(planes) % len(BATCH_PHOTOS)][:, ::-1])
    return np.ascontiguousarray(np.stack(planes[:n])[:, None])


def make_clip(src: Path, dst: Path, frames: int, size: tuple[int, int] | None, audio: bool) -> Path:
    """The first ``frames`` frames of ``src`` (scaled to ``size``), x264 crf 16, with its
    audio up to there if ``audio``."""
    import av
    from av.video.frame import PictureType

    with av.open(str(src)) as inp, av.open(str(dst), "w") as out:
        vin = inp.streams.video[0]
        vin.thread_type = "AUTO"
        rate = vin.average_rate or Fraction(25)
        w, h = size or (vin.codec_context.width, vin.codec_context.height)
        vout = out.add_stream("libx264", rate=rate, options={"crf": "16", "preset": "veryfast"})
        vout.width, vout.height, vout.pix_fmt = w, h, "yuv420p"
        vout.codec_context.time_base = 1 / rate
        ain = inp.streams.audio[0] if audio and inp.streams.audio else None
        aout = out.add_stream_from_template(ain) if ain is not None else None
        n = 0
        for packet in inp.demux(*(s for s in (vin, ain) if s is not None)):
            if packet.stream is vin:
                for frame in packet.decode():
                    if n >= frames:
                        break
                    f = frame.reformat(width=w, height=h, format="yuv420p") if size else frame
                    f.pict_type = PictureType.NONE
                    f.pts, f.time_base = n, 1 / rate
                    for p in vout.encode(f):
                        out.mux(p)
                    n += 1
                if n >= frames:
                    break
            elif aout is not None and packet.size:
                packet.stream = aout
                out.mux(packet)
        for p in vout.encode(None):
            out.mux(p)
    return dst


def decoded_frames(path: Path) -> list[np.ndarray]:
    import av

    with av.open(str(path)) as c:
        return [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]


# ------------------------------------------------------------------ parts


def part_machine(plan: Plan, rec: Record) -> None:
    from importlib import metadata

    rec["python"] = sys.version.split()[0]
    rec["platform"] = platform.platform()
    rec["cpu_count"] = os.cpu_count()
    smi = shutil.which("nvidia-smi")
    if smi is None:
        rec["gpus"], rec["nvidia_smi"] = [], "not found"
    else:
        try:
            out = subprocess.run([smi, "--query-gpu=name,memory.total", "--format=csv,noheader"],
                                 capture_output=True, text=True, timeout=30)
            rec["gpus"] = [{"name": n.strip(), "memory_total": m.strip()}
                           for n, _, m in (line.rpartition(",") for line in out.stdout.splitlines() if line.strip())]
            rec["nvidia_smi"] = "ok" if out.returncode == 0 else f"exit {out.returncode}: {out.stderr.strip()[:300]}"
        except (OSError, subprocess.TimeoutExpired) as e:
            rec["gpus"], rec["nvidia_smi"] = [], first_line(e)
    rec.save()
    builds = {}
    for dist in ("onnxruntime", "onnxruntime-gpu", "onnx", "av", "numpy", "opencv-python-headless"):
        try:
            builds[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            builds[dist] = None
    rec["packages"] = builds
    if builds["onnxruntime"] and builds["onnxruntime-gpu"]:
        rec["packages_note"] = ("both onnxruntime and onnxruntime-gpu are installed: they share one module "
                                "folder, the last installed wins")
    import onnxruntime as ort

    rec["onnxruntime"] = ort.__version__
    rec["providers"] = ort.get_available_providers()
    rec.save()
    accel = rec["accelerator"] = {"device": plan.device}
    try:
        c = load_colorizer(plan.device)
    except ValueError as e:
        accel.update(ok=False, reason=str(e))
        if plan.device != "cpu" and "CUDAExecutionProvider" in rec["providers"] and hasattr(ort, "preload_dlls"):
            # the pip CUDA/cuDNN libraries (nvidia-* wheels) are not found by themselves
            try:
                ort.preload_dlls()
                c = load_colorizer(plan.device)
                accel.update(ok=True, preload_dlls=True, note="CUDA started only after onnxruntime.preload_dlls()")
            except Exception as e2:
                accel["retry_after_preload_dlls"] = first_line(e2)
                return
        else:
            return
    accel.update(ok=True, runs_on=c.device, session_providers=c.net.session.get_providers())
    accel.setdefault("preload_dlls", False)


def part_cuda_tests(plan: Plan, rec: Record) -> None:
    cmd = [sys.executable, "-m", "pytest", "-m", "cuda", "-q", "-p", "no:cacheprovider"]
    rec["command"] = " ".join(["python", *cmd[1:]])
    try:
        # the variable tells tests that run this script not to run it again from inside
        env = {**os.environ, "FILMCOLOR_GPU_CHECK_CHILD": "1"}
        out = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True,
                             timeout=max(1.0, plan.left()))
    except subprocess.TimeoutExpired:
        raise OutOfTime(f"pytest still running after {plan.left():.0f} s") from None
    rec["exit_code"] = out.returncode
    outcome = {0: "passed", 1: "failed", 5: "none marked"}.get(out.returncode, "error")
    rec["outcome"] = outcome
    lines = [line for line in (out.stdout + out.stderr).splitlines() if line.strip()]
    rec["summary"] = lines[-1] if lines else ("no test is marked cuda" if out.returncode == 5 else "")
    if outcome in ("failed", "error"):
        rec["status"] = "failed"
        rec["tail"] = "\n".join(lines[-40:])


def part_colour_photos(plan: Plan, rec: Record) -> None:
    import cv2

    from filmcolor.images import read_picture

    cpu, acc = load_colorizer("cpu"), load_colorizer(plan.device)
    rec["device"] = acc.device
    rows = rec["photos"] = []
    for name in PHOTOS:
        grey = read_picture(SAMPLES / name).pixels
        if plan.photo_side:
            h, w = grey.shape[:2]
            s = plan.photo_side / min(h, w)
            grey = cv2.resize(grey, (round(w * s), round(h * s)), interpolation=cv2.INTER_AREA)
        a, b = cpu.colorize(grey), acc.colorize(grey)
        rows.append({"photo": name, "shape": list(grey.shape[:2]), **diff_stats(a, b)})
        rec.save()
    rec["max_abs"] = max(r["max_abs"] for r in rows)
    rec["mean_abs"] = statistics.fmean(r["mean_abs"] for r in rows)
    psnrs = [r["psnr_db"] for r in rows if r["psnr_db"] is not None]
    rec["min_psnr_db"] = min(psnrs) if psnrs else None


def part_colour_film(plan: Plan, rec: Record) -> None:
    from filmcolor.video import VideoOptions, colorize_video

    frames, size = plan.film
    with tempfile.TemporaryDirectory() as tmp:
        clip = make_clip(CLIP, Path(tmp) / "clip.mp4", frames, size, audio=False)
        out = {}
        for side, device in (("cpu", "cpu"), ("accel", plan.device)):
            c = load_colorizer(device)
            t = time.perf_counter()
            report = colorize_video(c, clip, Path(tmp) / f"{side}.mkv", VideoOptions(codec="ffv1"))
            rec[f"{side}_seconds"] = time.perf_counter() - t
            rec[f"{side}_frames"] = report.frames
            out[side] = decoded_frames(Path(tmp) / f"{side}.mkv")
            if plan.left() < 0:
                raise OutOfTime(f"after the {side} film")
    rec["clip"] = f"{CLIP.name}, first {frames} frames" + (f" at {size[0]}x{size[1]}" if size else "")
    rec["codec"] = "ffv1 (lossless)"
    a, b = out["cpu"], out["accel"]
    if len(a) != len(b) or not a:
        raise RuntimeError(f"decoded {len(a)} frames from the CPU film, {len(b)} from the other")
    per_frame = [float(np.abs(x.astype(np.int16) - y.astype(np.int16)).mean()) for x, y in zip(a, b, strict=True)]
    rec["frames"] = len(a)
    rec["mean_abs"] = statistics.fmean(per_frame)
    rec["worst_frame_mean_abs"] = max(per_frame)
    whole = diff_stats(np.stack(a), np.stack(b))
    rec["max_abs"], rec["psnr_db"] = whole["max_abs"], whole["psnr_db"]


def part_network_ab(plan: Plan, rec: Record) -> None:
    cpu, acc = load_colorizer("cpu"), load_colorizer(plan.device)
    L = sample_batch(8, 128)
    rec["batch"] = list(L.shape)
    ref = cpu.net.run(L)[0]
    rec["fp32"] = {"device": acc.device, **ab_stats(acc.net.run(L)[0], ref)}
    rec.save()
    try:
        sess, seconds = fp16_session(acc.net.providers)
    except ImportError as e:
        rec["fp16"] = {"skipped": f"fp16 needs the onnx package ({first_line(e)}): pip install onnx"}
        return
    ab16 = sess.run(["ab"], {"L": L})[0]
    rec["fp16"] = {"runs_on": sess.get_providers()[0], "convert_s": seconds, **ab_stats(ab16, ref),
                   "finite": bool(np.isfinite(ab16).all())}


def part_network_speed(plan: Plan, rec: Record) -> None:
    cpu = load_colorizer("cpu")
    L8 = np.random.default_rng(0).uniform(0, 100, (8, 1, 128, 128)).astype(np.float32)
    times = timed(lambda: cpu.net.session.run(["ab"], {"L": L8}), plan.warmup, 3 if plan.quick else 5)
    med = statistics.median(times)
    rec["cpu"] = {"precision": "fp32", "size": 128, "batch": 8, "threads": "onnxruntime default",
                  "median_s": med, "fps": 8 / med, "runs": len(times)}
    rec.save()
    if plan.accel_skip:
        rec["accel"] = {"skipped": plan.accel_skip}
        return
    from filmcolor.network import parse_device

    acc = load_colorizer(plan.device)
    accel: dict[str, Any] = {"device": acc.device, "rows": []}
    rec["accel"] = accel
    sessions = {"fp32": acc.net.session}
    try:
        sessions["fp16"], _ = fp16_session(acc.net.providers)
    except ImportError as e:
        accel["fp16"] = {"skipped": f"fp16 needs the onnx package ({first_line(e)}): pip install onnx"}
    # IO binding: on CUDA the input and output stay on the GPU (the network's own speed);
    # on the CPU (--device cpu) it is the same run, done to try the code
    where = ("cuda", parse_device(plan.device)[1]) if acc.device == "cuda" else ("cpu", 0)
    accel["bound_on"] = where[0]
    rng = np.random.default_rng(0)
    for precision, sess in sessions.items():
        for size in plan.sizes:
            for batch in plan.batches:
                if plan.left() < 0:
                    accel["incomplete"] = "out of time: the remaining rows were not measured"
                    return
                L = rng.uniform(0, 100, (batch, 1, size, size)).astype(np.float32)
                row: dict[str, Any] = {"precision": precision, "size": size, "batch": batch}
                try:
                    t = timed(lambda s=sess, x=L: s.run(["ab"], {"L": x}), plan.warmup, plan.repeats)
                    row.update(median_s=statistics.median(t), fps=batch / statistics.median(t), runs=len(t))
                    t = timed(io_bound(sess, L, *where), plan.warmup, plan.repeats)
                    row.update(bound_median_s=statistics.median(t), bound_fps=batch / statistics.median(t))
                except Exception as e:
                    row["error"] = first_line(e)
                accel["rows"].append(row)
                rec.save()


def io_bound(sess, L: np.ndarray, device: str, device_id: int) -> Callable[[], None]:
    """A run with L already on ``device`` and ab left there (IO binding)."""
    import onnxruntime as ort

    io = sess.io_binding()
    x = ort.OrtValue.ortvalue_from_numpy(L, device, device_id)
    io.bind_ortvalue_input("L", x)
    io.bind_output("ab", device, device_id)

    def run(keep: object = x) -> None:  # keep: the input must outlive the binding
        sess.run_with_iobinding(io)
        io.synchronize_outputs()

    return run


def part_video_speed(plan: Plan, rec: Record) -> None:
    import video  # benchmarks/video.py: the plain transcode

    from filmcolor.video import VideoOptions, colorize_video

    frames, (w, h) = plan.speed_film
    rec["clip"] = f"{CLIP.name} scaled to {w}x{h}, first {frames} frames, with its audio"
    rec["encoder"] = f"libx264 crf 18 preset {plan.preset}"
    opts = VideoOptions(preset=plan.preset, crf=18)
    rec["batch_size"], rec["key_interval"] = opts.batch_size, opts.key_interval
    with tempfile.TemporaryDirectory() as tmp:
        clip = make_clip(CLIP, Path(tmp) / "clip.mp4", frames, (w, h), audio=True)
        runs: dict[str, Callable[[], int]] = {
            "transcode": lambda: video.transcode(clip, Path(tmp) / "t.mp4", plan.preset, 18),
        }
        devices = [plan.device] if plan.device == "cpu" else [plan.device, "cpu"]
        for device in devices:
            c = load_colorizer(device)
            name = "filmcolor_cpu" if device == "cpu" else "filmcolor_accel"
            rec[f"{name}_device"] = c.device
            runs[name] = lambda c=c: colorize_video(c, clip, Path(tmp) / "c.mp4", opts).frames
        best = {k: math.inf for k in runs}
        for i in range(plan.film_repeats):
            if i and plan.left() < 0:
                rec["incomplete"] = f"out of time: best of {i} runs"
                break
            for key, fn in runs.items():
                t = time.perf_counter()
                n = fn()
                best[key] = min(best[key], time.perf_counter() - t)
                rec[f"{key}_frames"] = n
                rec[f"{key}_fps"] = n / best[key]
                rec.save()
        rec["repeats"] = plan.film_repeats
    for key in runs:
        if key != "transcode" and f"{key}_fps" in rec:
            rec[f"{key}_ratio"] = rec[f"{key}_fps"] / rec["transcode_fps"]


@dataclass
class Part:
    run: Callable[[Plan, Record], None]
    budget_s: float
    needs_accel: bool


PARTS: dict[str, Part] = {
    "machine": Part(part_machine, 60, False),
    "cuda_tests": Part(part_cuda_tests, 120, True),
    "colour_photos": Part(part_colour_photos, 60, True),
    "colour_film": Part(part_colour_film, 90, True),
    "network_ab": Part(part_network_ab, 60, True),
    "network_speed": Part(part_network_speed, 150, False),  # the CPU row always, the device's with one
    "video_speed": Part(part_video_speed, 180, True),
}


# ------------------------------------------------------------------ driver


def run_part(name: str, plan: Plan, timeout: float, tmp: Path) -> dict[str, Any]:
    """One part in its own process (own session: killed with its children on time-out)."""
    out, log = tmp / f"{name}.json", tmp / f"{name}.log"
    part_plan = Plan(plan.quick, plan.device, time.time() + timeout - 5, plan.accel_skip, plan.preload)
    cmd = [sys.executable, str(Path(__file__).resolve()), "--part", name, "--part-out", str(out), *part_plan.args()]
    t = time.perf_counter()
    with open(log, "w") as logf:
        proc = subprocess.Popen(cmd, cwd=REPO, stdout=logf, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            rc = proc.wait(timeout=timeout)
            timed_out = False
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            rc, timed_out = proc.wait(), True
    seconds = time.perf_counter() - t
    try:
        rec = json.loads(out.read_text())
    except (OSError, ValueError):
        rec = {}
    if timed_out:
        rec.update(status="timeout", error=f"killed after {timeout:.0f} s (its time limit)")
    elif "status" not in rec or rc != 0:
        rec.setdefault("status", "error")
        rec.setdefault("error", f"the part's process ended with exit code {rc} and no result")
    if rec["status"] in ("error", "timeout", "failed"):
        rec["log_tail"] = log.read_text(errors="replace")[-3000:]
    rec["seconds"] = round(seconds, 2)
    return rec


def accel_reason(plan: Plan, machine: dict[str, Any]) -> str | None:
    """Why the device's parts cannot run (None: they can)."""
    accel = machine.get("accelerator") or {}
    if accel.get("ok"):
        return None
    providers = machine.get("providers")
    if providers is None:
        return (f"CUDA not checked: the machine part ({machine.get('status')}) did not say which providers "
                f"ONNX Runtime has: {machine.get('error') or machine.get('skipped') or '?'}")
    if plan.device != "cpu" and "CUDAExecutionProvider" not in providers:
        return (f"no CUDA provider: onnxruntime {machine.get('onnxruntime')} offers {', '.join(providers)} "
                "(pip install onnxruntime-gpu)")
    return f"CUDA did not start: {accel.get('reason') or machine.get('error', '?')}"


def summary(results: dict[str, Any]) -> list[str]:
    lines = []
    m = results.get("machine", {})
    gpus = ", ".join(f"{g['name']} ({g['memory_total']})" for g in m.get("gpus", [])) or "no GPU seen"
    lines.append(f"machine: {gpus}; onnxruntime {m.get('onnxruntime')}, {m.get('cpu_count')} CPUs; "
                 f"providers {', '.join(m.get('providers', []))}")
    for name in PARTS:
        r = results.get(name, {})
        head = f"{name} ({r.get('seconds', 0):.0f} s): "
        if r.get("status") == "skipped":
            lines.append(head + "skipped: " + r["skipped"])
            continue
        if r.get("status") in ("error", "timeout"):
            lines.append(head + f"{r['status'].upper()}: {r.get('error')}")
            continue
        if name == "cuda_tests":
            lines.append(head + f"{r.get('outcome')} (exit {r.get('exit_code')}) {r.get('summary', '')}")
        elif name == "colour_photos":
            lines.append(head + f"max {r.get('max_abs')}, mean {r.get('mean_abs', 0):.3f} levels, "
                         f"min PSNR {fmt_db(r.get('min_psnr_db'))}")
        elif name == "colour_film":
            lines.append(head + f"{r.get('frames')} frames, mean {r.get('mean_abs', 0):.3f} levels "
                         f"(worst frame {r.get('worst_frame_mean_abs', 0):.3f}), PSNR {fmt_db(r.get('psnr_db'))}")
        elif name == "network_ab":
            for k in ("fp32", "fp16"):
                x = r.get(k, {})
                lines.append(head + (f"{k}: skipped: {x['skipped']}" if "skipped" in x else
                                     f"{k}: a/b max {x.get('max_abs', 0):.3f}, mean {x.get('mean_abs', 0):.4f} "
                                     f"({100 * x.get('relative', 0):.2f}% of the mean |a/b|)"))
        elif name == "network_speed":
            cpu = r.get("cpu", {})
            lines.append(head + f"CPU fp32 batch 8 at 128: {cpu.get('fps', 0):.1f} fps")
            accel = r.get("accel", {})
            if "skipped" in accel:
                lines.append(f"  device rows skipped: {accel['skipped']}")
            for row in accel.get("rows", []):
                bound = f", bound {row['bound_fps']:.0f}" if "bound_fps" in row else ""
                lines.append(f"  {row['precision']} {row['size']} px batch {row['batch']}: "
                             + (row["error"] if "error" in row else f"{row['fps']:.0f} fps{bound}"))
        elif name == "video_speed":
            parts = [f"transcode {r.get('transcode_fps', 0):.1f} fps"]
            for key in ("filmcolor_accel", "filmcolor_cpu"):
                if f"{key}_fps" in r:
                    parts.append(f"filmcolor {r.get(f'{key}_device')} {r[f'{key}_fps']:.1f} fps "
                                 f"(ratio {r.get(f'{key}_ratio', 0):.2f})")
            lines.append(head + ", ".join(parts))
        if r.get("status") == "failed":
            lines[-1] += "  FAILED"
    return lines


def fmt_db(v: float | None) -> str:
    return "inf (identical)" if v is None else f"{v:.1f} dB"


def drive(args: argparse.Namespace) -> int:
    start = time.perf_counter()
    plan = Plan(args.quick, args.device, preload=False)
    results: dict[str, Any] = {
        "check": {
            "script": "benchmarks/gpu_check.py",
            "started": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "quick": args.quick,
            "device": args.device,
            "budget_s": args.budget,
        }
    }
    out = Path(args.out)

    def write() -> None:
        results["check"]["seconds"] = round(time.perf_counter() - start, 2)
        out.write_text(json.dumps(results, indent=1, default=str) + "\n")

    with tempfile.TemporaryDirectory(prefix="gpu_check_") as tmp:
        for name, part in PARTS.items():
            left = args.budget - (time.perf_counter() - start)
            if left < MIN_PART_S:
                results[name] = {"status": "skipped", "skipped": f"out of time: {left:.0f} s of --budget left"}
            elif part.needs_accel and plan.accel_skip:
                results[name] = {"status": "skipped", "skipped": plan.accel_skip}
            else:
                print(f"{name} ...", flush=True)
                results[name] = run_part(name, plan, min(part.budget_s, left), Path(tmp))
            if name == "machine":
                plan.accel_skip = accel_reason(plan, results[name])
                plan.preload = bool((results[name].get("accelerator") or {}).get("preload_dlls"))
            write()
    print("\n".join(summary(results)))
    print(f"{out} written in {results['check']['seconds']:.0f} s")
    bad = [n for n in PARTS if results[n].get("status") in ("error", "timeout", "failed")]
    if bad:
        print(f"failed: {', '.join(bad)}")
    return 1 if bad else 0


def run_one(args: argparse.Namespace) -> int:
    """In a part's own process: run it and save its record."""
    plan = Plan(args.quick, args.device, args.deadline, args.accel_skip, args.preload_dlls)
    rec = Record(Path(args.part_out))
    try:
        if plan.preload:
            import onnxruntime as ort

            ort.preload_dlls()
        PARTS[args.part].run(plan, rec)
        rec.setdefault("status", "ok")
    except OutOfTime as e:
        rec.update(status="timeout", error=f"out of time: {e}")
    except Exception as e:
        rec.update(status="error", error=first_line(e), traceback=traceback.format_exc()[-3000:])
    rec.save()
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default="gpu_check.json", help="the JSON of all figures (default: ./gpu_check.json)")
    ap.add_argument("--quick", action="store_true", help="tiny inputs, one repeat (for tests)")
    ap.add_argument("--device", default="cuda", help="device checked against the CPU: cuda, cuda:N (cpu: try the script)")
    ap.add_argument("--budget", type=float, default=BUDGET_S, help="seconds for the whole run (default 450)")
    ap.add_argument("--part", choices=list(PARTS), help=argparse.SUPPRESS)
    ap.add_argument("--part-out", help=argparse.SUPPRESS)
    ap.add_argument("--deadline", type=float, default=math.inf, help=argparse.SUPPRESS)
    ap.add_argument("--accel-skip", help=argparse.SUPPRESS)
    ap.add_argument("--preload-dlls", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    return run_one(args) if args.part else drive(args)


if __name__ == "__main__":
    sys.exit(main())
