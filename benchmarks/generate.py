"""Generate a synthetic catalogue N times the size of the real one (default 100x) for benchmarks.

Each real head type is copied N times under new ids (``induction-head-x17``), one file each; aliases are
made unique the same way, evidence and references are kept, so the copy validates.

    python benchmarks/generate.py --factor 100 --out /tmp/catalogue-100x
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent


class _NoAliasDumper(yaml.CSafeDumper):
    """Write shared objects out in full: catalogue data forbids anchors and aliases."""

    def ignore_aliases(self, data: object) -> bool:
        return True


def read_heads(data: Path = ROOT / "data") -> list[dict[str, Any]]:
    """Every head type of a data folder, as plain YAML data."""
    return [
        yaml.load(p.read_text(encoding="utf-8"), Loader=yaml.CSafeLoader)
        for p in sorted((data / "heads").glob("*.yaml"))
    ]


def _copy_id(original: str, k: int) -> str:
    """A valid evidence id (``ev-`` + 8 base32 characters) for copy ``k`` of a record, unique per original."""
    import base64
    import hashlib

    digest = hashlib.sha256(f"{original}#{k}".encode()).digest()
    return "ev-" + base64.b32encode(digest).decode().lower()[:8]


def generate(out: Path, *, factor: int = 100, data: Path = ROOT / "data") -> Path:
    out.mkdir(parents=True, exist_ok=True)
    for name in ("models.yaml", "taxonomy.yaml", "references.bib", "VERSION"):
        if (data / name).exists():
            shutil.copy(data / name, out / name)
    if (data / "scores").is_dir():  # evidence links its authors' score tables; they are part of the data
        shutil.rmtree(out / "scores", ignore_errors=True)
        shutil.copytree(data / "scores", out / "scores")
    heads = read_heads(data)
    ids = {h["id"] for h in heads}
    folder = out / "heads"
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir()
    for k in range(factor):
        suffix = "" if k == 0 else f"-x{k}"
        for h in heads:
            c = dict(h, id=h["id"] + suffix, name=h["name"] + (f" #{k}" if k else ""))
            c["aliases"] = [a + (f" #{k}" if k else "") for a in h.get("aliases", [])]
            c["related"] = [dict(r, head=r["head"] + suffix) for r in h.get("related", []) if r["head"] in ids]
            if k:  # a check serves one head type; an evidence id is never shared: copies get ids of their own
                c.pop("check", None)
                drop = ("reproduced", "checked")
                c["evidence"] = [
                    {**{k2: v for k2, v in e.items() if k2 not in drop}, "id": _copy_id(e.get("id", ""), k)}
                    for e in c["evidence"]
                ]
            with open(folder / f"{c['id']}.yaml", "w", encoding="utf-8") as f:
                yaml.dump(c, f, Dumper=_NoAliasDumper, sort_keys=False, allow_unicode=True, width=200)
    audit = data / "audit.yaml"
    if audit.exists():  # each copy of a re-read record is re-read too, so the log grows with the catalogue
        rereads = yaml.load(audit.read_text(encoding="utf-8"), Loader=yaml.CSafeLoader)["rereads"]
        copies = [dict(r, id=_copy_id(r["id"], k)) if k else r for k in range(factor) for r in rereads]
        with open(out / "audit.yaml", "w", encoding="utf-8") as f:
            yaml.dump({"rereads": copies}, f, Dumper=_NoAliasDumper, sort_keys=False, allow_unicode=True, width=200)
    return out


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--factor", type=int, default=100)
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    path = generate(args.out, factor=args.factor)
    print(f"wrote {path}")
