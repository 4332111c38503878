"""Successor heads: the OV circuit maps an ordinal token to its successor (Monday -> Tuesday).

Definition (Gould et al., 2023, "Successor Heads", section 3): for tokens ``t`` of ordinal
sequences (numbers, letters, days, months), push ``t``'s embedding through the head's OV circuit
and the unembedding; the head succeeds on ``t`` if, among the tokens of ``t``'s own sequence,
the top logit is ``succ(t)``. The succession score is the fraction of successes. As Gould et
al. do, the circuit starts from the effective embedding (the first block, MLP0 included) and
ends in the unembedding with the final norm folded in (:mod:`catalogue.verify.weights`); it runs
only on models with an LM head. Chance: a random ranking puts the successor first with
probability ``1 / len(sequence)``; the pass mark is the midpoint between that and 1.

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


def _sequences(model: LoadedModel) -> list[list[int]]:
    if model.tokenizer is None:
        raise NotApplicable(f"{model.name} has no tokenizer, so no ordinal words")
    if model.ov is None:
        raise NotApplicable(f"{model.name} has no LM head: the weight checks read the unembedding")
    pool = set(model.pool.tolist())
    seqs = [q for q in ordinal_token_ids(model.tokenizer) if all(i in pool for i in q)]
    if not seqs:
        raise NotApplicable(f"{model.name}'s tokenizer splits every ordinal word")
    return seqs


def _compute(run: Run | None, model: LoadedModel) -> Scores:
    seqs = _sequences(model)
    assert model.ov is not None
    return successor_score(*model.ov(torch.tensor(sorted({i for q in seqs for i in q}))), sequences=seqs)


def successor_chance(sequences: list[list[int]]) -> float:
    """Succession score of a random ranking: each token's successor is first with probability ``1/n``."""
    hits = sum((len(s) - 1) / len(s) for s in sequences)
    return hits / max(1, sum(len(s) - 1 for s in sequences))


def _chance(run: Run | None, model: LoadedModel) -> Scores:
    n_layers = len(model.layer_ids)
    return torch.full((n_layers, model.n_heads), successor_chance(_sequences(model)))


CHECK = Check(
    id="successor",
    title="successor head",
    metric="succession score: share of ordinal tokens whose OV output ranks the successor first",
    threshold=None,
    chance=_chance,
    normalisation="succession score over ordinal sequences (Gould et al. 2023)",
    script_version="2",
    reference="Gould et al. 2023, section 3",
    cite="gould2023successor",
    compute=_compute,
    probe=lambda _model: None,
)

if __name__ == "__main__":
    from catalogue.verify.script import main

    raise SystemExit(main(CHECK.id))
