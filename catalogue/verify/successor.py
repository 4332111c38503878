"""Successor heads: the OV circuit maps an ordinal token to its successor (Monday -> Tuesday).

Definition (Gould et al., 2023, "Successor Heads", section 3): for tokens ``t`` of ordinal
sequences (numbers, letters, days, months), push ``t``'s embedding through the head's OV circuit
and the unembedding; the head succeeds on ``t`` if, among the tokens of ``t``'s own sequence,
the top logit is ``succ(t)``. The succession score is the fraction of successes. Gould et al.
use the effective embedding after MLP0; this check uses ``W_E`` directly (a weaker signal).

Run: ``python -m catalogue.verify.successor --model all-minilm-l6-v2``
"""

from __future__ import annotations

import torch

from catalogue.verify.check import Check, NotApplicable, Run
from catalogue.verify.models import LoadedModel
from catalogue.verify.patterns import Scores

__all__ = ["CHECK", "ORDINAL_SEQUENCES", "successor_score"]

ORDINAL_SEQUENCES: tuple[tuple[str, ...], ...] = (
    tuple(str(i) for i in range(1, 21)),
    ("one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"),
    ("first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth", "tenth"),
    ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"),
    (
        "january",
        "february",
        "march",
        "april",
        "may",
        "june",
        "july",
        "august",
        "september",
        "october",
        "november",
        "december",
    ),
    tuple("abcdefghijklmnopqrstuvwxyz"),
)


def successor_score(
    w_e: torch.Tensor,  # [d_vocab, d_model]
    w_v: torch.Tensor,  # [n_layers, n_heads, d_model, d_head]
    w_o: torch.Tensor,  # [n_layers, n_heads, d_head, d_model]
    w_u: torch.Tensor,  # [d_model, d_vocab]
    *,
    sequences: list[list[int]],
) -> Scores:
    """Fraction of ordinal tokens whose OV output ranks their successor first within their sequence."""
    hits = torch.zeros(w_v.shape[:2])
    total = 0
    for seq in sequences:
        ids = torch.tensor(seq)
        logits = w_e[ids] @ w_v @ w_o @ w_u[:, ids]  # [L, H, n, n]
        top = logits[..., :-1, :].argmax(-1)  # successor of element i should be i + 1
        hits += (top == torch.arange(1, len(seq))).sum(-1).float()
        total += len(seq) - 1
    return hits / max(total, 1)


def ordinal_token_ids(tokenizer: object) -> list[list[int]]:
    """Each ordinal sequence as single-token ids (capitalised / space-prefixed as the tokenizer prefers)."""
    out = []
    for seq in ORDINAL_SEQUENCES:
        for form in (str.lower, str.capitalize):
            for prefix in (" ", ""):
                ids = [tokenizer(prefix + form(w), add_special_tokens=False)["input_ids"] for w in seq]  # type: ignore[operator]
                if all(len(i) == 1 for i in ids):
                    out.append([i[0] for i in ids])
                    break
            else:
                continue
            break
    return out


def _compute(run: Run | None, model: LoadedModel) -> Scores:
    if model.tokenizer is None:
        raise NotApplicable(f"{model.name} has no tokenizer, so no ordinal words")
    if model.ov is None:
        raise NotApplicable(f"{model.name} does not expose OV weights")
    seqs = ordinal_token_ids(model.tokenizer)
    if not seqs:
        raise NotApplicable(f"{model.name}'s tokenizer splits every ordinal word")
    return successor_score(*model.ov(), sequences=seqs)


CHECK = Check(
    id="successor",
    title="successor head",
    metric="succession score: share of ordinal tokens whose OV output ranks the successor first",
    threshold=0.5,
    reference="Gould et al. 2023, section 3",
    cite="gould2023successor",
    compute=_compute,
    probe=lambda _model: None,
)

if __name__ == "__main__":
    from catalogue.verify.script import main

    raise SystemExit(main(CHECK.id))
