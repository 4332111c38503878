"""A model's head map: which head types the catalogue records at each (layer, head), and their stages.

One computation for every view of it: the terminal grid of ``heads model`` and the coloured table on a
model's page. Plain Python, no pydantic: the CLI builds it from index rows, the site from the catalogue.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from catalogue.vocab import STAGES, format_location

__all__ = ["SEVERAL", "HeadMap", "build"]

#: The stage of a cell whose head types sit in more than one stage.
SEVERAL = "several"


@dataclass
class HeadMap:
    """Head types recorded at each head of one model.

    ``cells`` maps ``(layer, head)`` (0-indexed) to head-type ids, sorted; ``stages`` maps a head-type id
    to its stages in stage order."""

    model: str
    layers: int | None
    heads: int | None
    cells: dict[tuple[int, int], list[str]] = field(default_factory=dict)
    stages: dict[str, list[str]] = field(default_factory=dict)
    #: a hybrid model's layers that have attention (None: every layer has)
    attention_layers: tuple[int, ...] | None = None

    def has_attention(self, layer: int) -> bool:
        return self.attention_layers is None or layer in self.attention_layers

    def stage(self, layer: int, head: int) -> str | None:
        """The stage of the head types at this head: a stage id, :data:`SEVERAL`, or None when none is recorded."""
        found = {s for hid in self.cells.get((layer, head), []) for s in self.stages.get(hid, [])}
        if not found:
            return None
        return found.pop() if len(found) == 1 else SEVERAL

    def by_type(self) -> dict[str, list[str]]:
        """Head-type id -> its heads in this model, as ``L<layer>H<head>``, in layer-head order."""
        out: dict[str, list[str]] = {}
        for (layer, head), ids in sorted(self.cells.items()):
            for hid in ids:
                out.setdefault(hid, []).append(format_location(layer, head))
        return dict(sorted(out.items()))

    @property
    def drawable(self) -> bool:
        return self.layers is not None and self.heads is not None


def build(
    model: str,
    layers: int | None,
    heads: int | None,
    records: Iterable[tuple[str, int, int]],
    stages: Mapping[str, Iterable[str]],
    attention_layers: Iterable[int] | None = None,
) -> HeadMap:
    """The head map of ``model`` from ``(head_type_id, layer, head)`` records and each type's stages."""
    out = HeadMap(model, layers, heads, attention_layers=None if attention_layers is None else tuple(attention_layers))
    for hid, layer, head in records:
        ids = out.cells.setdefault((layer, head), [])
        if hid not in ids:
            ids.append(hid)
    for ids in out.cells.values():
        ids.sort()
    used = {hid for ids in out.cells.values() for hid in ids}
    out.stages = {hid: sorted(set(stages.get(hid, ())), key=STAGES.index) for hid in sorted(used)}
    return out
