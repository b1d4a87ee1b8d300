"""Sliding-window arithmetic shared by convolution and pooling."""

from __future__ import annotations

from typing import Callable, Sequence

from convcalc.errors import LayerError
from convcalc.layers.base import Shape


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
