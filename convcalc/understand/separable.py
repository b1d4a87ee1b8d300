"""Is a 2D kernel spatially separable? Exact rank and factors, in rational arithmetic.

A kernel K (k_h x k_w) is spatially separable when K = u v^T (rank 1): convolving with K equals
convolving with the column u (k_h x 1) and then the row v (1 x k_w), k_h + k_w multiplies per output
instead of k_h * k_w. Any kernel is a sum of rank(K) such outer products (K = C R below, exact).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Sequence

from convcalc.errors import LayerError

Matrix = list[list[Fraction]]


def as_fractions(rows: Sequence[Sequence[Any]]) -> Matrix:
    return [[v if isinstance(v, Fraction) else Fraction(str(v)) if isinstance(v, float) else Fraction(v)
             for v in row] for row in rows]


def rref(matrix: Matrix) -> tuple[Matrix, list[int]]:
    """Reduced row echelon form and the pivot columns (Gauss-Jordan, exact)."""
    m = [row[:] for row in matrix]
    pivots: list[int] = []
    r = 0
    for c in range(len(m[0]) if m else 0):
        pivot = next((i for i in range(r, len(m)) if m[i][c] != 0), None)
        if pivot is None:
            continue
        m[r], m[pivot] = m[pivot], m[r]
        lead = m[r][c]
        m[r] = [v / lead for v in m[r]]
        for i in range(len(m)):
            if i != r and m[i][c] != 0:
                factor = m[i][c]
                m[i] = [a - factor * b for a, b in zip(m[i], m[r])]
        pivots.append(c)
        r += 1
        if r == len(m):
            break
    return m, pivots


def _primitive(vector: Sequence[Fraction]) -> tuple[list[Fraction], Fraction]:
    """(v / scale, scale) with v/scale made of coprime integers, first non-zero entry positive."""
    nonzero = [x for x in vector if x != 0]
    if not nonzero:
        return list(vector), Fraction(1)
    denominators = math.lcm(*(x.denominator for x in nonzero))
    numerators = math.gcd(*(int(x * denominators) for x in nonzero))
    scale = Fraction(numerators, denominators)
    if nonzero[0] < 0:
        scale = -scale
    return [x / scale for x in vector], scale


@dataclass(frozen=True)
class Separability:
    kernel: Matrix
    rank: int
    column: list[Fraction] | None  # u, when rank 1 (K = u v^T)
    row: list[Fraction] | None  # v
    terms: list[tuple[list[Fraction], list[Fraction]]]  # K = sum of u_i v_i^T, exact (rank terms)

    @property
    def separable(self) -> bool:
        return self.rank <= 1

    @property
    def shape(self) -> tuple[int, int]:
        return len(self.kernel), len(self.kernel[0])

    def to_dict(self) -> dict[str, Any]:
        return {
            "kernel": [[_plain(v) for v in row] for row in self.kernel],
            "rank": self.rank,
            "separable": self.separable,
            "column": [_plain(v) for v in self.column] if self.column else None,
            "row": [_plain(v) for v in self.row] if self.row else None,
            "terms": [{"column": [_plain(v) for v in u], "row": [_plain(v) for v in v_]} for u, v_ in self.terms],
            "multiplies_per_output": {"full": self.shape[0] * self.shape[1],
                                      "separable": (self.shape[0] + self.shape[1]) * max(self.rank, 1)},
        }


def _plain(value: Fraction) -> int | str:
    return int(value) if value.denominator == 1 else f"{value.numerator}/{value.denominator}"


def fmt_vector(values: Sequence[Fraction]) -> str:
    return "[" + ", ".join(str(_plain(v)) for v in values) + "]"


def analyse(rows: Sequence[Sequence[Any]]) -> Separability:
    if not rows or not all(isinstance(r, (list, tuple)) for r in rows):
        raise LayerError("--kernel must be a 2D matrix like [[1, 2, 1], [2, 4, 2], [1, 2, 1]]", arg="kernel")
    kernel = as_fractions(rows)
    reduced, pivots = rref(kernel)
    rank = len(pivots)
    # K = C R: C = K's pivot columns, R = the non-zero rows of rref(K); term i is C[:, i] R[i, :]
    terms = []
    for i, c in enumerate(pivots):
        column = [row[c] for row in kernel]
        row = reduced[i]
        u, su = _primitive(column)
        v, sv = _primitive(row)
        scale = su * sv  # fold both scales into the column so that the row stays primitive
        terms.append(([x * scale for x in u], v))
    if rank == 1:
        column, row = terms[0]
        return Separability(kernel, 1, column, row, terms)
    return Separability(kernel, rank, None, None, terms)


def reconstruct(terms: Sequence[tuple[Sequence[Fraction], Sequence[Fraction]]], shape: tuple[int, int]) -> Matrix:
    out = [[Fraction(0)] * shape[1] for _ in range(shape[0])]
    for u, v in terms:
        for i in range(shape[0]):
            for j in range(shape[1]):
                out[i][j] += u[i] * v[j]
    return out


def describe(result: Separability) -> list[str]:
    kh, kw = result.shape
    lines = []
    if result.rank == 0:
        return ["the kernel is all zeros (rank 0): it is trivially separable, 0 = [0]^T [0]"]
    if result.separable and result.column is not None and result.row is not None:
        u, v = fmt_vector(result.column), fmt_vector(result.row)
        lines.append(f"rank 1: spatially separable, K = {u}^T {v}")
        lines.append(f"  convolve with the {kh}x1 column {u}, then the 1x{kw} row {v}: {kh + kw} multiplies per "
                     f"output instead of {kh * kw}")
    else:
        lines.append(f"rank {result.rank}: not spatially separable (a separable kernel has rank 1)")
        lines.append(f"  exactly a sum of {result.rank} separable kernels ({result.rank * (kh + kw)} multiplies per "
                     f"output instead of {kh * kw}):")
        for u, v in result.terms:
            lines.append(f"    {fmt_vector(u)}^T {fmt_vector(v)}")
    return lines


def verify(result: Separability) -> float:
    """Max |conv2d(x, K) - conv2d(conv2d(x, sum of u), v)| in torch over a random input (float64)."""
    import torch
    import torch.nn.functional as F

    kh, kw = result.shape
    torch.manual_seed(0)
    x = torch.randn(1, 1, kh + 5, kw + 5, dtype=torch.float64)
    k = torch.tensor([[float(v) for v in row] for row in result.kernel], dtype=torch.float64).reshape(1, 1, kh, kw)
    full = F.conv2d(x, k)
    parts = torch.zeros_like(full)
    for u, v in result.terms:
        col = torch.tensor([float(a) for a in u], dtype=torch.float64).reshape(1, 1, kh, 1)
        row = torch.tensor([float(b) for b in v], dtype=torch.float64).reshape(1, 1, 1, kw)
        parts += F.conv2d(F.conv2d(x, col), row)
    return float((full - parts).abs().max())
