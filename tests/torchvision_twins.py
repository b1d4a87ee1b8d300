"""Which built-in architecture is which torchvision model: the table tests/test_torchvision.py proves.

An entry keyed by its architecture's own name (`TWINS["resnet50"].arch == "resnet50"`) is that built-in's
proof: torchvision's model with the same function, whose state_dict must load into `convcalc.build(spec)`
by name, which must compute the same output, and on which torch, fvcore and FlopCounterMode must measure
what convcalc computes. For tests/test_archs.py such a built-in has its reference twin (torchvision's).

Any other key is an option variant: the built-in `arch` with `spec_params` set (`--set`), against the
torchvision builder it should equal. Variants are compared on the meta device (state_dict names, params,
buffers, FlopCounterMode total, output shape): cheap, no weights and no forward computed.

Plain data: nothing here imports torch or torchvision (the main suite reads it without torchvision).
Keep one entry per line, alphabetical within each group: several branches add rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping


@dataclass(frozen=True)
class Twin:
    arch: str                                                     # convcalc.load_arch(arch, spec_params)
    builder: str                                                  # torchvision.models.<builder>(weights=None,
    kwargs: Mapping[str, Any] = field(default_factory=dict)       #   **kwargs)
    spec_params: Mapping[str, Any] = field(default_factory=dict)  # the built-in's options (`--set`)
    input_shape: tuple[int, ...] | None = None                    # None: the spec's input (with spec_params)


TWINS: dict[str, Twin] = {
    # built-ins proven against torchvision (the key is the architecture's name)
    "alexnet": Twin("alexnet", "alexnet", {}, {}, None),
    "efficientnet_b0": Twin("efficientnet_b0", "efficientnet_b0", {}, {}, None),
    "mobilenet_v2": Twin("mobilenet_v2", "mobilenet_v2", {}, {}, None),
    "mobilenet_v3_large": Twin("mobilenet_v3_large", "mobilenet_v3_large", {}, {}, None),
    "mobilenet_v3_small": Twin("mobilenet_v3_small", "mobilenet_v3_small", {}, {}, None),
    "convnext_tiny": Twin("convnext_tiny", "convnext_tiny", {}, {}, None),
    "regnet_y_400mf": Twin("regnet_y_400mf", "regnet_y_400mf", {}, {}, None),
    "resnet101": Twin("resnet101", "resnet101", {}, {}, None),
    "resnet152": Twin("resnet152", "resnet152", {}, {}, None),
    "resnet18": Twin("resnet18", "resnet18", {}, {}, None),
    "resnet34": Twin("resnet34", "resnet34", {}, {}, None),
    "resnet50": Twin("resnet50", "resnet50", {}, {}, None),
    "resnext50_32x4d": Twin("resnext50_32x4d", "resnext50_32x4d", {}, {}, None),
    "shufflenet_v2_x1_0": Twin("shufflenet_v2_x1_0", "shufflenet_v2_x1_0", {}, {}, None),
    "vgg16": Twin("vgg16", "vgg16", {}, {}, None),
    # DenseNet: densenet121 is the built-in; 161/169/201 are one --set away.
    "densenet121": Twin("densenet121", "densenet121", {}, {}, None),
    "densenet161": Twin("densenet121", "densenet161", {},
                        {"growth_rate": 48, "block_config": [6, 12, 36, 24], "num_init_features": 96}, None),
    "densenet169": Twin("densenet121", "densenet169", {}, {"block_config": [6, 12, 32, 32]}, None),
    "densenet201": Twin("densenet121", "densenet201", {}, {"block_config": [6, 12, 48, 32]}, None),
    "squeezenet1_1": Twin("squeezenet1_1", "squeezenet1_1", {}, {}, None),
    # the auxiliary classifiers only run in training mode; transform_input=False is torchvision's default
    "googlenet": Twin("googlenet", "googlenet", {"aux_logits": False, "init_weights": False}, {}, None),
    "inception_v3": Twin("inception_v3", "inception_v3", {"aux_logits": False, "init_weights": False}, {},
                         None),
    # option variants (`--set`) equal to a torchvision model
    "alexnet-256-10": Twin("alexnet", "alexnet", {"num_classes": 10}, {"resolution": 256, "num_classes": 10},
                           None),
    # torchvision's efficientnet_b1..b7: the width, depth and dropout their builders pass, their weights'
    # eval crop (b2: 288, not the paper's 260), BatchNorm eps 0.001 and momentum 0.01 from b5 on
    "efficientnet_b1": Twin("efficientnet_b0", "efficientnet_b1", {},
                            {"width_mult": 1.0, "depth_mult": 1.1, "resolution": 240}, None),
    "efficientnet_b2": Twin("efficientnet_b0", "efficientnet_b2", {},
                            {"width_mult": 1.1, "depth_mult": 1.2, "resolution": 288, "dropout": 0.3}, None),
    "efficientnet_b3": Twin("efficientnet_b0", "efficientnet_b3", {},
                            {"width_mult": 1.2, "depth_mult": 1.4, "resolution": 300, "dropout": 0.3}, None),
    "efficientnet_b4": Twin("efficientnet_b0", "efficientnet_b4", {},
                            {"width_mult": 1.4, "depth_mult": 1.8, "resolution": 380, "dropout": 0.4}, None),
    "efficientnet_b5": Twin("efficientnet_b0", "efficientnet_b5", {},
                            {"width_mult": 1.6, "depth_mult": 2.2, "resolution": 456, "dropout": 0.4,
                             "bn_eps": 0.001, "bn_momentum": 0.01}, None),
    "efficientnet_b6": Twin("efficientnet_b0", "efficientnet_b6", {},
                            {"width_mult": 1.8, "depth_mult": 2.6, "resolution": 528, "dropout": 0.5,
                             "bn_eps": 0.001, "bn_momentum": 0.01}, None),
    "efficientnet_b7": Twin("efficientnet_b0", "efficientnet_b7", {},
                            {"width_mult": 2.0, "depth_mult": 3.1, "resolution": 600, "dropout": 0.5,
                             "bn_eps": 0.001, "bn_momentum": 0.01}, None),
    "mobilenet_v2-0.5": Twin("mobilenet_v2", "mobilenet_v2", {"width_mult": 0.5}, {"width_mult": 0.5}, None),
    "mobilenet_v2-1.4": Twin("mobilenet_v2", "mobilenet_v2", {"width_mult": 1.4}, {"width_mult": 1.4}, None),
    "mobilenet_v3_large-0.75-160-10": Twin("mobilenet_v3_large", "mobilenet_v3_large",
                                           {"width_mult": 0.75, "num_classes": 10},
                                           {"width_mult": 0.75, "resolution": 160, "num_classes": 10}, None),
    "mobilenet_v3_small-0.5": Twin("mobilenet_v3_small", "mobilenet_v3_small", {"width_mult": 0.5},
                                   {"width_mult": 0.5}, None),
    "convnext_base": Twin("convnext_tiny", "convnext_base", {},
                          {"depths": [3, 3, 27, 3], "dims": [128, 256, 512, 1024],
                           "stochastic_depth_prob": 0.5}),
    "convnext_small": Twin("convnext_tiny", "convnext_small", {},
                           {"depths": [3, 3, 27, 3], "stochastic_depth_prob": 0.4}),
    "regnet_x_400mf": Twin("regnet_y_400mf", "regnet_x_400mf", {},
                           {"depths": [1, 2, 7, 12], "widths": [32, 64, 160, 400], "group_width": 16,
                            "se_ratio": 0}),
    "regnet_x_8gf": Twin("regnet_y_400mf", "regnet_x_8gf", {},  # group width 120, capped at 80 in stage 1
                         {"depths": [2, 5, 15, 1], "widths": [80, 240, 720, 1920], "group_width": 120,
                          "se_ratio": 0}),
    "regnet_y_800mf": Twin("regnet_y_400mf", "regnet_y_800mf", {},
                           {"depths": [1, 3, 8, 2], "widths": [64, 144, 320, 784], "group_width": 16}),
    "resnet18-160-10": Twin("resnet18", "resnet18", {"num_classes": 10}, {"resolution": 160, "num_classes": 10},
                            None),
    "resnext101_32x8d": Twin("resnet101", "resnext101_32x8d", {}, {"groups": 32, "width_per_group": 8}, None),
    "resnext101_64x4d": Twin("resnet101", "resnext101_64x4d", {}, {"groups": 64, "width_per_group": 4}, None),
    "shufflenet_v2_x0_5": Twin("shufflenet_v2_x1_0", "shufflenet_v2_x0_5", {},
                               {"stages_out_channels": [24, 48, 96, 192, 1024]}),
    "shufflenet_v2_x1_5": Twin("shufflenet_v2_x1_0", "shufflenet_v2_x1_5", {},
                               {"stages_out_channels": [24, 176, 352, 704, 1024]}),
    "shufflenet_v2_x2_0": Twin("shufflenet_v2_x1_0", "shufflenet_v2_x2_0", {},
                               {"stages_out_channels": [24, 244, 488, 976, 2048]}),
    "vgg16-64-10": Twin("vgg16", "vgg16", {"num_classes": 10}, {"resolution": 64, "num_classes": 10}, None),
    "wide_resnet101_2": Twin("resnet101", "wide_resnet101_2", {}, {"width_per_group": 128}, None),
    "wide_resnet50_2": Twin("resnet50", "wide_resnet50_2", {}, {"width_per_group": 128}, None),
}


def proven_archs() -> set[str]:
    """The built-ins whose reference twin is torchvision's model (an entry under their own name)."""
    return {key for key, twin in TWINS.items() if twin.arch == key}
