"""Hand-written PyTorch modules for the importer's tests (also imported by path, as a file target)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class Plain(nn.Sequential):
    """A Sequential of modules: conv, norm, activations, pools, flatten, linear, dropout."""

    def __init__(self, width: int = 8, classes: int = 10) -> None:
        super().__init__(
            nn.Conv2d(3, width, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(width, eps=1e-3),
            nn.ReLU(inplace=True), nn.MaxPool2d(3, 2, padding=1, ceil_mode=True),
            nn.Conv2d(width, 2 * width, (3, 1), padding=(1, 0), groups=2), nn.GELU(approximate="tanh"),
            nn.AdaptiveAvgPool2d((2, 2)), nn.Flatten(), nn.Dropout(0.25), nn.Linear(8 * width, classes),
        )


class Residual(nn.Module):
    def __init__(self, channels: int = 8) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.relu = nn.ReLU(inplace=True)  # called twice, as torchvision's blocks do
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        out += x
        return self.relu(out)


class ResNetLike(nn.Module):
    """Repeated residual blocks in a Sequential, a stem and a head of functional operations."""

    def __init__(self, width: int = 8, blocks: int = 3) -> None:
        super().__init__()
        self.stem = nn.Conv2d(3, width, 3, padding=1)
        self.layer1 = nn.Sequential(*[Residual(width) for _ in range(blocks)])
        self.fc = nn.Linear(width, 5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.layer1(F.relu(self.stem(x)))
        x = F.adaptive_avg_pool2d(x, 1)
        return self.fc(torch.flatten(x, 1))


class Functional(nn.Module):
    """Every functional operation and method the importer maps, with non-default arguments."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(4, 8, 3, padding=1)
        self.head = nn.Linear(8, 6)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.conv(x), inplace=True)
        a = torch.sigmoid(x) + x.tanh()
        b = torch.add(F.silu(x), F.hardswish(x))
        c = a.add(b)
        c = F.leaky_relu(c, 0.2) + F.elu(c, alpha=0.5) + F.gelu(c) + F.hardsigmoid(c) + F.relu6(c)
        c = torch.relu(c) + c.relu() + F.mish(c) + F.softplus(c, beta=2.0) + F.hardtanh(c, -0.5, 0.5)
        c = F.max_pool2d(c, 3, 2, 1, 1, True)  # positional: kernel, stride, padding, dilation, ceil_mode
        c = F.avg_pool2d(c, 2, 1, 0, False, False) + F.avg_pool2d(c, 2, stride=1)
        p, q = c.chunk(2, dim=1)
        r, s, t = torch.split(c, [2, 2, 4], dim=1)
        c = torch.cat([q, p], 1) + torch.cat((r, s, t), dim=1) + torch.cat([c])
        c = F.interpolate(c, size=(c.size(2) * 2, c.shape[-1] * 2), mode="bilinear", align_corners=False)
        c = F.pixel_unshuffle(c, 2)
        c = F.pixel_shuffle(c, 2)
        c = F.channel_shuffle(c, 4).contiguous()
        c = F.softmax(c, dim=1) + c.log_softmax(1) + F.dropout(c, 0.3, self.training)
        c = F.adaptive_max_pool2d(c, (1, 1))
        c = c.flatten(1)
        return self.head(c)


def shuffle(x: torch.Tensor, groups: int) -> torch.Tensor:
    """ShuffleNet's channel shuffle written out: sizes read in forward, view, transpose, view."""
    n, c, h, w = x.size()
    x = x.view(n, groups, c // groups, h, w)
    x = torch.transpose(x, 1, 2).contiguous()
    return x.view(n, -1, h, w)


class Tensorish(nn.Module):
    """The tensor operations: a squeeze-excitation gate (mean, Mul), a layer scale held on the module
    (Scale), Sub and Div, channels-last LayerNorm between permutes, a written-out shuffle, narrow,
    transpose and reshape."""

    def __init__(self, c: int = 8) -> None:
        super().__init__()
        self.conv = nn.Conv2d(4, c, 3, padding=1)
        self.gate = nn.Conv2d(c, c, 1)
        self.gamma = nn.Parameter(torch.full((c, 1, 1), 0.5))
        self.norm = nn.LayerNorm(c, eps=1e-6)
        self.fc = nn.Linear(c, 6)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv(x)
        s = torch.sigmoid(self.gate(x.mean((2, 3), keepdim=True)))
        x = x * s
        x = self.gamma * x
        x = torch.div(x - torch.mean(x, 1, True), torch.sigmoid(x))
        y = self.norm(x.permute(0, 2, 3, 1))
        y = torch.permute(y, (0, 3, 1, 2))
        y = shuffle(y, 2).narrow(2, 1, 6)
        y = torch.transpose(y, 2, 3)
        y = y.reshape(y.size(0), y.size(1), -1).mean(-1)
        return self.fc(y)


class WrongScale(nn.Module):
    """A parameter of shape [C] scaling a [N, C, H, W] map: no Scale holds that shape."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 1)
        self.w = nn.Parameter(torch.ones(8))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.w * self.conv(x)


class Refused(nn.Module):
    """Six different things convcalc cannot express, in one forward."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)
        self.embed = nn.Embedding(10, 4)
        self.gain = nn.Parameter(torch.ones(4, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv(x)
        a = torch.erf(y)  # no layer type
        b = y * 2.0  # a constant operand
        c = y[:, :2]  # indexing
        d = y + self.gain  # a parameter read directly by an add
        e = self.embed(y)  # an nn.Module class without a layer type
        return a + b + c + d + e


class TwoCalls(nn.Module):
    """A module with weights called twice: its weights are shared."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(4, 4, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(self.conv(x))


class Branchy(nn.Module):
    """Python control flow on a tensor value: torch.fx cannot trace it."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv(x)
        if y.sum() > 0:
            return y
        return -y


class TwoOutputs(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        y = self.conv(x)
        return y, F.relu(y)


class NameClash(nn.Module):
    """A module called `add` next to a functional add; an optional forward argument."""

    def __init__(self) -> None:
        super().__init__()
        self.add = nn.Identity()
        self.conv = nn.Conv2d(3, 3, 1)

    def forward(self, x: torch.Tensor, scale: float | None = None) -> torch.Tensor:
        y = self.add(x)
        if scale is not None:
            y = y * scale
        return self.conv(y) + x


def make_plain(width: int = 8) -> nn.Module:
    return Plain(width)


def not_a_module() -> list[int]:
    return [1, 2, 3]


def broken() -> nn.Module:
    raise RuntimeError("this factory fails")


NOT_CALLABLE = 42
