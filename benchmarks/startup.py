"""How fast the command line answers when it has no film or photo to work on.

    python benchmarks/startup.py [--repeat 5]

Runs, in fresh processes: `filmcolor --help`, `filmcolor video --help`, an
unknown option, a missing film and a missing photo; prints the best and median
wall time of each, and the modules that took longest to import for `--help`
(from `python -X importtime`). ONNX Runtime is imported only by commands that
colorize, after their inputs were checked.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

from common import REPO

CASES = {
    "filmcolor --help": ["--help"],
    "filmcolor video --help": ["video", "--help"],
    "unknown option": ["image", "--bogus"],
    "missing film": ["video", "/nonexistent/in.mp4", "/tmp/out.mp4"],
    "missing photo": ["image", "/nonexistent/photo.jpg"],
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    print(f"{'case':<24} {'best s':>7} {'median s':>9}")
    for name, argv in CASES.items():
        times = []
        for _ in range(args.repeat):
            t = time.perf_counter()
            subprocess.run([sys.executable, "-m", "filmcolor", *argv], capture_output=True, cwd=REPO)
            times.append(time.perf_counter() - t)
        print(f"{name:<24} {min(times):7.3f} {statistics.median(times):9.3f}")
    r = subprocess.run([sys.executable, "-X", "importtime", "-m", "filmcolor", "--help"], capture_output=True,
                       text=True, cwd=REPO)
    rows = [line.split("|") for line in r.stderr.splitlines() if line.startswith("import time:") and "|" in line]
    rows = [(int(cum), mod.rstrip()) for _, cum, mod in rows if cum.strip().isdigit()]
    print("\nslowest imports for --help (cumulative ms):")
    for cum, mod in sorted(rows, reverse=True)[:6]:
        print(f"  {cum / 1000:7.1f}  {mod}")


if __name__ == "__main__":
    main()
