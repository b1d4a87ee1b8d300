"""Built-in specs and their torchvision twins: the table tests/test_torchvision.py proves.

A row names the spec (`arch`, with `spec_params` set), torchvision's builder and its keyword arguments, and
the input (None: 1x3x224x224). Rows keyed by a built-in's own name are proven in full (state_dict loaded
strictly, same output, same params, buffers, fvcore and FlopCounterMode totals); the other rows are
torchvision's variants that a spec reaches with `--set`.

Pure data: importing this module imports neither torch nor torchvision.
"""

from __future__ import annotations

from typing import Any, NamedTuple


class Twin(NamedTuple):
    arch: str                                   # the built-in spec
    builder: str                                # torchvision.models.<builder>(weights=None, **kwargs)
    kwargs: dict[str, Any]
    spec_params: dict[str, Any]                 # what `--set` gives the spec
    input_shape: tuple[int, ...] | None         # None: (1, 3, 224, 224)


TWINS: dict[str, Twin] = {
    # ShuffleNet v2: the widths of torchvision's four sizes (stages_repeats stays [4, 8, 4])
    "shufflenet_v2_x1_0": Twin("shufflenet_v2_x1_0", "shufflenet_v2_x1_0", {}, {}, None),
    "shufflenet_v2_x0_5": Twin("shufflenet_v2_x1_0", "shufflenet_v2_x0_5", {},
                               {"stages_out_channels": [24, 48, 96, 192, 1024]}, None),
    "shufflenet_v2_x1_5": Twin("shufflenet_v2_x1_0", "shufflenet_v2_x1_5", {},
                               {"stages_out_channels": [24, 176, 352, 704, 1024]}, None),
    "shufflenet_v2_x2_0": Twin("shufflenet_v2_x1_0", "shufflenet_v2_x2_0", {},
                               {"stages_out_channels": [24, 244, 488, 976, 2048]}, None),
    # RegNet: torchvision's stages for each size (BlockParams.from_init_params); RegNetX has no SE
    "regnet_y_400mf": Twin("regnet_y_400mf", "regnet_y_400mf", {}, {}, None),
    "regnet_y_800mf": Twin("regnet_y_400mf", "regnet_y_800mf", {},
                           {"depths": [1, 3, 8, 2], "widths": [64, 144, 320, 784], "group_width": 16}, None),
    "regnet_x_400mf": Twin("regnet_y_400mf", "regnet_x_400mf", {},
                           {"depths": [1, 2, 7, 12], "widths": [32, 64, 160, 400], "group_width": 16,
                            "se_ratio": 0}, None),
    "regnet_x_8gf": Twin("regnet_y_400mf", "regnet_x_8gf", {},   # group width capped by the first stage
                         {"depths": [2, 5, 15, 1], "widths": [80, 240, 720, 1920], "group_width": 120,
                          "se_ratio": 0}, None),
    # ConvNeXt: depths, widths and the stochastic depth of torchvision's sizes
    "convnext_tiny": Twin("convnext_tiny", "convnext_tiny", {}, {}, None),
    "convnext_small": Twin("convnext_tiny", "convnext_small", {},
                           {"depths": [3, 3, 27, 3], "stochastic_depth_prob": 0.4}, None),
    "convnext_base": Twin("convnext_tiny", "convnext_base", {},
                          {"depths": [3, 3, 27, 3], "dims": [128, 256, 512, 1024],
                           "stochastic_depth_prob": 0.5}, None),
}
