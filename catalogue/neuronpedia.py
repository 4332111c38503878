"""Neuronpedia's per-head attention metrics, imported from its HeadVis export as score tables beside ours.

Neuronpedia (neuronpedia.org) publishes, for each model it hosts, six metrics per attention head measured on
*natural text* (``monology/pile-uncopyrighted``: "We used pile-uncopyrighted to generate all HeadVis data",
apps/webapp/app/blog/posts/headvis.mdx), not on the repeated random tokens of the catalogue's own checks: a
second, independent measurement of the same heads. Everything below was read in github:hijohnnylin/neuronpedia
@ ebb8426f, utils/neuronpedia-utils/neuronpedia_utils/headvis/ (README.md and compute-head-metrics.py):

- the export is one folder per run, ``v1/<np_model_id>/headvis/<dataset>/`` in Neuronpedia's exports
  (https://neuronpedia-datasets.s3.us-east-1.amazonaws.com/index.html?prefix=v1/), holding ``config.json``
  (``write_run_config_json``: model_name, np_model_id, dataset_name, n_layers, n_heads, metrics,
  pipeline_config with n_sequences, seq_len, dtype, revision, ...) and ``scatter_data.json``
  (``write_scatter_data``: a JSON list with one object per head, ``layer`` and ``head`` 0-indexed and each
  metric rounded to 4 decimals, ``null`` where the value was not finite);
- the metrics' definitions are :data:`METRICS`.

:func:`import_export` checks the export against the registry (the model's ``neuronpedia_id``, its layers and
heads), then writes ``data/scores/neuronpedia/<model>.<metric>.csv`` (``layer,head,score``, as every table under
data/scores/) and a ``.yaml`` naming the definition, the text it was measured on and the export's checksum.
Nothing is written unless every table is whole and valid.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from catalogue.contribute import locked
from catalogue.errors import UsageError
from catalogue.files import write_atomic
from catalogue.index import Index
from catalogue.paths import data_paths
from catalogue.query import resolve_model
from catalogue.vocab import format_location, location_problem

__all__ = ["DEFINITION_SOURCE", "METRICS", "Export", "import_export", "read_export"]

#: Where the format and the definitions were read.
DEFINITION_SOURCE = (
    "utils/neuronpedia-utils/neuronpedia_utils/headvis/compute-head-metrics.py (METRIC_DESCRIPTIONS, "
    "compute_attention_metrics_for_batch, run_head_metrics) @ github:hijohnnylin/neuronpedia "
    "ebb8426fc550ad5d1f76d52c271a624af3c08a57"
)

#: Neuronpedia's metric name -> its definition: METRIC_DESCRIPTIONS in Neuronpedia's words, then how
#: compute_attention_metrics_for_batch and run_head_metrics compute it (sums over every sequence, then one ratio).
METRICS: dict[str, str] = {
    "self_attention_score": "'Mean attention from each query position to itself (the diagonal).' Sum of the "
    "attention diagonal over all query positions of all sequences, divided by the number of query positions.",
    "prev_token_score": "'Mean attention to the immediately preceding token (first subdiagonal). High values mark "
    "previous-token / shift heads.' Sum of attention from position i to i-1 over every position i >= 1, divided "
    "by the number of such positions.",
    "pattern_entropy": "'Mean Shannon entropy of each row of the attention matrix.' In nats (natural log), "
    "averaged over query positions.",
    "qk_distance": "'Mean |q - k| weighted by attention mass.' In tokens, averaged over query positions.",
    "qk_distance_variance": "'Variance of |q - k| weighted by attention mass.' Mean squared distance minus the "
    "squared mean distance, in tokens squared.",
    "induction_score": "'Average attention from a query token to the position after a prior occurrence of the "
    "same token. High = induction head.' For each query whose token occurred before, the attention to every "
    "position just after an earlier occurrence, values below induction_attention_threshold set to 0, summed; "
    "the total over all sequences divided by the number of such query positions.",
}


@dataclass(frozen=True)
class Export:
    """One HeadVis run as read: its config, each metric's (layer, head) -> value, the files' checksum."""

    folder: Path
    config: dict[str, Any]
    scores: dict[str, dict[tuple[int, int], float]]
    sha256: str

    @property
    def pipeline(self) -> dict[str, Any]:
        p = self.config.get("pipeline_config")
        return p if isinstance(p, dict) else {}


def _place(path: Path, text: str, pos: int) -> str:
    line = text.count("\n", 0, pos) + 1
    return f"{path}:{line}:{pos - (text.rfind(chr(10), 0, pos) + 1) + 1}"


def _load(path: Path) -> tuple[str, Any]:
    if not path.is_file():
        raise UsageError(f"{path}: not found: a HeadVis export folder holds config.json and scatter_data.json")
    text = path.read_text(encoding="utf-8")
    try:
        return text, json.loads(text)
    except json.JSONDecodeError as exc:
        raise UsageError(f"{path}:{exc.lineno}:{exc.colno}: not JSON: {exc.msg}") from None


def _rows(path: Path, text: str) -> list[tuple[int, Any]]:
    """The list's elements with their character offsets (so each error names its line)."""
    decoder = json.JSONDecoder()
    i = len(text) - len(text.lstrip())
    if not text.startswith("[", i):
        raise UsageError(f'{_place(path, text, i)}: expected a JSON list of head rows ([{{"layer": 0, ...}}, ...])')
    i += 1
    out: list[tuple[int, Any]] = []
    while True:
        while i < len(text) and text[i] in " \t\r\n,":
            i += 1
        if i >= len(text) or text[i] == "]":
            return out
        value, end = decoder.raw_decode(text, i)  # the whole text parsed above, so this cannot fail
        out.append((i, value))
        i = end


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def read_export(path: str | Path) -> Export:
    """Read a HeadVis export: its folder, or its ``scatter_data.json`` with ``config.json`` beside it.

    Raises :class:`UsageError` naming ``file:line:column`` for text that is not JSON, a missing key, a row that
    is not a head of the run's ``n_layers`` x ``n_heads``, a repeated or missing head, or a value that is not a
    finite number."""
    p = Path(path)
    folder = p if p.is_dir() else p.parent
    config_path, scatter_path = folder / "config.json", folder / "scatter_data.json"
    if not p.exists():
        raise UsageError(f"{p}: not found: give a HeadVis export folder (v1/<neuronpedia id>/headvis/<dataset>/)")
    if not p.is_dir() and p.name != "scatter_data.json":
        raise UsageError(f"{p}: expected a HeadVis export folder or its scatter_data.json")
    config_text, config = _load(config_path)
    if not isinstance(config, dict):
        raise UsageError(f"{config_path}:1:1: expected a JSON object (HeadVis config.json)")
    for key, kind in (("np_model_id", str), ("model_name", str), ("dataset_name", str), ("metrics", list)):
        if not isinstance(config.get(key), kind):
            raise UsageError(f"{config_path}: {key!r} missing or not a {kind.__name__}: is this a HeadVis config.json?")
    n_layers, n_heads = _int(config.get("n_layers")), _int(config.get("n_heads"))
    if not n_layers or not n_heads or n_layers < 1 or n_heads < 1:
        raise UsageError(f"{config_path}: 'n_layers' and 'n_heads' must be positive integers")
    metrics = [m for m in config["metrics"] if m in METRICS]
    if not metrics:
        raise UsageError(f"{config_path}: 'metrics' names none of Neuronpedia's head metrics {sorted(METRICS)}")

    text, _ = _load(scatter_path)
    scores: dict[str, dict[tuple[int, int], float]] = {m: {} for m in metrics}
    for pos, row in _rows(scatter_path, text):
        at = _place(scatter_path, text, pos)
        if not isinstance(row, dict):
            raise UsageError(f"{at}: expected an object with 'layer', 'head' and the metrics")
        layer, head = _int(row.get("layer")), _int(row.get("head"))
        if layer is None or head is None or layer < 0 or head < 0:
            raise UsageError(f"{at}: 'layer' and 'head' must be integers from 0 (0-indexed), not {layer!r}, {head!r}")
        why = location_problem(layer, head, str(config["np_model_id"]), n_layers, n_heads)
        if why is not None:
            raise UsageError(f"{at}: {why} (n_layers {n_layers}, n_heads {n_heads} in config.json)")
        for m in metrics:
            value = row.get(m)
            if m not in row:
                raise UsageError(f"{at}: {format_location(layer, head)} has no {m!r}")
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise UsageError(
                    f"{at}: {format_location(layer, head)} {m} is {json.dumps(value)}, not a finite number "
                    "(Neuronpedia writes null where its value was not finite): the table would not be whole"
                )
            if (layer, head) in scores[m]:
                raise UsageError(f"{at}: {format_location(layer, head)} is listed twice")
            scores[m][(layer, head)] = float(value)
    missing = [(ly, h) for ly in range(n_layers) for h in range(n_heads) if (ly, h) not in scores[metrics[0]]]
    if missing:
        shown = ", ".join(format_location(*k) for k in missing[:5]) + (" ..." if len(missing) > 5 else "")
        raise UsageError(f"{scatter_path}: {len(missing)} head(s) of the {n_layers} x {n_heads} model missing: {shown}")
    digest = hashlib.sha256(config_text.encode() + b"\0" + text.encode()).hexdigest()
    return Export(folder, config, scores, digest)


