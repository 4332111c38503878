"""Shared test helpers: factories for valid records and a writer of small data folders.

Negative tests start from :func:`make_head` / :func:`make_prev` and change one field each.
"""

from __future__ import annotations

import copy
import shutil
import subprocess
from pathlib import Path
from typing import Any

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

MODELS: list[dict[str, Any]] = [
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


#: data/audit.yaml with one valid re-read, of make_head()'s first record (its four heads).
GOOD_REREAD = (
    "rereads:\n"
    "  - id: ev-inductaa\n"
    "    date: 2026-12-01\n"
    "    read: Section 3.3, Figure 2\n"
    "    heads: 4\n"
    "    outcome: matched\n"
)


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
                "id": "ev-inductaa",
                "model": "gpt2-small",
                "locations": ["L5H5", "L5H8", "L5H9", "L6H9"],
                "method": "path-patching",
                "task": "IOI",
                "source": "Section 3.3",
                "source_kind": "body",
            },
            {
                "cite": "olsson2022incontext",
                "id": "ev-inductab",
                "method": "scoring",
                "metric": "prefix matching score",
                "value": 0.9,
                "source": "Section 2",
                "source_kind": "body",
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
                "id": "ev-prevtoka",
                "model": "gpt2-small",
                "locations": ["L2H2", "L4H11"],
                "method": "path-patching",
                "source": "Figure 2",
                "source_kind": "body",
            }
        ],
    )
    head.pop("mechanism")
    head.update(overrides)
    return head


def write_data(
    folder: Path,
    *,
    heads: list[dict[str, Any]] | None = None,
    models: list[dict[str, Any]] | None = None,
    bib: str | None = None,
    head_texts: dict[str, str] | None = None,
) -> Path:
    """Write a data folder at ``folder``: one ``heads/<id>.yaml`` per head (file name from its ``id``),
    ``models.yaml``, ``references.bib`` and the real ``taxonomy.yaml`` and ``VERSION``. ``head_texts`` maps a file stem
    to raw text written as ``heads/<stem>.yaml`` (instead of ``heads``)."""
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(DATA / "taxonomy.yaml", folder / "taxonomy.yaml")
    shutil.copy(DATA / "VERSION", folder / "VERSION")
    (folder / "models.yaml").write_text(
        yaml.safe_dump({"models": copy.deepcopy(models if models is not None else MODELS)})
    )
    (folder / "references.bib").write_text(BIB if bib is None else bib)
    hdir = folder / "heads"
    if hdir.exists():
        shutil.rmtree(hdir)
    hdir.mkdir()
    if head_texts is None:
        for h in heads if heads is not None else [make_head(), make_prev()]:
            (hdir / f"{h.get('id', 'no-id')}.yaml").write_text(yaml.safe_dump(h, sort_keys=False))
    else:
        for stem, text in head_texts.items():
            (hdir / f"{stem}.yaml").write_text(text)
    return folder


def git(repo: Path, *args: str) -> None:
    """Run git in ``repo`` as a throwaway author (no signing): for tests that make commits."""
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.org", "-c", "commit.gpgsign=false", *args],
        cwd=repo,
        check=True,
        capture_output=True,
    )
