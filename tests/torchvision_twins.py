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
    # the auxiliary classifiers only run in training mode; transform_input=False is torchvision's default
    "googlenet": Twin("googlenet", "googlenet", {"aux_logits": False, "init_weights": False}, {}, None),
    "inception_v3": Twin("inception_v3", "inception_v3", {"aux_logits": False, "init_weights": False}, {}, None),
}
