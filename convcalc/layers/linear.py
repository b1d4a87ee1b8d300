"""Linear, reshaping and pass-through layers: Linear, Flatten, Unflatten, Identity and the Dropout family."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Sequence

from convcalc.errors import LayerError
from convcalc.layers.base import RF, Arg, Layer, Shape, axis_dims, fmt_shape, placed, register
from convcalc.layers.window import globalise_all, globalise_dims, normalize_dim, spatial_index

if TYPE_CHECKING:  # pragma: no cover
    import torch


@register
class Linear(Layer):
    """y = x W^T + b over the last dim; every leading dim is a batch dim."""

    type_name = "Linear"
    family = "linear"
    summary = "fully connected layer over the last dim (torch.nn.Linear)"
    flops_rule = "2 * MACs (multiply and add), plus one add per output element for the bias"
    args = (
        Arg("in_features", "int", inferred=True, doc="size of the incoming last dim"),
        Arg("out_features", "int", doc="size of the output's last dim"),
        Arg("bias", "bool", True, doc="learnable bias"),
    )

    def check(self) -> None:
        if self.out_features < 0:
            raise LayerError(f"Trying to create tensor with negative dimension {self.out_features}: "
                             f"out_features={self.out_features}", arg="out_features")
        given = self.values.get("in_features")
        features = self.in_shape[-1]
        if given is not None and given != features:
            lead = math.prod(self.in_shape[:-1])
            raise LayerError(
                f"mat1 and mat2 shapes cannot be multiplied ({lead}x{features} and {given}x{self.out_features}): "
                f"in_features={given} but the incoming shape {fmt_shape(self.in_shape)} ends in {features}",
                hint=self._hint(features), arg="in_features")
        self.values["in_features"] = features

    def _hint(self, features: int) -> str:
        if len(self.in_shape) > 2:
            return (f"Linear acts on the last dim only; add a Flatten before it to use all "
                    f"{math.prod(self.in_shape[1:])} features, or drop 'in_features'")
        return "drop 'in_features' (convcalc infers it)"

    def output_shape(self) -> Shape:
        return (*self.in_shape[:-1], self.out_features)

    def params(self) -> int:
        return self.in_features * self.out_features + (self.out_features if self.bias else 0)

    def macs(self) -> int:
        return math.prod(self.in_shape[:-1]) * self.in_features * self.out_features

    def flops(self) -> int:
        return 2 * self.macs() + (self.numel() if self.bias else 0)

    def fvcore_flops(self) -> int:
        return self.macs()  # aten::linear: input numel x out_features, bias not counted

    def torch_flops(self) -> int:
        return 2 * self.macs()  # mm/addmm: 2 * M * K * N, bias not counted

    def rf(self, in_rfs: Sequence[RF]) -> RF:
        return globalise_dims(in_rfs[0], self.in_shape, [len(self.in_shape) - 1])

    def build(self) -> "torch.nn.Module":
        import torch.nn as nn

        return nn.Linear(self.in_features, self.out_features, bias=self.bias)


@register
class Flatten(Layer):
    type_name = "Flatten"
    family = "reshape"
    summary = "merge dims start_dim..end_dim into one (torch.nn.Flatten)"
    args = (
        Arg("start_dim", "int", 1, doc="first dim to merge"),
        Arg("end_dim", "int", -1, doc="last dim to merge"),
    )

    def _range(self) -> tuple[int, int]:
        rank = len(self.in_shape)
        start = normalize_dim(self.start_dim, rank, "start_dim")
        end = normalize_dim(self.end_dim, rank, "end_dim")
        if start > end:
            raise LayerError("flatten() has invalid args: start_dim cannot come after end_dim",
                             hint=f"on a {rank}D input start_dim={self.start_dim} is dim {start} and "
                             f"end_dim={self.end_dim} is dim {end}", arg="start_dim")
        return start, end

    def check(self) -> None:
        self._range()

    def output_shape(self) -> Shape:
        start, end = self._range()
        shape = self.in_shape
        return (*shape[:start], math.prod(shape[start:end + 1]), *shape[end + 1:])

    def rf(self, in_rfs: Sequence[RF]) -> RF:
        # merging a spatial dim with anything mixes positions: every axis becomes global
        start, end = self._range()
        rf, rank = in_rfs[0], len(self.in_shape)
        if start < end and any(spatial_index(rank, rf, d) is not None for d in range(start, end + 1)):
            return globalise_all(rf, self.in_shape)
        # the dims after the merged ones keep their place from the end; those before it move
        return placed(rf, [d if d is None or d < start else d - (end - start) for d in axis_dims(rf, rank)],
                      len(self.out_shape))

    def build(self) -> "torch.nn.Module":
        import torch.nn as nn

        return nn.Flatten(self.start_dim, self.end_dim)


@register
class Unflatten(Layer):
    type_name = "Unflatten"
    family = "reshape"
    summary = "split one dim into several (torch.nn.Unflatten)"
    args = (
        Arg("dim", "int", doc="the dim to split"),
        Arg("unflattened_size", "shape", doc="its new sizes (one may be -1)"),
    )

    def _sizes(self) -> tuple[int, tuple[int, ...]]:
        rank = len(self.in_shape)
        dim = normalize_dim(self.dim, rank)
        sizes = tuple(self.unflattened_size)
        n = self.in_shape[dim]
        unknown = [i for i, s in enumerate(sizes) if s == -1]
        if len(unknown) > 1 or any(s < -1 for s in sizes):
            raise LayerError(f"unflatten: invalid sizes {list(sizes)} (at most one -1, no other negative size)",
                             arg="unflattened_size")
        known = math.prod(s for s in sizes if s != -1)
        if unknown:
            if known == 0 or n % known:
                raise LayerError(self._bad(sizes, dim, n), arg="unflattened_size")
            sizes = tuple(n // known if s == -1 else s for s in sizes)
        elif known != n:
            raise LayerError(self._bad(sizes, dim, n), arg="unflattened_size")
        return dim, sizes

    @staticmethod
    def _bad(sizes: Sequence[int], dim: int, n: int) -> str:
        return (f"unflatten: Provided sizes {list(sizes)} don't multiply up to the size of dim {dim} ({n}) "
                "in the input tensor")

    def check(self) -> None:
        self._sizes()

    def output_shape(self) -> Shape:
        dim, sizes = self._sizes()
        return (*self.in_shape[:dim], *sizes, *self.in_shape[dim + 1:])

    def rf(self, in_rfs: Sequence[RF]) -> RF:
        dim, sizes = self._sizes()
        rf, rank = in_rfs[0], len(self.in_shape)
        if len(sizes) > 1 and spatial_index(rank, rf, dim) is not None:
            return globalise_all(rf, self.in_shape)
        return placed(rf, [d if d is None or d < dim else d + len(sizes) - 1 for d in axis_dims(rf, rank)],
                      len(self.out_shape))

    def resolved_args(self) -> dict[str, Any]:
        values = dict(self.values)
        values["unflattened_size"] = list(self.unflattened_size)
        return values

    def build(self) -> "torch.nn.Module":
        import torch.nn as nn

        return nn.Unflatten(self.dim, tuple(self.unflattened_size))


@register
class Identity(Layer):
    type_name = "Identity"
    family = "reshape"
    summary = "passes its input through (torch.nn.Identity); takes no arguments"

    def build(self) -> "torch.nn.Module":
        import torch.nn as nn

        return nn.Identity()


class _DropoutBase(Layer):
    """Dropout is the identity at inference; its only checks are p's range and, for some, the rank."""

    family = "dropout"
    args = (
        Arg("p", "float", 0.5, doc="drop probability, 0..1"),
        Arg("inplace", "bool", False, doc="overwrite the input (no effect on counts)"),
    )

    def check(self) -> None:
        if not 0.0 <= self.p <= 1.0:
            raise LayerError(f"dropout probability has to be between 0 and 1, but got {self.p}", arg="p")

    def build(self) -> "torch.nn.Module":
        import torch.nn as nn

        return getattr(nn, self.type_name)(p=self.p, inplace=self.inplace)


