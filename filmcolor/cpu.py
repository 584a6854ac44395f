"""Whether this CPU runs int8 convolutions fast: the choice between the bundled
model's float32 file and its int8 copy for films (network.bundled_path).

ONNX Runtime's int8 kernels are fast only with int8 dot-product instructions:
x86 AVX512-VNNI or AVX-VNNI, ARM's dot product (ASIMDDP, every Apple Silicon
chip). Without them (x86 with AVX2 alone) each pair of products is summed in
int16 and widened, and the int8 copy was 0.90-1.01x the float32 file's speed
on an AVX2-only EPYC, against 1.5-2.1x on an AVX512-VNNI one
(`python benchmarks/networks.py --int8` on both; README, "Speed and memory").
"""

from __future__ import annotations

import functools
import platform
from pathlib import Path

# names as /proc/cpuinfo spells them (numpy's are mapped onto these below)
INT8_DOT_FLAGS = frozenset({"avx512_vnni", "avx_vnni", "asimddp"})
NUMPY_NAMES = {"AVX512VNNI": "avx512_vnni", "ASIMDDP": "asimddp"}  # numpy knows no AVX-VNNI


def numpy_flags() -> set[str]:
    """The int8 dot-product features numpy's own CPU detection found (any OS)."""
    try:
        from numpy._core._multiarray_umath import __cpu_features__ as found
    except ImportError:  # numpy 1.x
        try:
            from numpy.core._multiarray_umath import __cpu_features__ as found
        except ImportError:
            return set()
    return {ours for theirs, ours in NUMPY_NAMES.items() if found.get(theirs)}


def cpuinfo_flags(path: Path = Path("/proc/cpuinfo")) -> set[str]:
    """The CPU flags Linux lists (x86 ``flags``, ARM ``Features``); empty elsewhere."""
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return set()
    flags: set[str] = set()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip().lower() in ("flags", "features"):
            flags.update(value.split())
    return flags


@functools.cache
def fast_int8() -> bool:
    """True where this CPU has int8 dot-product instructions (see the module's docstring)."""
    if platform.system() == "Darwin" and platform.machine() == "arm64":
        return True
    return bool((numpy_flags() | cpuinfo_flags()) & INT8_DOT_FLAGS)
