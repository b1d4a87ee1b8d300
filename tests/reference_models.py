"""The built-in architectures written by hand in plain PyTorch: the ground truth for tests/test_archs.py.

Each builder mirrors one spec in specs/ (and, for the torchvision names, torchvision's module structure:
torchvision itself does not install beside our torch). They are deliberately written the ordinary
PyTorch way, independently of the YAML, so that agreement between the two means something.

Only the tests import this module (it imports torch at the top).
"""

from __future__ import annotations

import math
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn


def _make_divisible(value: float, divisor: int = 8) -> int:
    # MobileNetV2's channel rounding: nearest multiple of `divisor`, never more than 10% below `value`.
    rounded = max(divisor, int(value + divisor / 2) // divisor * divisor)
    if rounded < 0.9 * value:
        rounded += divisor
    return rounded


# --------------------------------------------------------------------------------------------------
# LeNet-5, AlexNet, VGG-16
# --------------------------------------------------------------------------------------------------


def lenet5(num_classes: int = 10) -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(1, 6, 5), nn.Tanh(), nn.AvgPool2d(2),
        nn.Conv2d(6, 16, 5), nn.Tanh(), nn.AvgPool2d(2),
        nn.Conv2d(16, 120, 5), nn.Tanh(), nn.Flatten(),
        nn.Linear(120, 84), nn.Tanh(),
        nn.Linear(84, num_classes),
    )