for _name, _summary in (
    ("Dropout", "zeroes random elements in training; identity at inference (torch.nn.Dropout)"),
    ("Dropout2d", "zeroes random channels in training; identity at inference (torch.nn.Dropout2d)"),
    ("Dropout3d", "zeroes random channels in training; identity at inference (torch.nn.Dropout3d)"),
    ("AlphaDropout", "SELU-preserving dropout; identity at inference (torch.nn.AlphaDropout)"),
    ("FeatureAlphaDropout", "channel-wise alpha dropout; identity at inference (torch.nn.FeatureAlphaDropout)"),
):
    register(type(_name, (_DropoutBase,), {"type_name": _name, "summary": _summary}))


@register
class Dropout1d(_DropoutBase):
    type_name = "Dropout1d"
    summary = "zeroes random channels of [N, C, L] in training; identity at inference (torch.nn.Dropout1d)"

    def check(self) -> None:
        super().check()
        rank = len(self.in_shape)
        if rank not in (2, 3):
            raise LayerError(
                f"dropout1d: Expected 2D or 3D input, but received a {rank}D input. Note that dropout1d exists "
                "to provide channel-wise dropout on inputs with 1 spatial dimension", arg="inputs")


@register
class ChannelShuffle(Layer):
    type_name = "ChannelShuffle"
    family = "reshape"
    trailing_spatial = True  # it permutes dim 1: a spatial axis there would be scrambled
    summary = "interleave the channels of `groups` groups (torch.nn.ChannelShuffle, ShuffleNet)"
    args = (Arg("groups", "int", doc="number of channel groups; must divide the channels"),)

    def check(self) -> None:
        shape = self.in_shape
        if len(shape) <= 2:
            raise LayerError(f"channel_shuffle expects input with > 2 dims, but got input with sizes {list(shape)}",
                             arg="inputs")
        if self.groups <= 0:
            raise LayerError(f"Number of groups to divide channels in must be positive. Value of groups:{self.groups}",
                             arg="groups")
        if shape[1] % self.groups:
            raise LayerError(f"Number of channels must be divisible by groups. Got {shape[1]} channels and "
                             f"{self.groups} groups.", arg="groups")

    def build(self) -> "torch.nn.Module":
        import torch.nn as nn

        return nn.ChannelShuffle(self.groups)
