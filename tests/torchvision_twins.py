"""Built-in architectures and their torchvision twins: what tests/test_torchvision.py proves equal.

Each entry: the convcalc arch (with `spec_params` set) and torchvision's `builder(weights=None, **kwargs)`
at `input_shape` (None: the spec's default input). Plain data: no torch or torchvision imported here.
"""

from __future__ import annotations

from typing import Any, NamedTuple


class Twin(NamedTuple):
    arch: str
    builder: str
    kwargs: dict[str, Any]
    spec_params: dict[str, Any]
    input_shape: tuple[int, ...] | None


TWINS: dict[str, Twin] = {
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
}
