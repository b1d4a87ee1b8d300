"""Multi-output layers (Split, Chunk) against torch.split / torch.chunk, and reading their pieces."""

from __future__ import annotations

from typing import Any

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

import convcalc
from convcalc import SpecError
from convcalc.layers import lookup
from test_layers_torch import analyse, fast, torch_threads


def torch_pieces(kind: str, shape: list[int], arg: Any, dim: int) -> list[tuple[int, ...]] | Exception:
    x = torch.zeros(*shape)
    try:
        pieces = torch.split(x, arg, dim) if kind == "Split" else torch.chunk(x, arg, dim)
    except Exception as exc:  # noqa: BLE001 - any rejection counts
        return exc
    return [tuple(p.shape) for p in pieces]


@st.composite
def split_cases(draw: Any) -> tuple[str, list[int], Any, int]:
    kind = draw(st.sampled_from(["Split", "Chunk"]))
    shape = draw(st.lists(st.integers(1, 7), min_size=2, max_size=5))
    dim = draw(st.integers(-len(shape) - 1, len(shape)))
    if kind == "Chunk":
        arg: Any = draw(st.integers(-1, 9))
    elif draw(st.booleans()):
        arg = draw(st.integers(-1, 9))
    else:
        size = shape[dim] if -len(shape) <= dim < len(shape) else 4
        cuts = draw(st.lists(st.integers(0, size), max_size=3))
        bounds = sorted(cuts) + [size]
        arg = [b - a for a, b in zip([0] + bounds[:-1], bounds)]
        if draw(st.integers(0, 4)) == 0:  # sometimes sizes that do not add up, or a negative one
            arg = [*arg[:-1], arg[-1] + draw(st.sampled_from([-7, -1, 1]))]
    return kind, shape, arg, dim


@fast(400)
@given(case=split_cases())
def test_split_and_chunk_match_torch(case: tuple[str, list[int], Any, int]) -> None:
    kind, shape, arg, dim = case
    key = "chunks" if kind == "Chunk" else "split_size_or_sections"
    result = analyse({"input": shape, "layers": [{"name": "s", "type": kind, key: arg, "dim": dim}]})
    expected = torch_pieces(kind, shape, arg, dim)
    context = f"{kind}({arg}, dim={dim}) on {shape}: convcalc {result}, torch {expected!r}"
    if isinstance(expected, Exception):
        assert isinstance(result, SpecError), context
        return
    assert not isinstance(result, SpecError), context
    report = result.layers[0]
    assert [tuple(s) for s in report.output_shapes] == expected, context
    assert report.output_shape == expected[0]
    assert report.params == report.macs == report.flops == report.fvcore_flops == report.torch_flops == 0
    built = convcalc.build(result).eval()
    with torch.no_grad():
        out = built(torch.randn(*shape))
    assert [tuple(p.shape) for p in out] == expected, "the built network ends in every piece"


def test_chunk_of_an_empty_dim_gives_every_chunk_empty() -> None:
    layer = lookup("Chunk")({"chunks": 3, "dim": 1}, [(1, 0, 3)])
    assert list(layer.output_shapes()) == [tuple(p.shape) for p in torch.chunk(torch.zeros(1, 0, 3), 3, 1)]
    layer = lookup("Split")({"split_size_or_sections": 0, "dim": 1}, [(1, 0, 3)])
    assert list(layer.output_shapes()) == [tuple(p.shape) for p in torch.split(torch.zeros(1, 0, 3), 0, 1)]


SHUFFLE_UNIT = {
    "input": [2, 8, 10, 9],
    "layers": [
        {"name": "split", "type": "Chunk", "chunks": 2, "dim": 1},
        {"name": "branch2.0", "type": "Conv2d", "inputs": "split.1", "out_channels": 4, "kernel_size": 3,
         "padding": 1, "groups": 4},
        {"name": "branch2.1", "type": "BatchNorm2d"},
        {"name": "cat", "type": "Concat", "inputs": ["split.0", "prev"]},
        {"name": "rows", "type": "Split", "split_size_or_sections": 4, "dim": 2},
        {"name": "tail", "type": "Conv2d", "inputs": "rows.2", "out_channels": 3, "kernel_size": 2},
    ],
}


def test_pieces_are_read_by_name_and_validate_against_torch() -> None:
    result = convcalc.analyze(SHUFFLE_UNIT)
    assert result.layer("cat").inputs == ("split.0", "branch2.1")
    assert result.layer("rows").output_shapes == ((2, 8, 4, 9), (2, 8, 4, 9), (2, 8, 2, 9))
    assert result.output_shape == (2, 3, 1, 8)
    # the third piece starts at row 8: its receptive field is shifted by 8 rows, and wider by the 3x3 conv
    rf = result.layer("tail").receptive_field
    assert rf.size == [4, 4] and rf.start[0] == 8 + 0.5
    with torch_threads(2):
        report = convcalc.validate(SHUFFLE_UNIT, rf=True, rf_layers="all")
    assert report.ok, report.to_dict()
    assert any(c.check == "output_shapes" and c.status == "ok" for c in report.checks)


@pytest.mark.parametrize("inputs, fragment", [
    ("split", "has 2 outputs: read one of them as split.0, split.1"),
    ("split.2", "has 2 outputs, split.0 to split.1: there is no split.2"),
    ("conv.0", "'conv' has a single output"),
])
def test_reading_a_piece_wrongly_names_the_layer_and_the_pieces(inputs: str, fragment: str) -> None:
    spec = {"input": [1, 4, 6, 6], "layers": [
        {"name": "conv", "type": "Conv2d", "out_channels": 4, "kernel_size": 1},
        {"name": "split", "type": "Chunk", "chunks": 2, "dim": 1},
        {"name": "use", "type": "ReLU", "inputs": inputs}]}
    with pytest.raises(SpecError) as info:
        convcalc.analyze(spec)
    assert fragment in str(info.value) and info.value.layer == "use"


def test_a_layer_after_a_split_must_name_its_piece() -> None:
    with pytest.raises(SpecError) as info:
        convcalc.analyze({"input": [1, 4, 6, 6], "layers": [
            {"name": "split", "type": "Chunk", "chunks": 2, "dim": 1}, {"type": "ReLU"}]})
    assert "has 2 outputs" in str(info.value) and "name the piece" in (info.value.hint or "")


def test_pieces_inside_blocks_and_as_block_output() -> None:
    spec = """
input: [1, 6, 4, 4]
blocks:
  halves:
    layers:
      - {name: split, type: Chunk, chunks: 2, dim: 1}
      - {name: act, type: ReLU, inputs: split.1}
      - {name: cat, type: Concat, inputs: [split.0, act]}
  first_half:
    output: split.0
    layers:
      - {name: split, type: Chunk, chunks: 2, dim: 1}
layers:
  - {name: a, block: halves}
  - {name: b, block: first_half}
  - {name: c, type: Conv2d, out_channels: 2, kernel_size: 1}
"""
    result = convcalc.analyze(spec)
    assert result.layer("a.cat").inputs == ("a.split.0", "a.act")
    assert result.layer("c").inputs == ("b.split.0",) and result.layer("c").input_shapes == ((1, 3, 4, 4),)