#: The run settings a table's provenance repeats from config.json's pipeline_config.
_RUN_KEYS = ("dtype", "attn_implementation", "induction_attention_threshold", "created_at")


def _kebab(metric: str) -> str:
    return metric.replace("_", "-")


def _provenance(ex: Export, model: dict[str, Any], metric: str) -> str:
    p = ex.pipeline
    layers, heads = int(model["layers"]), int(model["heads"])
    meta = {
        "source": "neuronpedia",
        "model": model["id"],
        "neuronpedia_id": ex.config["np_model_id"],
        "hf_model": ex.config["model_name"],
        "revision": p.get("revision") or "not recorded (the hub's default branch when Neuronpedia ran it)",
        "metric": metric,
        "score": METRICS[metric],
        "definition_source": DEFINITION_SOURCE,
        "text": f"natural text, not repeated random tokens: {ex.config['dataset_name']}"
        + (f" ({p['dataset_split']} split)" if p.get("dataset_split") else "")
        + (f", {p['actual_sequences_processed']} sequences" if p.get("actual_sequences_processed") else "")
        + (f" of up to {p['seq_len']} tokens" if p.get("seq_len") else ""),
        "run": {k: p[k] for k in _RUN_KEYS if k in p},
        "export": "config.json and scatter_data.json of Neuronpedia's HeadVis export "
        f"v1/{ex.config['np_model_id']}/headvis/{ex.folder.name}/",
        "export_sha256": ex.sha256,
        "rows": layers * heads,
        "coverage": f"all {layers} x {heads} heads",
        "indexing": "0-indexed: write_scatter_data writes layer from range(n_layers) and head from range(n_heads)",
        "selection_rule": "none: Neuronpedia publishes every head's value and selects no heads",
    }
    header = "# written by `heads neuronpedia import`; import a newer export rather than editing this file\n"
    return header + yaml.safe_dump(meta, sort_keys=False, allow_unicode=True, width=120)


