"""A convolution as a matrix: y = W x, with W the Toeplitz (doubly block Toeplitz in 2D) matrix of the
kernel; the transposed convolution is multiplication by W^T.

The matrix is built here from the definition of the sliding window, in pure Python, for one
(input channel, output channel) pair; `verify` rebuilds it for every channel pair with the weights of a
real torch module and checks both products against torch (torch is imported there only).
Sizes come from the layer (its `out_shape`): this module decides which input feeds which output, never
how many outputs there are.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from fractions import Fraction
from typing import TYPE_CHECKING, Any, Sequence

from convcalc.errors import LayerError
from convcalc.layers.base import Layer, Shape
from convcalc.understand.transpose import is_transposed, spatial_of

if TYPE_CHECKING:  # pragma: no cover
    import torch

MAX_SIDE = 64  # rows or columns of a rendered matrix (one channel pair)
ZERO = "·"


def supports_matrix(layer: Layer) -> bool:
    """Linear layers with a kernel: Conv*d and ConvTranspose*d (a pooling is not a matrix product)."""
    return "out_channels" in layer.values and layer.values.get("kernel_size") is not None


@dataclass(frozen=True)
class Geometry:
    """Where each kernel tap of one channel pair reads (conv) or writes (transposed conv)."""

    transposed: bool
    in_spatial: Shape
    out_spatial: Shape
    kernel: Shape
    stride: Shape
    dilation: Shape
    pad_left: Shape  # conv: left padding; transposed: the padding trimmed from each side of the output
    padding_mode: str

    @property
    def ndim(self) -> int:
        return len(self.kernel)


def geometry(layer: Layer) -> Geometry:
    if not supports_matrix(layer):
        raise LayerError(f"--matrix shows convolutions (Conv/ConvTranspose), not {layer.type_name}; "
                         "for pooling, give --values to see the windows", arg="type")
    nd = layer.ndim or 0
    left = tuple(layer.pads_lr()[0])
    return Geometry(
        transposed=is_transposed(layer), in_spatial=spatial_of(layer), out_spatial=spatial_of(layer, layer.out_shape),
        kernel=tuple(layer.kernel_size), stride=tuple(layer.stride), dilation=tuple(layer.dilation),
        pad_left=left if len(left) == nd else (0,) * nd, padding_mode=str(layer.values.get("padding_mode", "zeros")),
    )


def _source(t: int, n: int, mode: str) -> int | None:
    """The input index a padded position t reads (None: a zero from the padding)."""
    if 0 <= t < n:
        return t
    if mode == "zeros":
        return None
    if mode == "reflect":
        return -t if t < 0 else 2 * (n - 1) - t
    if mode == "replicate":
        return min(max(t, 0), n - 1)
    return t % n  # circular


def flat(index: Sequence[int], dims: Sequence[int]) -> int:
    value = 0
    for i, n in zip(index, dims):
        value = value * n + i
    return value


def taps(geo: Geometry) -> dict[tuple[int, int], list[int]]:
    """Sparse W for one channel pair: (output flat index, input flat index) -> the kernel taps summed there."""
    entries: dict[tuple[int, int], list[int]] = {}
    kernel_positions = list(itertools.product(*(range(k) for k in geo.kernel)))
    if not geo.transposed:
        for out in itertools.product(*(range(n) for n in geo.out_spatial)):
            for m in kernel_positions:
                src = [_source(o * s - p + mi * d, n, geo.padding_mode)
                       for o, s, p, mi, d, n in zip(out, geo.stride, geo.pad_left, m, geo.dilation, geo.in_spatial)]
                if any(v is None for v in src):
                    continue
                key = (flat(out, geo.out_spatial), flat(src, geo.in_spatial))  # type: ignore[arg-type]
                entries.setdefault(key, []).append(flat(m, geo.kernel))
    else:
        # y[i*s - p + m*d] += w[m] * x[i]: every input scatters the kernel into the output
        for inp in itertools.product(*(range(n) for n in geo.in_spatial)):
            for m in kernel_positions:
                dst = [i * s - p + mi * d for i, s, p, mi, d in zip(inp, geo.stride, geo.pad_left, m, geo.dilation)]
                if all(0 <= o < n for o, n in zip(dst, geo.out_spatial)):
                    key = (flat(dst, geo.out_spatial), flat(inp, geo.in_spatial))
                    entries.setdefault(key, []).append(flat(m, geo.kernel))
    return entries


def dense(geo: Geometry, kernel: Sequence[Any]) -> list[list[Any]]:
    """W for one channel pair with numeric kernel values (flattened in row-major order)."""
    rows, cols = math.prod(geo.out_spatial), math.prod(geo.in_spatial)
    matrix: list[list[Any]] = [[0] * cols for _ in range(rows)]
    for (r, c), ms in taps(geo).items():
        matrix[r][c] = sum(kernel[m] for m in ms)
    return matrix


def matvec(matrix: Sequence[Sequence[Any]], vector: Sequence[Any]) -> list[Any]:
    return [sum(a * b for a, b in zip(row, vector)) for row in matrix]


def transpose(matrix: Sequence[Sequence[Any]]) -> list[list[Any]]:
    return [list(col) for col in zip(*matrix)] if matrix else []


# --------------------------------------------------------------------------------------------------
# rendering
# --------------------------------------------------------------------------------------------------


def index_label(prefix: str, index: Sequence[int], dims: Sequence[int]) -> str:
    if len(index) == 1:
        return f"{prefix}{index[0]}"
    if max(dims) <= 10:
        return prefix + "".join(map(str, index))
    return prefix + "_".join(map(str, index))


def tap_names(kernel: Sequence[int]) -> list[str]:
    return [index_label("w", m, kernel) for m in itertools.product(*(range(k) for k in kernel))]


def labels(prefix: str, dims: Sequence[int]) -> list[str]:
    return [index_label(prefix, idx, dims) for idx in itertools.product(*(range(n) for n in dims))]


def fmt_number(value: Any) -> str:
    if isinstance(value, Fraction):
        return str(value.numerator) if value.denominator == 1 else f"{value.numerator}/{value.denominator}"
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        return f"{value:.4g}"
    return str(value)


def render_grid(cells: Sequence[Sequence[str]], row_labels: Sequence[str], col_labels: Sequence[str]) -> list[str]:
    """A readable matrix: column labels on top, row labels on the left, columns aligned."""
    width = max([len(c) for row in cells for c in row] + [len(c) for c in col_labels] + [1])
    label_width = max((len(r) for r in row_labels), default=0)
    lines = [" " * (label_width + 3) + " ".join(c.rjust(width) for c in col_labels)]
    for label, row in zip(row_labels, cells):
        lines.append(f"{label.rjust(label_width)} [ " + " ".join(c.rjust(width) for c in row) + " ]")
    return lines


def symbolic_cells(geo: Geometry, transposed_view: bool = False) -> list[list[str]]:
    names = tap_names(geo.kernel)
    rows, cols = math.prod(geo.out_spatial), math.prod(geo.in_spatial)
    cells = [[ZERO] * cols for _ in range(rows)]
    for (r, c), ms in taps(geo).items():
        cells[r][c] = "+".join(names[m] for m in ms)
    return transpose(cells) if transposed_view else cells


def grid_of_values(values: Sequence[Any], dims: Sequence[int]) -> list[str]:
    """A flat list of values shown in the layer's spatial layout (a row in 1D, a matrix in 2D)."""
    texts = [fmt_number(v) for v in values]
    width = max((len(t) for t in texts), default=1)
    if len(dims) == 1:
        return ["[" + ", ".join(t.rjust(width) for t in texts) + "]"]
    row_len = dims[-1]
    rows = [texts[i:i + row_len] for i in range(0, len(texts), row_len)]
    last = len(rows) - 1
    return [("[[" if i == 0 else " [") + ", ".join(t.rjust(width) for t in row) + ("]]" if i == last else "],")
            for i, row in enumerate(rows)]


