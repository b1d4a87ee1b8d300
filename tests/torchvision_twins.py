"""The torchvision model each torchvision-named built-in reproduces (read by the torchvision harness).

A row says: torchvision.models.<builder>(weights=None, **kwargs) is the network of `arch` with the spec
parameters `spec_params`, on input `input_shape`. Rows whose key is not a built-in's name are `--set`
variants of one (torchvision's EfficientNet-B1..B7 are efficientnet_b0 scaled). Plain data: importing
this module imports neither torch nor torchvision.
"""

from __future__ import annotations

from typing import Any, NamedTuple


class Twin(NamedTuple):
    arch: str                             # the built-in spec
    builder: str                          # torchvision.models.<builder>
    kwargs: dict[str, Any]                # passed to the builder (weights=None always)
    spec_params: dict[str, Any]           # passed to load_arch (the spec's --set options)
    input_shape: tuple[int, ...] | None   # None: the spec's default input


# torchvision's efficientnet_bN builders: width_mult, depth_mult, dropout as they pass them; resolution
# as their weights' eval crop (b2: 288, not the paper's 260); BatchNorm eps/momentum 0.001/0.01 from b5 on.
_B5_NORM = {"bn_eps": 0.001, "bn_momentum": 0.01}

TWINS: dict[str, Twin] = {
    "mobilenet_v3_small": Twin("mobilenet_v3_small", "mobilenet_v3_small", {}, {}, (1, 3, 224, 224)),
    "mobilenet_v3_large": Twin("mobilenet_v3_large", "mobilenet_v3_large", {}, {}, (1, 3, 224, 224)),
    "mobilenet_v3_small-0.5": Twin("mobilenet_v3_small", "mobilenet_v3_small", {"width_mult": 0.5, "dropout": 0.3},
                                   {"width_mult": 0.5, "dropout": 0.3}, (1, 3, 224, 224)),
    "mobilenet_v3_large-0.75-160": Twin("mobilenet_v3_large", "mobilenet_v3_large",
                                        {"width_mult": 0.75, "num_classes": 10},
                                        {"width_mult": 0.75, "num_classes": 10, "resolution": 160},
                                        (1, 3, 160, 160)),
    "efficientnet_b0": Twin("efficientnet_b0", "efficientnet_b0", {}, {}, (1, 3, 224, 224)),
    "efficientnet_b1": Twin("efficientnet_b0", "efficientnet_b1", {},
                            {"width_mult": 1.0, "depth_mult": 1.1, "resolution": 240}, (1, 3, 240, 240)),
    "efficientnet_b2": Twin("efficientnet_b0", "efficientnet_b2", {},
                            {"width_mult": 1.1, "depth_mult": 1.2, "resolution": 288, "dropout": 0.3},
                            (1, 3, 288, 288)),
    "efficientnet_b3": Twin("efficientnet_b0", "efficientnet_b3", {},
                            {"width_mult": 1.2, "depth_mult": 1.4, "resolution": 300, "dropout": 0.3},
                            (1, 3, 300, 300)),
    "efficientnet_b4": Twin("efficientnet_b0", "efficientnet_b4", {},
                            {"width_mult": 1.4, "depth_mult": 1.8, "resolution": 380, "dropout": 0.4},
                            (1, 3, 380, 380)),
    "efficientnet_b5": Twin("efficientnet_b0", "efficientnet_b5", {},
                            {"width_mult": 1.6, "depth_mult": 2.2, "resolution": 456, "dropout": 0.4, **_B5_NORM},
                            (1, 3, 456, 456)),
    "efficientnet_b6": Twin("efficientnet_b0", "efficientnet_b6", {},
                            {"width_mult": 1.8, "depth_mult": 2.6, "resolution": 528, "dropout": 0.5, **_B5_NORM},
                            (1, 3, 528, 528)),
    "efficientnet_b7": Twin("efficientnet_b0", "efficientnet_b7", {},
                            {"width_mult": 2.0, "depth_mult": 3.1, "resolution": 600, "dropout": 0.5, **_B5_NORM},
                            (1, 3, 600, 600)),
}