def import_export(
    path: str | Path, model: str, *, data: str | Path | None = None, cache: str | Path | None = None
) -> list[Path]:
    """Import a HeadVis export for a registry ``model`` (id or Hugging Face id); returns the files written.

    Writes ``<data>/scores/neuronpedia/<model>.<metric>.csv`` and ``.yaml`` for each metric of the export.
    Raises :class:`UsageError` (nothing written) when the export is malformed (:func:`read_export`), when the
    model has no ``neuronpedia_id`` or another one than the export's ``np_model_id``, or when its recorded
    layers and heads differ from the export's; :class:`~catalogue.errors.UnknownModelError` for a model not
    in the registry."""
    paths = data_paths(data)
    index = Index.open(paths, cache=cache)
    try:
        m = resolve_model(model, index)
    finally:
        index.dispose()
    npid = m.get("neuronpedia_id")
    if not npid:
        raise UsageError(
            f"--model {model}: {m['id']} has no neuronpedia_id in models.yaml: add the id Neuronpedia uses "
            "(and where you read it, in `source:`) first"
        )
    ex = read_export(path)
    config = ex.folder / "config.json"
    if ex.config["np_model_id"] != npid:
        raise UsageError(
            f"{config}: this export is for Neuronpedia's {ex.config['np_model_id']!r}, "
            f"but --model {model} is {npid!r} on Neuronpedia"
        )
    if (m.get("layers"), m.get("heads")) != (ex.config["n_layers"], ex.config["n_heads"]):
        raise UsageError(
            f"{config}: the export has {ex.config['n_layers']} x {ex.config['n_heads']} heads, the registry "
            f"records {m.get('layers')} x {m.get('heads')} for {m['id']}: check models.yaml and the export"
        )
    out = paths.folder / "scores" / "neuronpedia"
    texts: dict[Path, str] = {}
    for metric, values in ex.scores.items():
        stem = f"{m['id']}.{_kebab(metric)}"
        rows = "".join(f"{ly},{h},{values[(ly, h)]!r}\n" for ly, h in sorted(values))
        texts[out / f"{stem}.csv"] = "layer,head,score\n" + rows
        texts[out / f"{stem}.yaml"] = _provenance(ex, m, metric)
    with locked(paths):
        out.mkdir(parents=True, exist_ok=True)
        return [write_atomic(p, t) for p, t in texts.items()]
