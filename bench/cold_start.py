"""Cold start of `migrator plan off1`: median wall time of whole processes (target <= 0.3 s).

Usage: python bench/cold_start.py [--runs 20] [--plan off1]
Prints one line per figure; the last line is `cold_start_median_s=X`.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--plan", default="off1")
    args = parser.parse_args()
    script = shutil.which("migrator", path=str(Path(sys.executable).parent)) or shutil.which("migrator")
    command = [script] if script else [sys.executable, "-m", "migrator"]
    command += ["plan", args.plan]
    subprocess.run(command, cwd=ROOT, check=True, capture_output=True)  # warm the page cache once
    times = []
    for _ in range(args.runs):
        start = time.perf_counter()
        subprocess.run(command, cwd=ROOT, check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    times.sort()
    print(f"command: {' '.join(command)}")
    print(f"runs={args.runs} min={times[0]:.3f}s max={times[-1]:.3f}s")
    print(f"cold_start_median_s={statistics.median(times):.3f}")


if __name__ == "__main__":
    main()
