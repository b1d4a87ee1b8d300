"""Normalisation layers: BatchNorm, InstanceNorm (1D-3D), GroupNorm, LayerNorm, RMSNorm, LocalResponseNorm.

Checks follow PyTorch 2.13 in eval mode (inference), which is how convcalc runs networks: BatchNorm
with running statistics never looks at batch statistics, so it accepts a batch of one; a layer that
normalises with the input's own statistics (BatchNorm without running stats, InstanceNorm without
running stats, GroupNorm) rejects a tensor with a single value per statistic, as PyTorch does.

Receptive fields: a layer whose output at one position depends on statistics taken over spatial
positions (GroupNorm, InstanceNorm or BatchNorm using input statistics, LayerNorm/RMSNorm over spatial
dims) makes those axes global; BatchNorm with running statistics (folded at inference) changes nothing.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, ClassVar, Sequence

from convcalc.errors import LayerError
from convcalc.layers.base import RF, Arg, Layer, fmt_shape, register
from convcalc.layers.window import globalise_all, globalise_dims

if TYPE_CHECKING:  # pragma: no cover
    import torch

_STATS_FLOPS = 5  # mean (1 add), centre (1 sub), square (1 mul), variance (1 add), normalise (1 div)


def _affine_flops(weight: bool, bias: bool) -> int:
    return int(weight) + int(weight and bias)


def _mismatch(name: str, given: int, actual: int, shape: Sequence[int], what: str = "channels") -> LayerError:
    return LayerError(
        f"{name}={given} but the incoming shape {fmt_shape(shape)} has {actual} {what}",
        hint=f"drop '{name}' (convcalc infers it) or fix the layer before this one", arg=name)


class _NormBase(Layer):
    family = "norm"

    def fvcore_flops(self) -> int:
        return 0


# --------------------------------------------------------------------------------------------------
# BatchNorm and InstanceNorm share PyTorch's _NormBase arguments
# --------------------------------------------------------------------------------------------------


def _batchnorm_args(instance: bool) -> tuple[Arg, ...]:
    return (
        Arg("num_features", "int", inferred=True, doc="channels of the incoming tensor"),
        Arg("eps", "float", 1e-5, doc="added to the variance for stability"),
        Arg("momentum", "float", 0.1, nullable=True, doc="running-statistics update factor (null: cumulative)"),
        Arg("affine", "bool", not instance, doc="learnable per-channel scale and shift"),
        Arg("track_running_stats", "bool", not instance, doc="keep running mean/variance buffers"),
        Arg("bias", "bool", True, keyword_only=True, doc="learnable shift (with affine)"),
    )


class _RunningStatsNorm(_NormBase):
    """What BatchNorm and InstanceNorm have in common: per-channel affine params and running buffers."""

    def _features(self, channels: int, shape: Sequence[int]) -> None:
        given = self.values.get("num_features")
        if given is None:
            self.values["num_features"] = channels
        elif given != channels and (self.affine or self.track_running_stats):
            # without affine params or running buffers PyTorch never reads num_features
            raise _mismatch("num_features", given, channels, shape)

    def params(self) -> int:
        return self.num_features * (1 + int(self.bias)) if self.affine else 0

    def buffers(self) -> int:
        # running_mean, running_var and the scalar num_batches_tracked
        return 2 * self.num_features + 1 if self.track_running_stats else 0

    @property
    def uses_input_stats(self) -> bool:
        return not self.track_running_stats

    def flops(self) -> int:
        if self.uses_input_stats:
            return (_STATS_FLOPS + _affine_flops(self.affine, self.bias)) * self.numel()
        return 2 * self.numel()  # running statistics and affine fold into one scale and one shift

    def rf(self, in_rfs: Sequence[RF]) -> RF:
        return globalise_all(in_rfs[0], self.in_shape) if self.uses_input_stats else in_rfs[0]

    def build(self) -> "torch.nn.Module":
        import torch.nn as nn

        return getattr(nn, self.type_name)(
            self.num_features, eps=self.eps, momentum=self.momentum, affine=self.affine,
            track_running_stats=self.track_running_stats, bias=self.bias)


class _BatchNormNd(_RunningStatsNorm):
    flops_rule = ("with running statistics (eval, folded): 2 per element (scale and shift); without: "
                  "5 per element for the statistics, +1 for the affine weight, +1 for its bias")
    ranks: ClassVar[tuple[int, ...]] = ()

    def check(self) -> None:
        rank = len(self.in_shape)
        if rank not in self.ranks:
            want = " or ".join(f"{r}D" for r in self.ranks)
            raise LayerError(f"expected {want} input (got {rank}D input)",
                             hint=f"{self.type_name} takes [N, C{', L' if self.ndim == 1 else ''}"
                             f"{', H, W' if self.ndim == 2 else ''}{', D, H, W' if self.ndim == 3 else ''}]",
                             arg="inputs")
        self._features(self.in_shape[1], self.in_shape)
        if self.uses_input_stats and math.prod(self.in_shape) // max(self.in_shape[1], 1) == 1:
            raise LayerError(
                f"Expected more than 1 value per channel when training, got input size {list(self.in_shape)}",
                hint="without running statistics BatchNorm normalises with the batch's own statistics; "
                "use a larger batch or track_running_stats=true", arg="inputs")

    def fvcore_flops(self) -> int:
        # fvcore: eval-mode batch_norm costs 1 per element (+1 with affine); with input statistics
        # (no running stats) it uses its generic norm estimate, 4 per element (+1 with affine)
        if self.track_running_stats:
            return self.numel() * (2 if self.affine else 1)
        return self.numel() * (5 if self.affine else 4)


class _InstanceNormNd(_RunningStatsNorm):
    flops_rule = ("5 per element for the statistics, +1 for the affine weight, +1 for its bias; "
                  "2 per element when running statistics are used (eval with track_running_stats)")

    def check(self) -> None:
        rank, ndim = len(self.in_shape), self.ndim or 0
        if rank not in (ndim + 1, ndim + 2):
            raise LayerError(f"expected {ndim + 1}D or {ndim + 2}D input (got {rank}D input)", arg="inputs")
        feature_dim = rank - ndim - 1
        channels = self.in_shape[feature_dim]
        given = self.values.get("num_features")
        if given is not None and given != channels and self.affine:
            raise LayerError(
                f"expected input's size at dim={feature_dim} to match num_features ({given}), but got: {channels}.",
                hint="drop 'num_features' (convcalc infers it)", arg="num_features")
        self._features(channels, self.in_shape)
        if self.uses_input_stats and math.prod(self.in_shape[-ndim:]) == 1:
            raise LayerError(
                f"Expected more than 1 spatial element when training, got input size {list(self.in_shape)}",
                hint="instance statistics need at least 2 spatial positions", arg="inputs")

    def fvcore_flops(self) -> int:
        return self.numel() * (5 if self.affine else 4)


for _n in (1, 2, 3):
    register(type(f"BatchNorm{_n}d", (_BatchNormNd,), {
        "type_name": f"BatchNorm{_n}d", "ndim": _n, "args": _batchnorm_args(False),
        "ranks": (2, 3) if _n == 1 else (_n + 2,),
        "summary": f"batch normalisation over {'[N, C] or [N, C, L]' if _n == 1 else f'{_n}D maps'} "
                   f"(torch.nn.BatchNorm{_n}d)",
    }))
    register(type(f"InstanceNorm{_n}d", (_InstanceNormNd,), {
        "type_name": f"InstanceNorm{_n}d", "ndim": _n, "args": _batchnorm_args(True),
        "summary": f"instance normalisation of {_n}D maps (torch.nn.InstanceNorm{_n}d)",
    }))


# --------------------------------------------------------------------------------------------------
# GroupNorm, LayerNorm, RMSNorm
# --------------------------------------------------------------------------------------------------


@register
class GroupNorm(_NormBase):
    type_name = "GroupNorm"
    summary = "group normalisation (torch.nn.GroupNorm)"
    flops_rule = "5 per element for the statistics, +1 for the affine weight, +1 for its bias"
    args = (
        Arg("num_groups", "int", doc="number of channel groups"),
        Arg("num_channels", "int", inferred=True, doc="channels of the incoming tensor"),
        Arg("eps", "float", 1e-5, doc="added to the variance for stability"),
        Arg("affine", "bool", True, doc="learnable per-channel scale and shift"),
        Arg("bias", "bool", True, keyword_only=True, doc="learnable shift (with affine)"),
    )

    def check(self) -> None:
        groups = self.num_groups
        shape = self.in_shape
        if groups == 0:
            raise LayerError("num_groups must not be 0 (PyTorch: integer modulo by zero)", arg="num_groups")
        if len(shape) < 2:
            raise LayerError(f"Expected at least 2 dimensions for input tensor but received {len(shape)}",
                             arg="inputs")
        channels = shape[1]
        given = self.values.get("num_channels")
        declared = channels if given is None else given
        if declared % groups:  # the constructor's check, on the declared channel count
            raise LayerError(f"num_channels ({declared}) must be divisible by num_groups ({groups})",
                             hint=_divisors_hint(declared), arg="num_groups")
        if groups < 0:
            raise LayerError(f"Expected num groups to be greater than 0, got {groups}", arg="num_groups")
        if channels % groups:
            raise LayerError(
                f"Expected number of channels in input to be divisible by num_groups, but got input of shape "
                f"{list(shape)} and num_groups={groups}", hint=_divisors_hint(channels), arg="num_groups")
        if given is not None and given != channels and self.affine:
            raise _mismatch("num_channels", given, channels, shape)
        self.values["num_channels"] = declared
        if (shape[0] * channels // groups) * math.prod(shape[2:]) == 1:
            raise LayerError(
                f"Expected more than 1 value per channel when training, got input size "
                f"{[shape[0] * channels // groups, groups, *shape[2:]]}",
                hint="each group holds a single value: use fewer groups or a larger input", arg="num_groups")

    def params(self) -> int:
        return self.num_channels * (1 + int(self.bias)) if self.affine else 0

    def flops(self) -> int:
        return (_STATS_FLOPS + _affine_flops(self.affine, self.bias)) * self.numel()

    def fvcore_flops(self) -> int:
        return self.numel() * (5 if self.affine else 4)

    def rf(self, in_rfs: Sequence[RF]) -> RF:
        return globalise_all(in_rfs[0], self.in_shape)

    def build(self) -> "torch.nn.Module":
        import torch.nn as nn

        return nn.GroupNorm(self.num_groups, self.num_channels, eps=self.eps, affine=self.affine, bias=self.bias)


def _divisors_hint(channels: int) -> str:
    divisors = [d for d in range(1, channels + 1) if channels % d == 0] if channels > 0 else []
    return f"num_groups must divide {channels}: one of {', '.join(map(str, divisors[:12]))}" if divisors else ""


class _ShapeNorm(_NormBase):
    """A norm over the trailing `normalized_shape` dims (LayerNorm, RMSNorm)."""

    def check(self) -> None:
        wanted = tuple(self.normalized_shape)
        shape = self.in_shape
        if any(s < 0 for s in wanted):
            raise LayerError(f"Trying to create tensor with negative dimension: normalized_shape={list(wanted)}",
                             arg="normalized_shape")
        if len(wanted) > len(shape) or tuple(shape[len(shape) - len(wanted):]) != wanted:
            trailing = list(shape[-len(wanted):]) if len(wanted) <= len(shape) else list(shape)
            raise LayerError(
                f"Given normalized_shape={list(wanted)}, expected input with shape [*, "
                f"{', '.join(map(str, wanted))}], but got input of size{list(shape)}",
                hint=f"normalized_shape must equal the last dims of the input, e.g. {trailing}",
                arg="normalized_shape")

    @property
    def norm_numel(self) -> int:
        return math.prod(self.normalized_shape)

    def rf(self, in_rfs: Sequence[RF]) -> RF:
        rank = len(self.in_shape)
        return globalise_dims(in_rfs[0], self.in_shape, range(rank - len(self.normalized_shape), rank))

    def resolved_args(self) -> dict[str, Any]:
        values = dict(self.values)
        values["normalized_shape"] = list(self.normalized_shape)
        return values


@register
class LayerNorm(_ShapeNorm):
    type_name = "LayerNorm"
    summary = "layer normalisation over the trailing dims (torch.nn.LayerNorm)"
    flops_rule = "5 per element for the statistics, +1 for the affine weight, +1 for its bias"
    args = (
        Arg("normalized_shape", "shape", doc="the trailing dims to normalise over"),
        Arg("eps", "float", 1e-5, doc="added to the variance for stability"),
        Arg("elementwise_affine", "bool", True, doc="learnable per-element scale (and shift)"),
        Arg("bias", "bool", True, doc="learnable shift (with elementwise_affine)"),
    )

    def params(self) -> int:
        return self.norm_numel * (1 + int(self.bias)) if self.elementwise_affine else 0

    def flops(self) -> int:
        return (_STATS_FLOPS + _affine_flops(self.elementwise_affine, self.bias)) * self.numel()

    def fvcore_flops(self) -> int:
        return self.numel() * (5 if self.elementwise_affine else 4)

    def build(self) -> "torch.nn.Module":
        import torch.nn as nn

        return nn.LayerNorm(list(self.normalized_shape), eps=self.eps,
                            elementwise_affine=self.elementwise_affine, bias=self.bias)


@register
class RMSNorm(_ShapeNorm):
    type_name = "RMSNorm"
    summary = "root-mean-square normalisation over the trailing dims (torch.nn.RMSNorm)"
    flops_rule = "3 per element (square, mean, scale), +1 for the affine weight"
    args = (
        Arg("normalized_shape", "shape", doc="the trailing dims to normalise over"),
        Arg("eps", "float", None, nullable=True, doc="added for stability (null: the dtype's eps)"),
        Arg("elementwise_affine", "bool", True, doc="learnable per-element scale"),
    )

    def params(self) -> int:
        return self.norm_numel if self.elementwise_affine else 0

    def flops(self) -> int:
        return (3 + int(self.elementwise_affine)) * self.numel()

    def build(self) -> "torch.nn.Module":
        import torch.nn as nn

        return nn.RMSNorm(list(self.normalized_shape), eps=self.eps, elementwise_affine=self.elementwise_affine)


@register
class LocalResponseNorm(_NormBase):
    type_name = "LocalResponseNorm"
    trailing_spatial = True  # it slides a window along dim 1: a spatial axis there would widen
    summary = "local response normalisation across channels (torch.nn.LocalResponseNorm)"
    flops_rule = "size + 4 per element (square, sum over `size` neighbouring channels, scale, power, divide)"
    args = (
        Arg("size", "int", doc="number of neighbouring channels"),
        Arg("alpha", "float", 1e-4, doc="multiplicative factor"),
        Arg("beta", "float", 0.75, doc="exponent"),
        Arg("k", "float", 1.0, doc="additive factor"),
    )

    def check(self) -> None:
        rank = len(self.in_shape)
        if rank < 3:
            raise LayerError(f"Expected 3D or higher dimensionality input (got {rank} dimensions)", arg="inputs")
        if self.size <= 0:
            # F.local_response_norm averages with a (size x 1 ...) pooling window
            raise LayerError(f"kernel size should be greater than zero, but got size={self.size}", arg="size")

    def flops(self) -> int:
        return (self.size + 4) * self.numel()

    def build(self) -> "torch.nn.Module":
        import torch.nn as nn

        return nn.LocalResponseNorm(self.size, alpha=self.alpha, beta=self.beta, k=self.k)