def check_size(geo: Geometry) -> None:
    if geo.ndim > 2:
        raise LayerError("--matrix is for 1D and 2D layers (a 3D matrix is not readable)", arg="kernel_size")
    rows, cols = math.prod(geo.out_spatial), math.prod(geo.in_spatial)
    if rows == 0:
        raise LayerError("this layer's output is empty: there is no matrix to show", arg="inputs")
    if rows > MAX_SIDE or cols > MAX_SIDE:
        raise LayerError(
            f"the matrix for this input would be {rows} x {cols}; --matrix is for small cases "
            f"(at most {MAX_SIDE} rows and columns)", arg="inputs")


# --------------------------------------------------------------------------------------------------
# verification against torch
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MatrixCheck:
    """What was compared with torch, and the largest absolute difference seen."""

    what: str
    max_abs_diff: float

    @property
    def ok(self) -> bool:
        return self.max_abs_diff <= 1e-9

    def describe(self) -> str:
        return f"{'ok' if self.ok else 'MISMATCH'}: {self.what} (max |diff| {self.max_abs_diff:.1e})"


def full_matrix(layer: Layer, weight: "torch.Tensor") -> "torch.Tensor":
    """W over every channel pair, from the layer's geometry and a torch weight tensor (float64)."""
    import torch

    geo = geometry(layer)
    nd = layer.ndim or 0
    c_in = layer.in_shape[len(layer.in_shape) - nd - 1]
    c_out = layer.out_shape[len(layer.out_shape) - nd - 1]
    groups = int(layer.values.get("groups") or 1)
    n_out, n_in = math.prod(geo.out_spatial), math.prod(geo.in_spatial)
    matrix = torch.zeros(c_out * n_out, c_in * n_in, dtype=torch.float64)
    sparse = taps(geo)
    in_per, out_per = c_in // groups, c_out // groups
    flat_w = weight.reshape(weight.shape[0], weight.shape[1], -1).to(torch.float64)
    for oc in range(c_out):
        g = oc // out_per
        for ic in range(g * in_per, (g + 1) * in_per):
            # conv weight: [out, in/groups, *k]; transposed weight: [in, out/groups, *k]
            kernel = flat_w[oc, ic - g * in_per] if not geo.transposed else flat_w[ic, oc - g * out_per]
            for (r, c), ms in sparse.items():
                matrix[oc * n_out + r, ic * n_in + c] += kernel[ms].sum()
    return matrix


