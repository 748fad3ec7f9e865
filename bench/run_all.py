"""Run every benchmark, each backend in its own process, and print what each measured.

python bench/run_all.py            # engine on TensorFlow and JAX, then the browser timings
python bench/run_all.py engine     # only the engine benchmarks
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def run(script: str, *args: str, backend: str | None = None) -> int:
    env = dict(os.environ)
    if backend:
        env["KERAS_BACKEND"] = backend
    label = backend or env.get("KERAS_BACKEND", "tensorflow")
    print(f"\n== {script} {' '.join(args)} (KERAS_BACKEND={label})", flush=True)
    return subprocess.call([sys.executable, str(HERE / script), *args], env=env)


def main(argv: list[str]) -> int:
    which = argv[0] if argv else "all"
    codes = []
    if which in ("all", "engine"):
        codes.append(run("bench_engine.py", backend="tensorflow"))
        codes.append(run("bench_engine.py", "epoch", "latency", backend="jax"))
    if which in ("all", "browser") and (HERE / "bench_browser.py").exists():
        codes.append(run("bench_browser.py"))
    return max(codes, default=0)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
