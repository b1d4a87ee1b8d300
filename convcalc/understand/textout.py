"""Plain aligned text for the understanding commands: it reads the same in a terminal, a pipe and a README."""

from __future__ import annotations

from typing import Any, Sequence


def text_table(headers: Sequence[str], rows: Sequence[Sequence[Any]], right: Sequence[int] = ()) -> list[str]:
    """Columns padded to their widest cell; the columns listed in `right` are right-aligned (numbers)."""
    cells = [[str(c) for c in row] for row in rows]
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(headers)]

    def line(row: Sequence[str]) -> str:
        parts = [(c.rjust(w) if i in right else c.ljust(w)) for i, (c, w) in enumerate(zip(row, widths))]
        return "  ".join(parts).rstrip()

    return [line(list(headers)), "  ".join("-" * w for w in widths)] + [line(r) for r in cells]


def dims_text(values: Sequence[Any]) -> str:
    """3 for [3, 3], 3x5 for [3, 5], 'global' for None."""
    shown = ["global" if v is None else (f"{v:g}" if isinstance(v, float) else str(v)) for v in values]
    if not shown:
        return "-"
    return shown[0] if len(set(shown)) == 1 else "x".join(shown)


def ratio_text(value: int | float, reference: int | float) -> str:
    if reference == 0:
        return "-" if value == 0 else "inf"
    return f"{value / reference:.3f}"
