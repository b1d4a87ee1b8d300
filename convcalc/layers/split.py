"""Layers with several outputs: Split and Chunk (torch.split, torch.chunk).

Each piece is addressed by later layers as `name.k` (`inputs: [split.0, branch]`), in torch's order. The
pieces are views of the input: no parameters and no arithmetic. Along a spatial dim, piece k starts at
offset `start_k` of the input, so its receptive field is the input's shifted by that offset.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, Sequence

from convcalc.errors import LayerError
from convcalc.layers.base import RF, Arg, Layer, Shape, fmt_shape, register
from convcalc.layers.window import normalize_dim, spatial_index

if TYPE_CHECKING:  # pragma: no cover
    import torch


class _Pieces(Layer):
    """Cuts the input along `dim` into pieces of the sizes `piece_sizes()` returns."""

    family = "split"
    multi_output: ClassVar[bool] = True
    flops_rule = "0 (the pieces are views of the input)"

    def _dim(self) -> int:
        rank = len(self.in_shape)
        if rank == 0:
            raise LayerError(f"{self.type_name.lower()} expects at least a 1-dimensional tensor", arg="inputs")
        return normalize_dim(self.dim, rank)

    def piece_sizes(self) -> list[int]:
        raise NotImplementedError

    def check(self) -> None:
        self._dim()
        self.piece_sizes()

    def output_shapes(self) -> tuple[Shape, ...]:
        dim = self._dim()
        return tuple((*self.in_shape[:dim], size, *self.in_shape[dim + 1:]) for size in self.piece_sizes())

    def output_shape(self) -> Shape:
        return self.output_shapes()[0]

    def offsets(self) -> list[int]:
        starts, total = [], 0
        for size in self.piece_sizes():
            starts.append(total)
            total += size
        return starts

    def output_rfs(self, in_rfs: Sequence[RF]) -> tuple[RF, ...]:
        rf = in_rfs[0]
        axis = spatial_index(len(self.in_shape), rf, self._dim())
        if axis is None:
            return tuple(rf for _ in self.piece_sizes())
        pieces = []
        for offset in self.offsets():
            axes = list(rf)
            axes[axis] = axes[axis].shifted(offset)  # piece position o is input position o + offset
            pieces.append(tuple(axes))
        return tuple(pieces)

    def rf(self, in_rfs: Sequence[RF]) -> RF:
        return self.output_rfs(in_rfs)[0]


@register
class Split(_Pieces):
    type_name = "Split"
    summary = "cut into pieces of `split_size_or_sections` along `dim` (torch.split); read piece k as name.k"
    args = (
        Arg("split_size_or_sections", "any",
            doc="the size of every piece (the last may be smaller), or a list of the pieces' sizes"),
        Arg("dim", "int", 0, doc="the dim to cut (torch's default is 0, the batch: CNNs usually cut dim 1)"),
    )

    def _sections(self) -> int | list[int]:
        value = self.split_size_or_sections
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, (list, tuple)) and all(isinstance(v, int) and not isinstance(v, bool) for v in value):
            return list(value)
        raise LayerError(f"'split_size_or_sections' must be an integer or a list of integers, got {value!r}",
                         arg="split_size_or_sections")

    def piece_sizes(self) -> list[int]:
        sections = self._sections()
        size = self.in_shape[self._dim()]
        if isinstance(sections, list):
            if any(s < 0 for s in sections):
                raise LayerError(f"split_with_sizes expects split_sizes have only non-negative entries, but got "
                                 f"split_sizes={sections}", arg="split_size_or_sections")
            if sum(sections) != size:
                raise LayerError(
                    f"split_with_sizes expects split_sizes to sum exactly to {size} (input tensor's size at "
                    f"dimension {self._dim()}), but got split_sizes={sections}",
                    hint=f"the input {fmt_shape(self.in_shape)} has {size} along dim {self._dim()}",
                    arg="split_size_or_sections")
            return sections
        if sections < 0:
            raise LayerError(f"split expects split_size be non-negative, but got split_size={sections}",
                             arg="split_size_or_sections")
        if sections == 0:
            if size != 0:
                raise LayerError(f"split_size can only be 0 if dimension size is 0, but got dimension size of {size}",
                                 arg="split_size_or_sections")
            return [0]
        count = max(-(-size // sections), 1)
        return [min(sections, size - k * sections) for k in range(count)]

    def resolved_args(self) -> dict[str, Any]:
        values = dict(self.values)
        values["split_size_or_sections"] = self._sections()
        return values

    def build(self) -> "torch.nn.Module":
        from convcalc.torch_backend.modules import Split as SplitModule

        return SplitModule(self._sections(), self.dim)


@register
class Chunk(_Pieces):
    type_name = "Chunk"
    summary = "cut into `chunks` near-equal pieces along `dim` (torch.chunk); read piece k as name.k"
    args = (
        Arg("chunks", "int", doc="how many pieces (torch may return fewer: every piece but the last has "
            "ceil(size / chunks))"),
        Arg("dim", "int", 0, doc="the dim to cut (torch's default is 0, the batch: CNNs usually cut dim 1)"),
    )

    def piece_sizes(self) -> list[int]:
        if self.chunks <= 0:
            raise LayerError(f"chunk expects `chunks` to be greater than 0, got: {self.chunks}", arg="chunks")
        size = self.in_shape[self._dim()]
        if size == 0:
            return [0] * self.chunks
        piece = -(-size // self.chunks)
        return [min(piece, size - k * piece) for k in range(-(-size // piece))]

    def build(self) -> "torch.nn.Module":
        from convcalc.torch_backend.modules import Chunk as ChunkModule

        return ChunkModule(self.chunks, self.dim)