class AlexNet(nn.Module):
    """torchvision.models.AlexNet, module for module."""

    def __init__(self, num_classes: int = 1000, dropout: float = 0.5) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 64, kernel_size=11, stride=4, padding=2), nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2),
            nn.Conv2d(64, 192, kernel_size=5, padding=2), nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2),
            nn.Conv2d(192, 384, kernel_size=3, padding=1), nn.ReLU(inplace=True),
            nn.Conv2d(384, 256, kernel_size=3, padding=1), nn.ReLU(inplace=True),
            nn.Conv2d(256, 256, kernel_size=3, padding=1), nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2),
        )
        self.avgpool = nn.AdaptiveAvgPool2d((6, 6))
        self.classifier = nn.Sequential(
            nn.Dropout(p=dropout), nn.Linear(256 * 6 * 6, 4096), nn.ReLU(inplace=True),
            nn.Dropout(p=dropout), nn.Linear(4096, 4096), nn.ReLU(inplace=True),
            nn.Linear(4096, num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(torch.flatten(self.avgpool(self.features(x)), 1))


def alexnet_groups(num_classes: int = 1000) -> nn.Module:
    """Krizhevsky et al. 2012 as published: two GPU halves as groups=2, LRN after conv1 and conv2."""
    def lrn() -> nn.Module:
        return nn.LocalResponseNorm(5, alpha=5e-4, beta=0.75, k=2.0)

    return nn.Sequential(
        nn.Conv2d(3, 96, 11, stride=4), nn.ReLU(), lrn(), nn.MaxPool2d(3, 2),
        nn.Conv2d(96, 256, 5, padding=2, groups=2), nn.ReLU(), lrn(), nn.MaxPool2d(3, 2),
        nn.Conv2d(256, 384, 3, padding=1), nn.ReLU(),
        nn.Conv2d(384, 384, 3, padding=1, groups=2), nn.ReLU(),
        nn.Conv2d(384, 256, 3, padding=1, groups=2), nn.ReLU(), nn.MaxPool2d(3, 2),
        nn.Flatten(),
        nn.Dropout(), nn.Linear(256 * 6 * 6, 4096), nn.ReLU(),
        nn.Dropout(), nn.Linear(4096, 4096), nn.ReLU(),
        nn.Linear(4096, num_classes),
    )


class VGG16(nn.Module):
    """torchvision.models.vgg16 (configuration D, no BatchNorm)."""

    def __init__(self, num_classes: int = 1000) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        channels = 3
        for v in (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"):
            if v == "M":
                layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
            else:
                layers += [nn.Conv2d(channels, int(v), kernel_size=3, padding=1), nn.ReLU(inplace=True)]
                channels = int(v)
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d((7, 7))
        self.classifier = nn.Sequential(
            nn.Linear(512 * 7 * 7, 4096), nn.ReLU(True), nn.Dropout(p=0.5),
            nn.Linear(4096, 4096), nn.ReLU(True), nn.Dropout(p=0.5),
            nn.Linear(4096, num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(torch.flatten(self.avgpool(self.features(x)), 1))


# --------------------------------------------------------------------------------------------------
# ResNet / ResNeXt (torchvision's structure: "ResNet v1.5", stride on the 3x3 of a bottleneck)
# --------------------------------------------------------------------------------------------------


class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, inplanes: int, planes: int, stride: int = 1, downsample: nn.Module | None = None,
                 groups: int = 1, base_width: int = 64, stride_in_1x1: bool = False) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(planes, planes, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = downsample

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


class Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, inplanes: int, planes: int, stride: int = 1, downsample: nn.Module | None = None,
                 groups: int = 1, base_width: int = 64, stride_in_1x1: bool = False) -> None:
        super().__init__()
        width = int(planes * (base_width / 64.0)) * groups
        # stride_in_1x1=True is the original (Caffe, He et al. 2016) placement, used only to explain the
        # paper's FLOP table; torchvision and the specs stride the 3x3.
        s1, s3 = (stride, 1) if stride_in_1x1 else (1, stride)
        self.conv1 = nn.Conv2d(inplanes, width, 1, stride=s1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, 3, stride=s3, padding=1, groups=groups, bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = nn.Conv2d(width, planes * self.expansion, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes * self.expansion)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + identity)


class ResNet(nn.Module):
    def __init__(self, block: type[BasicBlock] | type[Bottleneck], layers: list[int], num_classes: int = 1000,
                 groups: int = 1, width_per_group: int = 64, stride_in_1x1: bool = False) -> None:
        super().__init__()
        self.inplanes = 64
        self.conv1 = nn.Conv2d(3, 64, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        stages = []
        for i, (planes, blocks) in enumerate(zip((64, 128, 256, 512), layers)):
            stride = 1 if i == 0 else 2
            downsample = None
            if stride != 1 or self.inplanes != planes * block.expansion:
                downsample = nn.Sequential(
                    nn.Conv2d(self.inplanes, planes * block.expansion, 1, stride=stride, bias=False),
                    nn.BatchNorm2d(planes * block.expansion),
                )
            stage = [block(self.inplanes, planes, stride, downsample, groups, width_per_group, stride_in_1x1)]
            self.inplanes = planes * block.expansion
            stage += [block(self.inplanes, planes, 1, None, groups, width_per_group, stride_in_1x1)
                      for _ in range(1, blocks)]
            stages.append(nn.Sequential(*stage))
        self.layer1, self.layer2, self.layer3, self.layer4 = stages
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(512 * block.expansion, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


def resnet18(num_classes: int = 1000) -> nn.Module:
    return ResNet(BasicBlock, [2, 2, 2, 2], num_classes)


def resnet34(num_classes: int = 1000) -> nn.Module:
    return ResNet(BasicBlock, [3, 4, 6, 3], num_classes)


def resnet50(num_classes: int = 1000, stride_in_1x1: bool = False) -> nn.Module:
    return ResNet(Bottleneck, [3, 4, 6, 3], num_classes, stride_in_1x1=stride_in_1x1)


def resnet101(num_classes: int = 1000, stride_in_1x1: bool = False) -> nn.Module:
    return ResNet(Bottleneck, [3, 4, 23, 3], num_classes, stride_in_1x1=stride_in_1x1)


def resnet152(num_classes: int = 1000, stride_in_1x1: bool = False) -> nn.Module:
    return ResNet(Bottleneck, [3, 8, 36, 3], num_classes, stride_in_1x1=stride_in_1x1)


def resnext50_32x4d(num_classes: int = 1000) -> nn.Module:
    return ResNet(Bottleneck, [3, 4, 6, 3], num_classes, groups=32, width_per_group=4)


# --------------------------------------------------------------------------------------------------
# MobileNet v1 (Howard et al. 2017, Table 1) and v2 (torchvision)
# --------------------------------------------------------------------------------------------------


class GlobalAvgPool2d(nn.Module):
    """Average pooling over the whole map, whatever its size (MobileNet v1's "Avg Pool 7x7" at 224)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.avg_pool2d(x, x.shape[2:])


def mobilenet_v1(alpha: float = 1.0, num_classes: int = 1000) -> nn.Module:
    def conv_bn(cin: int, cout: int, kernel: int, stride: int, groups: int = 1) -> list[nn.Module]:
        return [nn.Conv2d(cin, cout, kernel, stride, kernel // 2, groups=groups, bias=False),
                nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]

    def c(n: int) -> int:
        return int(n * alpha)

    layers = conv_bn(3, c(32), 3, 2)
    # (pointwise output channels, depthwise stride) for the 13 depthwise-separable layers of Table 1,
    # with the second-to-last depthwise at stride 1 (the table's "s2" there is a typo).
    plan = [(64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2)] + [(512, 1)] * 5 + [(1024, 2), (1024, 1)]
    channels = c(32)
    for out, stride in plan:
        layers += conv_bn(channels, channels, 3, stride, groups=channels)
        layers += conv_bn(channels, c(out), 1, 1)
        channels = c(out)
    layers += [GlobalAvgPool2d(), nn.Flatten(), nn.Linear(channels, num_classes)]
    return nn.Sequential(*layers)


class InvertedResidual(nn.Module):
    def __init__(self, inp: int, oup: int, stride: int, expand_ratio: int) -> None:
        super().__init__()
        hidden = int(round(inp * expand_ratio))
        self.use_res_connect = stride == 1 and inp == oup
        layers: list[nn.Module] = []
        if expand_ratio != 1:
            layers += [nn.Conv2d(inp, hidden, 1, bias=False), nn.BatchNorm2d(hidden), nn.ReLU6(inplace=True)]
        layers += [
            nn.Conv2d(hidden, hidden, 3, stride, 1, groups=hidden, bias=False), nn.BatchNorm2d(hidden),
            nn.ReLU6(inplace=True),
            nn.Conv2d(hidden, oup, 1, bias=False), nn.BatchNorm2d(oup),
        ]
        self.conv = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv(x) if self.use_res_connect else self.conv(x)


class MobileNetV2(nn.Module):
    """torchvision.models.mobilenet_v2: same modules, same functional pooling in forward."""

    def __init__(self, num_classes: int = 1000, width_mult: float = 1.0, dropout: float = 0.2) -> None:
        super().__init__()
        inp = _make_divisible(32 * width_mult)
        last = _make_divisible(1280 * max(1.0, width_mult))
        features: list[nn.Module] = [nn.Sequential(
            nn.Conv2d(3, inp, 3, 2, 1, bias=False), nn.BatchNorm2d(inp), nn.ReLU6(inplace=True))]
        for t, c, n, s in ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1),
                           (6, 160, 3, 2), (6, 320, 1, 1)):
            out = _make_divisible(c * width_mult)
            for i in range(n):
                features.append(InvertedResidual(inp, out, s if i == 0 else 1, t))
                inp = out
        features.append(nn.Sequential(nn.Conv2d(inp, last, 1, bias=False), nn.BatchNorm2d(last),
                                      nn.ReLU6(inplace=True)))
        self.features = nn.Sequential(*features)
        self.classifier = nn.Sequential(nn.Dropout(p=dropout), nn.Linear(last, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.adaptive_avg_pool2d(self.features(x), (1, 1))
        return self.classifier(torch.flatten(x, 1))


# --------------------------------------------------------------------------------------------------
# U-Net, DCGAN generator, TCN, C3D
# --------------------------------------------------------------------------------------------------


def _center_crop(x: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    slices = [slice(None), slice(None)]
    for have, want in zip(x.shape[2:], like.shape[2:]):
        start = (have - want) // 2
        slices.append(slice(start, start + want))
    return x[tuple(slices)]


class UNet(nn.Module):
    """Ronneberger et al. 2015, Fig. 1: valid 3x3 convs, 2x2 up-convs, crop-and-concat."""

    def __init__(self, in_channels: int = 1, num_classes: int = 2, width: int = 64) -> None:
        super().__init__()

        def double(cin: int, cout: int) -> nn.Sequential:
            return nn.Sequential(nn.Conv2d(cin, cout, 3), nn.ReLU(inplace=True),
                                 nn.Conv2d(cout, cout, 3), nn.ReLU(inplace=True))

        widths = [width * 2 ** i for i in range(5)]
        self.down = nn.ModuleList([double(in_channels, widths[0])]
                                  + [double(widths[i], widths[i + 1]) for i in range(4)])
        self.pool = nn.MaxPool2d(2)
        self.up = nn.ModuleList([nn.ConvTranspose2d(widths[i + 1], widths[i], 2, stride=2) for i in (3, 2, 1, 0)])
        self.dec = nn.ModuleList([double(widths[i + 1], widths[i]) for i in (3, 2, 1, 0)])
        self.head = nn.Conv2d(widths[0], num_classes, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips = []
        for i, block in enumerate(self.down):
            x = block(x if i == 0 else self.pool(x))
            skips.append(x)
        skips.pop()
        for up, dec in zip(self.up, self.dec):
            x = up(x)
            x = dec(torch.cat([_center_crop(skips.pop(), x), x], dim=1))
        return self.head(x)


def dcgan_generator(nz: int = 100, ngf: int = 64, nc: int = 3) -> nn.Module:
    """Radford et al. 2016, as in the PyTorch DCGAN example (no biases before BatchNorm)."""
    return nn.Sequential(
        nn.ConvTranspose2d(nz, ngf * 8, 4, 1, 0, bias=False), nn.BatchNorm2d(ngf * 8), nn.ReLU(True),
        nn.ConvTranspose2d(ngf * 8, ngf * 4, 4, 2, 1, bias=False), nn.BatchNorm2d(ngf * 4), nn.ReLU(True),
        nn.ConvTranspose2d(ngf * 4, ngf * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ngf * 2), nn.ReLU(True),
        nn.ConvTranspose2d(ngf * 2, ngf, 4, 2, 1, bias=False), nn.BatchNorm2d(ngf), nn.ReLU(True),
        nn.ConvTranspose2d(ngf, nc, 4, 2, 1, bias=False), nn.Tanh(),
    )


class TCN(nn.Module):
    """A non-causal temporal convolutional network: residual blocks of two dilated Conv1d (d = 1, 2, 4, ...)."""

    def __init__(self, in_channels: int = 1, channels: int = 64, levels: int = 8, kernel_size: int = 3,
                 num_classes: int = 10) -> None:
        super().__init__()
        self.stem = nn.Conv1d(in_channels, channels, 1)
        self.blocks = nn.ModuleList()
        for i in range(levels):
            d = 2 ** i
            pad = (kernel_size - 1) // 2 * d
            self.blocks.append(nn.Sequential(
                nn.Conv1d(channels, channels, kernel_size, padding=pad, dilation=d), nn.ReLU(),
                nn.Conv1d(channels, channels, kernel_size, padding=pad, dilation=d), nn.ReLU(),
            ))
        self.relu = nn.ReLU()
        self.head = nn.Conv1d(channels, num_classes, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        for block in self.blocks:
            x = self.relu(x + block(x))
        return self.head(x)


def c3d(num_classes: int = 487, fc6_in: int = 512 * 1 * 4 * 4) -> nn.Module:
    """Tran et al. 2015 (C3D): 3x3x3 convs, Caffe's ceil-mode pooling, two 4096 FC layers."""
    def conv(cin: int, cout: int) -> list[nn.Module]:
        return [nn.Conv3d(cin, cout, 3, padding=1), nn.ReLU()]

    return nn.Sequential(
        *conv(3, 64), nn.MaxPool3d((1, 2, 2), (1, 2, 2)),
        *conv(64, 128), nn.MaxPool3d(2, 2),
        *conv(128, 256), *conv(256, 256), nn.MaxPool3d(2, 2),
        *conv(256, 512), *conv(512, 512), nn.MaxPool3d(2, 2),
        *conv(512, 512), *conv(512, 512), nn.MaxPool3d(2, 2, ceil_mode=True),
        nn.Flatten(),
        nn.Linear(fc6_in, 4096), nn.ReLU(), nn.Dropout(),
        nn.Linear(4096, 4096), nn.ReLU(), nn.Dropout(),
        nn.Linear(4096, num_classes),
    )


# name -> (builder, input shape)
REFERENCE: dict[str, tuple[Callable[[], nn.Module], tuple[int, ...]]] = {
    "lenet5": (lenet5, (1, 1, 32, 32)),
    "alexnet": (AlexNet, (1, 3, 224, 224)),
    "alexnet_groups": (alexnet_groups, (1, 3, 227, 227)),
    "vgg16": (VGG16, (1, 3, 224, 224)),
    "resnet18": (resnet18, (1, 3, 224, 224)),
    "resnet34": (resnet34, (1, 3, 224, 224)),
    "resnet50": (resnet50, (1, 3, 224, 224)),
    "resnet101": (resnet101, (1, 3, 224, 224)),
    "resnet152": (resnet152, (1, 3, 224, 224)),
    "resnext50_32x4d": (resnext50_32x4d, (1, 3, 224, 224)),
    "mobilenet_v1": (mobilenet_v1, (1, 3, 224, 224)),
    "mobilenet_v2": (MobileNetV2, (1, 3, 224, 224)),
    "unet": (UNet, (1, 1, 572, 572)),
    "dcgan_generator": (dcgan_generator, (1, 100, 1, 1)),
    "tcn": (TCN, (1, 1, 1024)),
    "c3d": (c3d, (1, 3, 16, 112, 112)),
}


def measure(builder: Callable[[], nn.Module], input_shape: tuple[int, ...]) -> dict[str, object]:
    """params, buffers, MACs, fvcore and FlopCounterMode totals and the output shape, in eval mode.

    Everything but fvcore depends on shapes alone, so it is measured on the meta device (no compute, no
    weight initialisation); fvcore traces with TorchScript, which needs real tensors: one CPU forward.
    """
    from fvcore.nn import FlopCountAnalysis
    from torch.utils.flop_counter import FlopCounterMode

    with torch.device("meta"):
        model = builder().eval()
    x = torch.zeros(input_shape, device="meta")
    macs = 0

    def count(module: nn.Module, inputs: tuple[torch.Tensor, ...], output: torch.Tensor) -> None:
        nonlocal macs
        # Multiply-accumulates by the textbook rule, independently of convcalc: each output element of a
        # conv is a dot product over in/groups * kernel taps; a transposed conv scatters each input
        # element over out/groups * taps; a Linear row costs in_features per output.
        if isinstance(module, nn.Linear):
            macs += output.numel() * module.in_features
        elif isinstance(module, (nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d)):
            macs += inputs[0].numel() * (module.out_channels // module.groups) * math.prod(module.kernel_size)
        elif isinstance(module, (nn.Conv1d, nn.Conv2d, nn.Conv3d)):
            macs += output.numel() * (module.in_channels // module.groups) * math.prod(module.kernel_size)

    for m in model.modules():
        m.register_forward_hook(count)
    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        out = model(x)

    with torch.no_grad():
        analysis = FlopCountAnalysis(builder().eval(), torch.zeros(input_shape))
        analysis.unsupported_ops_warnings(False)
        analysis.uncalled_modules_warnings(False)
        fvcore_flops = int(analysis.total())
    return {
        "params": sum(p.numel() for p in model.parameters()),
        "buffers": sum(b.numel() for b in model.buffers()),
        "macs": macs,
        "fvcore_flops": fvcore_flops,
        "torch_flops": int(counter.get_total_flops()),
        "output_shape": list(out.shape),
    }
