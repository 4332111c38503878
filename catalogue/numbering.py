"""Paper head numberings -> the catalogue's canonical ``L<layer>H<head>`` (0-indexed), naming the convention.

Papers write heads many ways: ``9.9`` and ``L9H9`` (0-indexed in Wang et al. and TransformerLens),
"Head 8-10", ``(8, 10)``, 1-indexed layers ("layer 24 of 24"), a flattened index ``layer * n_heads + head``,
or code: ``blocks.9.attn.hook_z[:, :, 9]``, ``model.layers.9.self_attn`` with a head. :func:`head_id` reads
each, lists every reading that fits (within the model's size when it is known) and says which convention
each assumes; a text with more than one reading is *ambiguous* and the caller says so. Code is indexed
from 0 (Python), so code forms have one reading. Pure functions, no I/O, no pydantic.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, get_args

from catalogue.vocab import format_location

__all__ = ["CONVENTIONS", "Convention", "Reading", "Resolution", "describe", "encode", "head_id"]

Convention = Literal["0-indexed", "1-indexed", "1-indexed-layers", "1-indexed-heads", "flat", "flat-1-indexed"]
#: Every convention, in the order readings are listed (the first is assumed when nothing else decides).
CONVENTIONS: tuple[str, ...] = get_args(Convention)

_DESCRIBE = {
    "0-indexed": "layers and heads counted from 0",
    "1-indexed": "layers and heads counted from 1",
    "1-indexed-layers": "layers counted from 1, heads from 0",
    "1-indexed-heads": "layers counted from 0, heads from 1",
    "flat": "one flattened index, layer * n_heads + head, counted from 0",
    "flat-1-indexed": "one flattened index, layer * n_heads + head + 1, counted from 1",
}
_PAIR_CONVENTIONS = CONVENTIONS[:4]


def describe(convention: str) -> str:
    """What a convention means, in words (``layers and heads counted from 1``)."""
    return _DESCRIBE[convention]


_FLAT_CONVENTIONS = CONVENTIONS[4:]


@dataclass(frozen=True)
class Reading:
    """One way to read a text: the 0-indexed head, and the convention assumed."""

    layer: int
    head: int
    convention: str
    description: str

    @property
    def canonical(self) -> str:
        return format_location(self.layer, self.head)


@dataclass(frozen=True)
class Resolution:
    text: str
    form: str  # what the text was read as: pair, flat, transformerlens hook, hugging face module
    readings: list[Reading]

    @property
    def ambiguous(self) -> bool:
        return len(self.readings) > 1

    @property
    def assumed(self) -> Reading:
        """The reading taken when nothing else decides: the first in :data:`CONVENTIONS` order."""
        return self.readings[0]


_NUM = r"(\d{1,6})"
_HOOK_RE = re.compile(
    r"^blocks\.(\d{1,6})\.attn\.hook_(z|q|k|v|result|pattern|attn_scores)\s*\[([^\]]*)\]$", re.IGNORECASE
)
_HF_RE = re.compile(
    r"^((?:[a-z_]+\.)*(?:h|layers|layer|blocks))\.(\d{1,6})\.(?:[a-z_]+\.)*(?:self_attn|attn|attention|self_attention|self)"
    r"\s*(?:\[\s*(\d{1,6})\s*\]|[,;:]?\s*head\s*[:=#]?\s*(\d{1,6})|\.heads?\.(\d{1,6}))$",
    re.IGNORECASE,
)
_LH_RE = re.compile(rf"^L\s*{_NUM}\s*H\s*{_NUM}$|^layer\s*{_NUM}\s*,?\s*head\s*{_NUM}$", re.IGNORECASE)
_PAIR_RE = re.compile(rf"^(?:heads?\s*)?[(\[]?\s*{_NUM}\s*(?:[-.,:/_]|\s)\s*{_NUM}\s*[)\]]?$", re.IGNORECASE)
_FLAT_RE = re.compile(rf"^(?:head\s*)?#?{_NUM}$", re.IGNORECASE)

FORMS_HELP = (
    "write L9H9, 9.9, 9-9, (9, 9), 'Head 9-9', 'layer 9 head 9', a flattened index like 117 (with the model), "
    "blocks.9.attn.hook_z[:, :, 9] or model.layers.9.self_attn head 9"
)


def head_id(
    text: str,
    *,
    convention: str | None = None,
    layers: int | None = None,
    heads: int | None = None,
) -> Resolution:
    """Every reading of ``text`` as a 0-indexed head that fits ``convention`` (any, when None) and the model's
    size (``layers`` x ``heads`` query heads, when known). A flattened index needs ``heads``.

    Raises ``ValueError`` (with the accepted forms, or why no reading fits) when there is none."""
    t = " ".join(text.strip().split())
    if convention is not None and convention not in CONVENTIONS:
        raise ValueError(f"convention {convention!r} is not one of: {', '.join(CONVENTIONS)}")
    m = _HOOK_RE.match(t)
    if m:
        layer, hook, subscript = int(m.group(1)), m.group(2).lower(), m.group(3)
        dim = 1 if hook in ("pattern", "attn_scores") else 2
        parts = [p.strip() for p in subscript.split(",")]
        if len(parts) <= dim or not parts[dim].isdigit() or any(p not in (":", "") for p in parts[:dim]):
            where = "[:, :, H]" if dim == 2 else "[:, H]"
            raise ValueError(f"{text!r}: hook_{hook} holds the head index at dimension {dim}: write {where}")
        return _code(text, "transformerlens hook", layer, int(parts[dim]), convention, layers, heads)
    m = _HF_RE.match(t)
    if m:
        head = next(int(g) for g in m.groups()[2:] if g is not None)
        return _code(text, "hugging face module", int(m.group(2)), head, convention, layers, heads)
    m = _LH_RE.match(t) or _PAIR_RE.match(t)
    if m:
        a, b = (int(g) for g in m.groups() if g is not None)
        wanted = [convention] if convention else list(_PAIR_CONVENTIONS)
        if convention in _FLAT_CONVENTIONS:
            raise ValueError(f"{text!r} names a layer and a head: a flattened convention does not apply")
        return _fit(text, "pair", [_pair(a, b, c) for c in wanted], layers, heads)
    m = _FLAT_RE.match(t)
    if m:
        n = int(m.group(1))
        if convention in _PAIR_CONVENTIONS:
            raise ValueError(
                f"{text!r} is one number: use --convention flat or flat-1-indexed, or write layer and head"
            )
        if heads is None:
            raise ValueError(f"{text!r} is a flattened index (layer * n_heads + head): give the model (--model)")
        wanted = [convention] if convention else list(_FLAT_CONVENTIONS)
        found = []
        for c in wanted:
            k = n - (1 if c == "flat-1-indexed" else 0)
            if k >= 0:
                found.append(Reading(k // heads, k % heads, c, _DESCRIBE[c]))
        return _fit(text, "flat", found, layers, heads)
    raise ValueError(f"{text!r} is not a head numbering I can read: {FORMS_HELP}")


def _pair(a: int, b: int, c: str) -> Reading | None:
    layer = a - (1 if c in ("1-indexed", "1-indexed-layers") else 0)
    head = b - (1 if c in ("1-indexed", "1-indexed-heads") else 0)
    return Reading(layer, head, c, _DESCRIBE[c]) if layer >= 0 and head >= 0 else None


def _code(
    text: str, form: str, layer: int, head: int, convention: str | None, layers: int | None, heads: int | None
) -> Resolution:
    if convention not in (None, "0-indexed"):
        raise ValueError(f"{text!r} is code, and code indexes from 0: drop --convention or use 0-indexed")
    return _fit(text, form, [Reading(layer, head, "0-indexed", "code indexes from 0")], layers, heads)


def _fit(text: str, form: str, found: Sequence[Reading | None], layers: int | None, heads: int | None) -> Resolution:
    readings = [r for r in found if r is not None]
    fitting = [r for r in readings if (layers is None or r.layer < layers) and (heads is None or r.head < heads)]
    if not fitting:
        if not readings:
            raise ValueError(f"{text!r}: no index can be 0 in a 1-indexed convention; check the convention")
        size = f"{layers if layers is not None else '?'} layers x {heads if heads is not None else '?'} heads"
        tried = ", ".join(f"{r.canonical} ({r.convention})" for r in readings)
        raise ValueError(f"{text!r}: no reading fits the model ({size}); tried {tried}")
    return Resolution(text, form, fitting)


def encode(layer: int, head: int, convention: str, *, heads: int | None = None) -> str:
    """The text a paper using ``convention`` would write for the 0-indexed head (``"8-10"`` or ``"170"``):
    the inverse of :func:`head_id` under that convention. A flattened convention needs ``heads``."""
    if convention in _FLAT_CONVENTIONS:
        if heads is None:
            raise ValueError("a flattened index needs the model's number of heads")
        return str(layer * heads + head + (1 if convention == "flat-1-indexed" else 0))
    if convention not in _PAIR_CONVENTIONS:
        raise ValueError(f"convention {convention!r} is not one of: {', '.join(CONVENTIONS)}")
    a = layer + (1 if convention in ("1-indexed", "1-indexed-layers") else 0)
    b = head + (1 if convention in ("1-indexed", "1-indexed-heads") else 0)
    return f"{a}-{b}"
