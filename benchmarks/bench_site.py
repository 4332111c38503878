"""Site build time: `mkdocs build --strict` for the real catalogue and for a generated 100x catalogue.

Also times the page rendering alone (catalogue.render.pages), to tell our share from mkdocs-material's,
and how it scales with the catalogue (linear is ~factor times the real catalogue's time).

    python benchmarks/bench_site.py [--factor 100] [--repeat 1] [--skip-big]

Prints the figures; exits 0 whatever they are (benchmarks report, tests assert).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))
from generate import generate  # noqa: E402


def build_seconds(data: Path | None, out: Path) -> float:
    env = {k: v for k, v in os.environ.items() if k != "HEADS_DATA_DIR"} | {"NO_MKDOCS_2_WARNING": "1"}
    if data is not None:
        env["HEADS_DATA_DIR"] = str(data)
    cmd = [sys.executable, "-m", "mkdocs", "build", "--strict", "-q", "-f", str(ROOT / "mkdocs.yml"), "-d", str(out)]
    start = time.perf_counter()
    result = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if result.returncode != 0:
        raise SystemExit(f"mkdocs build failed:\n{result.stderr[-2000:]}")
    return seconds


def render_seconds(data: Path | None) -> tuple[float, int, int]:
    from catalogue import render
    from catalogue.loader import load

    cat = load(data)
    start = time.perf_counter()
    pages = render.pages(cat, repo_url="https://github.com/x/y", intro="")
    return time.perf_counter() - start, len(pages), sum(len(p) for p in pages.values())


def size_mb(folder: Path) -> float:
    return sum(f.stat().st_size for f in folder.rglob("*") if f.is_file()) / 2**20


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--factor", type=int, default=100)
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--skip-big", action="store_true", help="time the real catalogue only")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-site-") as tmp:
        cases: list[tuple[str, Path | None]] = [("real", None)]
        if not args.skip_big:
            cases.append((f"{args.factor}x", generate(Path(tmp) / "data", factor=args.factor)))
        rendered: dict[str, float] = {}
        for label, data in cases:
            r, n, chars = render_seconds(data)
            rendered[label] = r
            times = [build_seconds(data, Path(tmp) / f"site-{label}") for _ in range(args.repeat)]
            print(
                f"{label:>5}: {n} pages ({chars / 2**20:.1f} MiB Markdown) rendered in {r:.2f} s; "
                f"mkdocs build --strict {min(times):.1f} s (best of {len(times)}); "
                f"site {size_mb(Path(tmp) / f'site-{label}'):.0f} MiB"
            )
        if len(rendered) == 2:  # quadratic rendering would take ~factor^2 times as long, linear ~factor
            ratio = rendered[f"{args.factor}x"] / max(rendered["real"], 1e-9)
            print(f"render scaling: {args.factor}x catalogue takes {ratio:.0f}x the time (linear ~{args.factor}x)")


if __name__ == "__main__":
    main()
