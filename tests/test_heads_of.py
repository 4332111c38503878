"""known_heads, heads heads-of / id / compare, and the addresses they give (catalogue/heads_of.py, addressing.py)."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from catalogue import known_heads
from catalogue.addressing import depth_band, hf_attention_path, hf_output_projection, kv_head, relative_depth
from catalogue.cli import app
from catalogue.errors import UnknownHeadError, UnknownModelError, UsageError
from catalogue.heads_of import KNOWN_HEAD_FIELDS
from tests.conftest import WriteData
from tests.helpers import MODELS, make_head, make_prev

runner = CliRunner()


def heads(*args: str) -> subprocess.CompletedProcess[str]:
    """The real entry point in a subprocess, as a user runs it (errors become messages and exit codes there)."""
    return subprocess.run([sys.executable, "-m", "catalogue", *args], capture_output=True, text=True, timeout=120)


def test_the_name_movers_of_gpt2_small_with_their_hooks(cache: Path) -> None:
    """Done when: L9H9, L9H6 and L10H0 (Wang et al.), each with its hook names."""
    rows = known_heads("gpt2-small", "name-mover-head")
    wang = [r for r in rows if r["cite"] == "wang2022interpretability"]
    assert {r["location"] for r in wang} == {"L9H9", "L9H6", "L10H0"}
    for r in rows:
        assert list(r) == list(KNOWN_HEAD_FIELDS)
        assert r["tl_hook_z"] == f"blocks.{r['layer']}.attn.hook_z" and r["tl_head_index"] == r["head"]
        assert r["tl_hook_pattern"] == f"blocks.{r['layer']}.attn.hook_pattern"
        assert r["hf_module"] == f"transformer.h.{r['layer']}.attn"
        assert r["hf_output_projection"] == f"transformer.h.{r['layer']}.attn.c_proj"
        assert r["evidence_id"].startswith("ev-") and r["status"] == "current" and r["verdict"] is None
    assert [(r["layer"], r["head"]) for r in rows] == sorted((r["layer"], r["head"]) for r in rows)
    # a Hugging Face id and any spelling of the head type work too
    assert known_heads("gpt2", "Name Mover Head") == rows


def test_gqa_models_get_their_key_value_head(cache: Path) -> None:
    rows = known_heads("llama-3-8b")  # 32 query heads, 8 key/value heads
    assert rows and all(r["kv_head"] == r["head"] // 4 for r in rows)
    assert all(r["hf_module"] == f"model.layers.{r['layer']}.self_attn" for r in rows)


def test_withdrawn_claims_are_left_out_unless_asked_for(write_data: WriteData, cache: Path) -> None:
    ind = make_head()
    ind["evidence"][0]["deprecated"] = {"reason": "the authors corrected the indices", "date": "2026-11-01"}
    data = write_data(heads=[ind, make_prev()])
    assert {r["head_type"] for r in known_heads("gpt2-small", data=data)} == {"previous-token-head"}
    withdrawn = known_heads("gpt2-small", "induction-head", status="withdrawn", data=data)
    assert [r["location"] for r in withdrawn] == ["L5H5", "L5H8", "L5H9", "L6H9"]
    assert {r["status"] for r in withdrawn} == {"withdrawn"}
    assert len(known_heads("gpt2-small", status="all", data=data)) == 6
    # the withdrawn claim no longer places a head for `heads where`
    out = runner.invoke(app, ["--data", str(data), "where", "gpt2-small", "L5H5"])
    assert "induction-head" not in out.output
    with pytest.raises(UsageError, match="status 'old'"):
        known_heads("gpt2-small", status="old", data=data)


def test_unknown_names_raise_with_suggestions(cache: Path) -> None:
    with pytest.raises(UnknownModelError):
        known_heads("gpt-2-smal")
    with pytest.raises(UnknownHeadError):
        known_heads("gpt2-small", "name-muver-head")


@pytest.mark.parametrize(
    ("family", "attention", "projection"),
    [
        ("gpt2", "transformer.h.9.attn", "transformer.h.9.attn.c_proj"),
        ("llama-2", "model.layers.9.self_attn", "model.layers.9.self_attn.o_proj"),
        ("pythia", "gpt_neox.layers.9.attention", "gpt_neox.layers.9.attention.dense"),
        ("opt", "model.decoder.layers.9.self_attn", "model.decoder.layers.9.self_attn.out_proj"),
        ("phi", "model.layers.9.self_attn", None),
        ("internlm2", None, None),
        ("custom", None, None),
        (None, None, None),
    ],
)
def test_hugging_face_paths_by_family_and_none_when_unknown(
    family: str | None, attention: str | None, projection: str | None
) -> None:
    assert hf_attention_path(family, 9) == attention
    assert hf_output_projection(family, 9) == projection


def test_hugging_face_paths_exist_in_the_transformers_models() -> None:
    """The paths name real modules of the architectures (checked on tiny random models, no download)."""
    transformers = pytest.importorskip("transformers", reason="needs transformers (the verify extra)")
    pytest.importorskip("torch", reason="needs torch (the verify extra)")
    models = {
        "gpt2": transformers.GPT2LMHeadModel(transformers.GPT2Config(n_layer=2, n_head=2, n_embd=8, vocab_size=16)),
        "llama": transformers.LlamaForCausalLM(
            transformers.LlamaConfig(
                num_hidden_layers=2,
                num_attention_heads=4,
                num_key_value_heads=2,
                hidden_size=16,
                intermediate_size=16,
                vocab_size=16,
            )
        ),
        "pythia": transformers.GPTNeoXForCausalLM(
            transformers.GPTNeoXConfig(
                num_hidden_layers=2, num_attention_heads=2, hidden_size=8, intermediate_size=16, vocab_size=16
            )
        ),
    }
    for family, model in models.items():
        names = dict(model.named_modules())
        assert hf_attention_path(family, 1) in names, family
        assert hf_output_projection(family, 1) in names, family


def test_kv_head_groups_query_heads() -> None:
    assert [kv_head(h, 32, 8) for h in (0, 3, 4, 31)] == [0, 0, 1, 7]
    assert kv_head(5, 8, 1) == 0  # multi-query attention
    assert kv_head(5, 12, 12) == 5  # multi-head attention
    assert kv_head(5, 12, None) is None and kv_head(5, 12, 5) is None


def test_depth_bands_are_thirds_matching_the_survey_example() -> None:
    # the survey's GPT-2 small example: layers 1-4, 5-8, 9-12 (1-indexed) are shallow, middle, deep
    assert [depth_band(layer, 12) for layer in range(12)] == ["shallow"] * 4 + ["middle"] * 4 + ["deep"] * 4
    assert relative_depth(9, 12) == 0.75
    with pytest.raises(ValueError):
        relative_depth(12, 12)


def test_cli_heads_of_json_csv_and_table(cache: Path) -> None:
    out = runner.invoke(app, ["heads-of", "gpt2-small", "name-mover-head", "--format", "json"])
    assert out.exit_code == 0, out.output
    assert json.loads(out.output) == known_heads("gpt2-small", "name-mover-head")
    out = runner.invoke(app, ["heads-of", "gpt2-small", "name-mover-head", "-f", "csv"])
    rows = list(csv.DictReader(io.StringIO(out.output)))
    assert list(rows[0]) == list(KNOWN_HEAD_FIELDS) and {r["location"] for r in rows} >= {"L9H9", "L9H6", "L10H0"}
    out = runner.invoke(app, ["heads-of", "gpt2-small", "name-mover-head"])
    assert out.exit_code == 0 and "L10H0" in out.output


def test_cli_bad_input_is_a_message_and_an_exit_code(cache: Path) -> None:
    for args, code, words in [
        (["heads-of", "no-such-model"], 1, "no-such-model"),
        (["heads-of", "gpt2-small", "--status", "old"], 2, "old"),
        (["heads-of", "gpt2-small", "name-muver-head"], 1, "name-mover-head"),
        (["id", "nine"], 1, "not a head numbering"),
        (["id", "117"], 1, "--model"),
        (["id", "8-10", "--convention", "2-indexed"], 2, "2-indexed"),
        (["compare", "nothing-head"], 1, "nothing-head"),
    ]:
        p = heads(*args)
        assert p.returncode == code, (args, p.stderr)
        assert words in p.stderr and "Traceback" not in p.stderr, (args, p.stderr)


def test_cli_id_names_the_convention_and_lists_readings(cache: Path) -> None:
    out = runner.invoke(app, ["id", "Head 8-10"])
    assert out.exit_code == 0
    assert "ambiguous" in out.output and "L7H9     1-indexed" in out.output
    out = runner.invoke(app, ["id", "(8, 10)", "--convention", "1-indexed"])
    assert out.output.startswith("L7H9") and "ambiguous" not in out.output
    out = runner.invoke(app, ["id", "117", "--model", "gpt2-small", "--convention", "flat", "-f", "json"])
    doc = json.loads(out.output)
    assert doc["canonical"] == "L9H9" and doc["ambiguous"] is False and doc["readings"][0]["convention"] == "flat"
    out = runner.invoke(app, ["id", "blocks.9.attn.hook_z[:, :, 9]"])
    assert out.output.startswith("L9H9") and "0-indexed" in out.output


def test_cli_compare_places_a_type_by_relative_depth(cache: Path) -> None:
    out = runner.invoke(app, ["compare", "name-mover-head", "-f", "json"])
    rows = json.loads(out.output)
    assert {"model": "gpt2-small", "layers": 12, "layer": 9, "relative_depth": 0.75, "band": "deep"}.items() <= rows[
        0
    ].items()
    assert rows[0]["heads"] == "L9H6 L9H9"
    text = runner.invoke(app, ["compare", "name-mover-head"]).output
    assert "gpt2-small" in text and "deep" in text and "thirds" in text


def test_compare_leaves_out_models_of_unknown_depth(write_data: WriteData, cache: Path) -> None:
    models = [*MODELS[:1], {"id": "toy-2l", "name": "Toy", "family": "toy"}]
    data = write_data(models=models)
    out = runner.invoke(app, ["--data", str(data), "compare", "induction-head", "-f", "json"])
    assert {r["model"] for r in json.loads(out.output)} == {"gpt2-small"}


def test_the_verdict_is_the_check_of_each_head_once_measured(write_data: WriteData, cache: Path) -> None:
    from catalogue.claims import record
    from tests.test_claims import block

    data = write_data()
    assert {r["verdict"] for r in known_heads("gpt2-small", "induction-head", data=data)} == {None}
    record({("induction-head", 0): block()}, data=data)
    got = {r["location"]: r["verdict"] for r in known_heads("gpt2-small", "induction-head", data=data)}
    assert got == {"L5H5": "confirmed", "L5H8": "confirmed", "L5H9": "below-threshold", "L6H9": "confirmed"}


@pytest.mark.parametrize(
    ("hf_id", "module"),
    [
        ("Qwen/Qwen2.5-7B", "model.layers.3.self_attn"),
        ("Qwen/Qwen1.5-7B-Chat", "model.layers.3.self_attn"),
        ("Qwen/Qwen3-8B", "model.layers.3.self_attn"),
        ("Qwen/Qwen-7B", None),  # remote-code QWenLMHeadModel: not mapped rather than guessed
    ],
)
def test_qwen_layout_follows_the_checkpoint(hf_id: str, module: str | None) -> None:
    from catalogue.addressing import head_address

    assert head_address({"family": "qwen", "hf_id": hf_id, "heads": 28, "kv_heads": 4}, 3, 5)["hf_module"] == module
