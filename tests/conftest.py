"""Shared fixtures: a small, valid data folder built from factories, and a CLI runner."""

from __future__ import annotations

import copy
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "data"

BIB = """\
@article{zheng2024attention,
  title = {Attention Heads of Large Language Models},
  author = {Zheng, Zifan and Wang, Yezhaohui},
  journal = {Patterns},
  year = {2025},
  eprint = {2409.03752},
  archiveprefix = {arXiv}
}

@inproceedings{wang2022interpretability,
  title = {Interpretability in the Wild: a Circuit for Indirect Object Identification in {GPT}-2 Small},
  author = {Wang, Kevin and Variengien, Alexandre and Conmy, Arthur and Shlegeris, Buck and Steinhardt, Jacob},
  booktitle = {The Eleventh International Conference on Learning Representations},
  year = {2023},
  eprint = {2211.00593},
  archiveprefix = {arXiv}
}

@article{olsson2022incontext,
  title = {In-context Learning and Induction Heads},
  author = {Olsson, Catherine and Elhage, Nelson and Nanda, Neel},
  journal = {Transformer Circuits Thread},
  year = {2022},
  eprint = {2209.11895},
  archiveprefix = {arXiv}
}
"""

MODELS = [
    {
        "id": "gpt2-small",
        "name": "GPT-2 small",
        "hf_id": "gpt2",
        "family": "gpt2",
        "layers": 12,
        "heads": 12,
        "source": "test fixture",
    },
    {"id": "toy-2l", "name": "Toy", "family": "toy"},
]


def make_head(**overrides: Any) -> dict[str, Any]:
    """A valid head-type record; each negative test changes one field."""
    head: dict[str, Any] = {
        "id": "induction-head",
        "name": "Induction head",
        "aliases": ["Induction Head", "statistical induction head"],
        "stages": [{"stage": "latent-reasoning", "subcategory": "icl-task-learning", "placed_by": "survey"}],
        "in_survey": True,
        "summary": "Completes [A][B] ... [A] with [B] by attending to the token after an earlier copy of [A].",
        "mechanism": "K-composition with a previous-token head.",
        "related": [{"kind": "composes-with", "head": "previous-token-head"}],
        "check": "induction",
        "evidence": [
            {
                "cite": "wang2022interpretability",
                "model": "gpt2-small",
                "locations": ["L5H5", "L5H8", "L5H9", "L6H9"],
                "method": "path-patching",
                "task": "IOI",
                "source": "Section 3.3",
            },
            {
                "cite": "olsson2022incontext",
                "method": "scoring",
                "metric": "prefix matching score",
                "value": 0.9,
                "source": "Section 2",
            },
        ],
    }
    head.update(overrides)
    return head


def make_prev(**overrides: Any) -> dict[str, Any]:
    head = make_head(
        id="previous-token-head",
        name="Previous-token head",
        aliases=["prev-token head"],
        stages=[{"stage": "in-context-identification", "subcategory": "overall-structure", "placed_by": "survey"}],
        summary="Attends to the token just before the current one.",
        mechanism=None,
        related=[{"kind": "feeds", "head": "induction-head"}],
        check="previous-token",
        evidence=[
            {
                "cite": "wang2022interpretability",
                "model": "gpt2-small",
                "locations": ["L2H2", "L4H11"],
                "method": "path-patching",
                "source": "Figure 2",
            }
        ],
    )
    head.pop("mechanism")
    head.update(overrides)
    return head


WriteData = Callable[..., Path]


@pytest.fixture
def write_data(tmp_path: Path) -> WriteData:
    """Write a data folder; pass heads=/models=/bib= or raw heads_text= to override."""

    def write(
        *,
        heads: list[dict[str, Any]] | None = None,
        models: list[dict[str, Any]] | None = None,
        bib: str | None = None,
        heads_text: str | None = None,
        folder: str = "data",
    ) -> Path:
        d = tmp_path / folder
        d.mkdir(exist_ok=True)
        shutil.copy(DATA / "taxonomy.yaml", d / "taxonomy.yaml")
        (d / "models.yaml").write_text(
            yaml.safe_dump({"models": copy.deepcopy(models if models is not None else MODELS)})
        )
        (d / "references.bib").write_text(BIB if bib is None else bib)
        if heads_text is None:
            heads_text = yaml.safe_dump(
                {"heads": heads if heads is not None else [make_head(), make_prev()]}, sort_keys=False
            )
        (d / "heads.yaml").write_text(heads_text)
        return d

    return write


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    c = tmp_path / "cache"
    monkeypatch.setenv("HEADS_CACHE_DIR", str(c))
    return c
