"""Sliding-window arithmetic shared by convolution and pooling."""

from __future__ import annotations

from typing import Callable, Iterable, Sequence

from convcalc.errors import LayerError
from convcalc.layers.base import AxisRF, Shape, axis_dims


def spatial_split(layer_name: str, op_name: str, ndim: int, shape: Shape) -> tuple[Shape, int, Shape]:
    """(leading dims, channel count, spatial dims) for a batched or unbatched input, as torch accepts."""
    if len(shape) == ndim + 2:
        return shape[:1], shape[1], shape[2:]
    if len(shape) == ndim + 1:
        return (), shape[0], shape[1:]
    raise LayerError(
        f"expected {ndim + 1}D (unbatched) or {ndim + 2}D (batched) input to {op_name}, "
        f"but got input of size: [{', '.join(map(str, shape))}]",
        hint=f"{layer_name} works on [N, C, {', '.join('LHW'[-ndim:] if ndim < 3 else 'DHW')}] tensors; "
        "check the layers before it (a Flatten, a 1d/2d/3d mix-up?)",
        arg="inputs",
    )


def dims_str(values: Sequence[int]) -> str:
    return " x ".join(str(v) for v in values)


def equivalent_inputs(out_size_of: Callable[[int], int | None], in_size: int, reach: int) -> tuple[int, int]:
    """The inclusive range of input sizes around `in_size` that give the same output size.

    `out_size_of` returns None for an input size the layer rejects; `reach` bounds the scan (a stride).
    """
    target = out_size_of(in_size)
    lo = hi = in_size
    while lo - 1 >= 1 and out_size_of(lo - 1) == target:
        lo -= 1
        if in_size - lo > reach:
            break
    while out_size_of(hi + 1) == target:
        hi += 1
        if hi - in_size > reach:
            break
    return lo, hi


def spatial_index(rank: int, axes: int | Sequence[AxisRF], dim: int) -> int | None:
    """The receptive-field axis that tensor dim `dim` is, or None for a non-spatial dim.

    `axes` is the incoming field (or, for the default layout, just its number of axes). The network
    input is [N, C, *spatial] and most layers keep the spatial dims last, so by default the axes are the
    trailing dims; after a Permute, Transpose or Reshape each axis records its own dim (AxisRF.dim).
    Where a local axis and a stale global one claim the same dim, the local one is the dim's.
    """
    if isinstance(axes, int):
        axis = dim - (rank - axes)
        return axis if 0 <= axis < axes and dim >= 1 else None
    found = [i for i, d in enumerate(axis_dims(axes, rank)) if d == dim]
    local = [i for i in found if not axes[i].is_global]
    return (local or found or [None])[0]


def globalise_dims(rf: Sequence[AxisRF], shape: Shape, dims: Iterable[int]) -> tuple[AxisRF, ...]:
    """Mark the axes behind tensor dims `dims` as global: every output reads all of them."""
    axes = list(rf)
    for dim in dims:
        axis = spatial_index(len(shape), axes, dim)
        if axis is not None:
            axes[axis] = axes[axis].globalised(shape[dim])
    return tuple(axes)


def globalise_all(rf: Sequence[AxisRF], shape: Shape) -> tuple[AxisRF, ...]:
    return globalise_dims(rf, shape, range(len(shape)))


def normalize_dim(dim: int, rank: int, arg: str = "dim") -> int:
    """PyTorch's dim wrapping, with its IndexError turned into a LayerError."""
    lo, hi = -max(rank, 1), max(rank, 1) - 1
    if not lo <= dim <= hi:
        raise LayerError(f"Dimension out of range (expected to be in range of [{lo}, {hi}], but got {dim})",
                         hint=f"the input has {rank} dims", arg=arg)
    return dim % max(rank, 1)
