"""Plain-torch twins of the layer types that torch.nn has no class for, written independently of convcalc.

The tensor operations call the torch function directly; LayerNorm2d, the layer scale and StochasticDepth
are written as torchvision writes them (torchvision does not install beside our torch). The conformance
samples (tests/test_layers_torch.py) and the property tests (tests/test_layers_tensor.py) compare convcalc
against these. Only the tests import this module.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import torch
import torch.nn.functional as F
from torch import nn


class Fn(nn.Module):
    """A module whose forward is one torch function of its inputs."""

    def __init__(self, fn: Callable[..., torch.Tensor]) -> None:
        super().__init__()
        self.fn = fn

    def forward(self, *xs: torch.Tensor) -> torch.Tensor:
        return self.fn(*xs)


def narrow(dim: int, start: int, length: int) -> nn.Module:
    return Fn(lambda x: torch.narrow(x, dim, start, length))


def permute(dims: Sequence[int]) -> nn.Module:
    return Fn(lambda x: torch.permute(x, tuple(dims)))  # torchvision.ops.Permute


def transpose(dim0: int, dim1: int) -> nn.Module:
    return Fn(lambda x: torch.transpose(x, dim0, dim1))


def reshape(shape: Sequence[int]) -> nn.Module:
    return Fn(lambda x: torch.reshape(x, tuple(shape)))


def mean(dim: Any, keepdim: bool = False) -> nn.Module:
    return Fn(lambda x: torch.mean(x, dim=tuple(dim) if isinstance(dim, (list, tuple)) else dim, keepdim=keepdim))


class LayerNorm2d(nn.LayerNorm):
    """torchvision.models.convnext.LayerNorm2d."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.permute(0, 2, 3, 1)
        x = F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)
        x = x.permute(0, 3, 1, 2)
        return x


def layer_norm_2d(num_channels: int, eps: float = 1e-5, elementwise_affine: bool = True,
                  bias: bool = True) -> nn.Module:
    return LayerNorm2d(num_channels, eps=eps, elementwise_affine=elementwise_affine, bias=bias)


class LayerScale(nn.Module):
    """ConvNeXt's CNBlock layer scale, `self.layer_scale * x`, its parameter [C, 1, 1] for a 4D input
    (here [C] + [1] * (rank - 2), so that it also fits other ranks with a channel dim)."""

    def __init__(self, num_features: int, init_value: float = 1.0, rank: int = 4) -> None:
        super().__init__()
        if rank < 2:
            raise ValueError("a layer scale needs a channel dim (dim 1)")
        self.layer_scale = nn.Parameter(torch.ones(num_features, *[1] * (rank - 2)) * init_value)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layer_scale * x


def stochastic_depth_fn(x: torch.Tensor, p: float, mode: str, training: bool = True) -> torch.Tensor:
    """torchvision.ops.stochastic_depth."""
    if p < 0.0 or p > 1.0:
        raise ValueError(f"drop probability has to be between 0 and 1, but got {p}")
    if mode not in ["batch", "row"]:
        raise ValueError(f"mode has to be either 'batch' or 'row', but got {mode}")
    if not training or p == 0.0:
        return x
    survival_rate = 1.0 - p
    size = [x.shape[0]] + [1] * (x.ndim - 1) if mode == "row" else [1] * x.ndim
    noise = torch.empty(size, dtype=x.dtype, device=x.device)
    noise = noise.bernoulli_(survival_rate)
    if survival_rate > 0.0:
        noise.div_(survival_rate)
    return x * noise


class StochasticDepth(nn.Module):
    """torchvision.ops.StochasticDepth."""

    def __init__(self, p: float, mode: str = "row") -> None:
        super().__init__()
        self.p = p
        self.mode = mode

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return stochastic_depth_fn(x, self.p, self.mode, self.training)


# type name -> maker taking the layer's (resolved) arguments as keywords
TWINS: dict[str, Callable[..., nn.Module]] = {
    "Narrow": narrow, "Permute": permute, "Transpose": transpose, "Reshape": reshape, "Mean": mean,
    "LayerNorm2d": layer_norm_2d, "Scale": LayerScale, "StochasticDepth": StochasticDepth,
}