def _back_padding(layer: Layer) -> tuple[int, ...] | None:
    """output_padding of the ConvTranspose that undoes a conv's shape (None: no ConvTranspose does)."""
    from convcalc.understand.transpose import mirror_transpose, solve

    if layer.values.get("padding_mode", "zeros") != "zeros":
        return None  # W^T of a reflect/replicate/circular conv folds the border back: no plain ConvTranspose
    try:
        answer = solve(mirror_transpose(layer), spatial_of(layer))
    except LayerError:
        return None
    if not answer.ok or any(lo != hi for lo, hi in zip(*layer.pads_lr())):
        return None
    return answer.output_padding


def verify(layer: Layer, seed: int = 0) -> list[MatrixCheck]:
    """y = W x against the torch module (all channel pairs), and W^T z against the opposite op."""
    import torch
    import torch.nn.functional as F

    geo = geometry(layer)
    nd = geo.ndim
    if math.prod(geo.out_spatial) == 0:
        raise LayerError("this layer's output is empty: there is no matrix to check", arg="inputs")
    torch.manual_seed(seed)
    module = layer.build().to(torch.float64)
    weight = module.weight.detach()
    matrix = full_matrix(layer, weight)
    x = torch.randn(1, *layer.in_shape[len(layer.in_shape) - nd - 1:], dtype=torch.float64)
    with torch.no_grad():
        y = module(x)
        if module.bias is not None:
            y = y - module.bias.reshape(1, -1, *([1] * nd))
    checks = [MatrixCheck(f"W x == torch {layer.type_name}(x) (bias left out), all channels",
                          float((matrix @ x.flatten() - y.flatten()).abs().max()))]
    groups = int(layer.values.get("groups") or 1)
    z = torch.randn(1, *layer.out_shape[len(layer.out_shape) - nd - 1:], dtype=torch.float64)
    if geo.transposed:
        # the adjoint of a transposed conv is the forward conv with the same weight
        back = getattr(F, f"conv{nd}d")(z, weight, None, geo.stride, geo.pad_left, geo.dilation, groups)
        # an output_padding >= stride (allowed when dilation > stride) makes the conv one position longer
        back = back[(Ellipsis, *(slice(0, n) for n in geo.in_spatial))]
        checks.append(MatrixCheck(f"W^T z == torch conv{nd}d(z) with the same weight",
                                  float((matrix.T @ z.flatten() - back.flatten()).abs().max())))
    else:
        extra = _back_padding(layer)
        if extra is not None:
            back = getattr(F, f"conv_transpose{nd}d")(z, weight, None, geo.stride, geo.pad_left, extra, groups,
                                                      geo.dilation)
            checks.append(MatrixCheck(
                f"W^T z == torch conv_transpose{nd}d(z) with the same weight, output_padding={list(extra)}",
                float((matrix.T @ z.flatten() - back.flatten()).abs().max())))
    return checks


def run_single(layer: Layer, kernel: Sequence[Any], values: Sequence[Any]) -> tuple[list[float], list[float] | None]:
    """torch on one channel pair with this kernel: (y = layer(values), the opposite op applied to y), flat.

    The opposite op is conv_transpose for a conv (None when no ConvTranspose has the conv's input shape,
    or the padding is not zeros) and conv for a transposed conv.
    """
    import torch
    import torch.nn.functional as F

    geo = geometry(layer)
    nd = geo.ndim
    weight = torch.tensor([float(k) for k in kernel], dtype=torch.float64).reshape(1, 1, *geo.kernel)
    x = torch.tensor([float(v) for v in values], dtype=torch.float64).reshape(1, 1, *geo.in_spatial)
    forward = getattr(F, f"conv{nd}d")
    backward = getattr(F, f"conv_transpose{nd}d")
    if geo.transposed:
        y = backward(x, weight, None, geo.stride, geo.pad_left, tuple(layer.output_padding), 1, geo.dilation)
        back = forward(y, weight, None, geo.stride, geo.pad_left, geo.dilation, 1)
        back = back[(Ellipsis, *(slice(0, n) for n in geo.in_spatial))]
        return y.flatten().tolist(), back.flatten().tolist()
    left, right = layer.pads_lr()
    pads = [v for lo, hi in zip(reversed(left), reversed(right)) for v in (lo, hi)]
    mode = {"zeros": "constant"}.get(geo.padding_mode, geo.padding_mode)
    y = forward(F.pad(x, pads, mode=mode), weight, None, geo.stride, 0, geo.dilation, 1)
    extra = _back_padding(layer)
    if extra is None:
        return y.flatten().tolist(), None
    back = backward(y, weight, None, geo.stride, geo.pad_left, extra, 1, geo.dilation)
    return y.flatten().tolist(), back.flatten().tolist()
