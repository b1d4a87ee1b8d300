"""The built-in architectures: pinned numbers, proven against PyTorch twins, fvcore and FlopCounterMode.

Three legs hold each number up:
  GOLDEN (literals) == convcalc's analysis of specs/NAME.yaml           test_analysis_matches_golden
  GOLDEN (literals) == the twin, measured by torch, fvcore and FlopCounterMode: written by hand in
                       tests/reference_models.py (test_reference_matches_golden) and, for the built-ins
                       that follow torchvision, torchvision's own model (tests/test_torchvision.py, run
                       in CI's torchvision environment: weights load by name, same output, same totals)
  the spec built by convcalc and run in torch agrees layer by layer     test_validate_passes
A change to a spec, a layer rule or torch's counting breaks one leg, and says which.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any, Callable

import pytest
import yaml
from typer.testing import CliRunner

import convcalc
from convcalc.analysis.core import analyze
from convcalc.archs import ALIASES, arch_names, arch_path, arch_source, list_archs, load_arch, specs_dirs
from convcalc.errors import SpecError

import reference_models as ref
from torchvision_twins import TWINS, proven_archs

REPO = Path(__file__).resolve().parent.parent
KEYS = ("params", "buffers", "macs", "fvcore_flops", "torch_flops", "output_shape")


def _golden(params: int, buffers: int, macs: int, fvcore_flops: int, torch_flops: int,
            output_shape: list[int]) -> dict[str, Any]:
    return dict(zip(KEYS, (params, buffers, macs, fvcore_flops, torch_flops, output_shape)))


# Measured once with tests/reference_models.py (torch 2.13 CPU, fvcore 0.1.5; models in eval mode).
GOLDEN: dict[str, dict[str, Any]] = {
    "lenet5": _golden(61_706, 0, 416_520, 416_520, 833_040, [1, 10]),
    "alexnet": _golden(61_100_840, 0, 714_188_480, 714_197_696, 1_428_376_960, [1, 1000]),
    "alexnet_groups": _golden(60_965_224, 0, 724_406_816, 724_406_816, 1_448_813_632, [1, 1000]),
    "vgg16": _golden(138_357_544, 0, 15_470_264_320, 15_470_289_408, 30_940_528_640, [1, 1000]),
    "resnet18": _golden(11_689_512, 9_620, 1_814_073_344, 1_819_065_856, 3_628_146_688, [1, 1000]),
    "resnet34": _golden(21_797_672, 17_060, 3_663_761_408, 3_671_262_720, 7_327_522_816, [1, 1000]),
    "resnet50": _golden(25_557_032, 53_173, 4_089_184_256, 4_111_512_576, 8_178_368_512, [1, 1000]),
    "resnet101": _golden(44_549_160, 105_448, 7_801_405_440, 7_833_969_664, 15_602_810_880, [1, 1000]),
    "resnet152": _golden(60_192_808, 151_579, 11_513_626_624, 11_558_835_200, 23_027_253_248, [1, 1000]),
    "resnext50_32x4d": _golden(25_028_904, 68_277, 4_230_479_872, 4_259_381_248, 8_460_959_744, [1, 1000]),
    "mobilenet_v1": _golden(4_231_976, 21_915, 568_740_352, 578_825_728, 1_137_480_704, [1, 1000]),
    "mobilenet_v2": _golden(3_504_872, 34_164, 300_774_272, 314_193_216, 601_548_544, [1, 1000]),
    # measured on torchvision 0.29.1's own models (torch 2.14.1, fvcore 0.1.5; eval mode)
    "shufflenet_v2_x1_0": _golden(2_278_604, 16_236, 144_907_992, 148_808_392, 289_815_984, [1, 1000]),
    "regnet_y_400mf": _golden(4_344_144, 27_205, 401_842_848, 410_406_088, 803_685_696, [1, 1000]),
    "convnext_tiny": _golden(28_589_128, 0, 4_455_531_264, 4_470_437_376, 8_911_062_528, [1, 1000]),
    "unet": _golden(31_030_658, 0, 150_428_424_448, 150_428_424_448, 300_856_848_896, [1, 2, 388, 388]),
    "dcgan_generator": _golden(3_576_704, 1_924, 104_628_224, 104_873_984, 209_256_448, [1, 3, 64, 64]),
    "tcn": _golden(198_410, 0, 202_047_488, 202_047_488, 404_094_976, [1, 10, 1024]),
    "c3d": _golden(79_991_015, 0, 38_548_959_232, 38_548_959_232, 77_097_918_464, [1, 487]),
    # Measured on torchvision 0.29.1's models (torch 2.14.1, fvcore 0.1.5; eval mode), their twins in
    # tests/torchvision_twins.py; MACs are FlopCounterMode's count halved (conv and linear layers only).
    "densenet121": _golden(7_978_856, 83_769, 2_834_161_664, 2_865_546_752, 5_668_323_328, [1, 1000]),
    "squeezenet1_1": _golden(1_235_496, 0, 349_151_936, 349_320_936, 698_303_872, [1, 1000]),
    "googlenet": _golden(6_624_904, 14_617, 1_498_376_192, 1_504_878_688, 2_996_752_384, [1, 1000]),
    "inception_v3": _golden(23_834_568, 34_526, 5_713_216_096, 5_731_282_144, 11_426_432_192, [1, 1000]),
    # Measured the same way on torchvision 0.29.1's own models (torch 2.14.1, weights=None), which
    # tests/test_torchvision.py proves the specs equal to.
    "mobilenet_v3_small": _golden(2_542_856, 12_146, 56_510_400, 59_649_536, 113_020_800, [1, 1000]),
    "mobilenet_v3_large": _golden(5_483_032, 24_446, 216_589_760, 226_033_824, 433_179_520, [1, 1000]),
    "efficientnet_b0": _golden(5_288_548, 42_065, 385_814_752, 401_659_392, 771_629_504, [1, 1000]),
}
NAMES = list(GOLDEN)
# The built-ins with a hand-written twin in tests/reference_models.py; the others' twin is torchvision's
# own model (tests/torchvision_twins.py, proven in tests/test_torchvision.py).
REFERENCED = [name for name in NAMES if name in ref.REFERENCE]


def _totals(name: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
    analysis = analyze(load_arch(name, params))
    got = {k: analysis.totals[k] for k in KEYS if k != "output_shape"}
    got["output_shape"] = list(analysis.output_shape)
    return got


# --------------------------------------------------------------------------------------------------
# The catalogue and name lookup
# --------------------------------------------------------------------------------------------------


def test_every_builtin_has_golden_numbers_and_a_reference_twin() -> None:
    assert sorted(arch_names()) == sorted(GOLDEN)
    # the twin: torchvision's model (an entry in tests/torchvision_twins.py) or one written by hand here
    assert set(ref.REFERENCE) <= set(arch_names()) and proven_archs() <= set(arch_names())
    without = sorted(set(arch_names()) - set(ref.REFERENCE) - proven_archs())
    assert not without, f"built-ins without a reference twin: {without}"


@pytest.mark.parametrize("name", NAMES)
def test_spec_is_documented(name: str) -> None:
    text = arch_source(name)
    # the first comment line names the paper (after an editor's schema modeline, if any)
    first = next(line for line in text.splitlines() if not line.startswith("# yaml-language-server:"))
    assert first.startswith("# ") and any(str(year) in first for year in range(1989, 2030)), first
    info = {i.name: i for i in list_archs()}[name]
    assert info.description and info.paper
    if name in ref.REFERENCE:
        assert info.input_shape == ref.REFERENCE[name][1]
    assert info.path == arch_path(name)


def test_lookup_ignores_case_dashes_and_takes_aliases() -> None:
    assert arch_path("mobilenet") == arch_path("mobilenet_v1") == arch_path("MobileNet-V1")
    assert arch_path("ResNet-50") == arch_path("resnet50") == specs_dirs()[0] / "resnet50.yaml"
    assert arch_path("U-Net").name == "unet.yaml"
    for alias, target in ALIASES.items():
        assert arch_path(alias) == arch_path(target)


def test_unknown_name_is_a_spec_error_with_a_suggestion() -> None:
    with pytest.raises(SpecError) as info:
        arch_path("resnet51")
    assert "unknown architecture 'resnet51'" in str(info.value)
    assert info.value.hint and "resnet50" in info.value.hint
    with pytest.raises(SpecError) as info:
        load_arch("mobilnet")
    assert info.value.hint and "mobilenet" in info.value.hint


def test_options_and_unknown_options() -> None:
    spec = load_arch("mobilenet", {"alpha": 0.5, "resolution": 160})
    assert spec.input_shape == (1, 3, 160, 160)
    with pytest.raises(SpecError) as info:
        load_arch("mobilenet", {"width": 0.5})
    assert "no parameter 'width'" in str(info.value) and "alpha" in (info.value.hint or "")
    assert convcalc.load_arch is load_arch


def test_specs_are_found_in_an_installed_package(tmp_path: Path) -> None:
    # pyproject copies specs/ into the wheel as convcalc/_specs; archs.py looks there first.
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    assert pyproject["tool"]["hatch"]["build"]["targets"]["wheel"]["force-include"]["specs"] == "convcalc/_specs"
    package = tmp_path / "site-packages" / "convcalc"
    (package / "_specs").mkdir(parents=True)
    assert specs_dirs(package) == [package / "_specs"]
    (tmp_path / "site-packages" / "specs").mkdir()  # another distribution's folder is not ours
    assert specs_dirs(package) == [package / "_specs"]
    # whichever copy this run found (the checkout's, or an installed wheel's) is the repository's specs/
    found = {p.name: p.read_text() for p in specs_dirs()[0].glob("*.yaml")}
    assert found == {p.name: p.read_text() for p in (REPO / "specs").glob("*.yaml")}


def test_archs_module_does_not_import_torch() -> None:
    code = ("import sys, convcalc.archs, convcalc.cli; convcalc.archs.list_archs(); "
            "print('torch' in sys.modules, 'fvcore' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]


# --------------------------------------------------------------------------------------------------
# Golden numbers: convcalc == literals == plain PyTorch + fvcore + FlopCounterMode
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_analysis_matches_golden(name: str) -> None:
    assert _totals(name) == GOLDEN[name]


@pytest.mark.parametrize("name", [name for name in NAMES if name in ref.REFERENCE])
def test_reference_matches_golden(name: str) -> None:
    builder, shape = ref.REFERENCE[name]
    assert ref.measure(builder, shape) == GOLDEN[name]


@pytest.mark.parametrize("name", NAMES)
def test_validate_passes(name: str) -> None:
    # `convcalc validate --arch NAME` on CPU: shapes, params, buffers and FlopCounterMode per layer. fvcore's
    # totals are proven above on the reference twins; leaving its second traced forward out halves the time.
    report = convcalc.validate(load_arch(name), device="cpu", fvcore=False)
    assert report.ok, "\n".join(report.diff())
    assert report.output_shape == GOLDEN[name]["output_shape"]


# Options change the network the way the paper / torchvision's arguments do.
VARIANTS: list[tuple[str, dict[str, Any], Callable[[], Any], tuple[int, ...]]] = [
    ("lenet5", {"num_classes": 26}, lambda: ref.lenet5(26), (1, 1, 32, 32)),
    ("alexnet", {"resolution": 256, "num_classes": 10}, lambda: ref.AlexNet(10), (1, 3, 256, 256)),
    ("alexnet_groups", {"num_classes": 10}, lambda: ref.alexnet_groups(10), (1, 3, 227, 227)),
    ("vgg16", {"resolution": 64, "num_classes": 10}, lambda: ref.VGG16(10), (1, 3, 64, 64)),
    ("resnet18", {"resolution": 200, "num_classes": 10}, lambda: ref.resnet18(10), (1, 3, 200, 200)),
    ("resnet50", {"stride_in_1x1": True}, lambda: ref.resnet50(stride_in_1x1=True), (1, 3, 224, 224)),
    ("mobilenet_v1", {"alpha": 0.5, "resolution": 160}, lambda: ref.mobilenet_v1(0.5), (1, 3, 160, 160)),
    ("mobilenet_v1", {"resolution": 200}, lambda: ref.mobilenet_v1(), (1, 3, 200, 200)),
    ("mobilenet_v2", {"width_mult": 0.35, "resolution": 160}, lambda: ref.MobileNetV2(width_mult=0.35),
     (1, 3, 160, 160)),
    ("mobilenet_v2", {"width_mult": 1.4, "num_classes": 10}, lambda: ref.MobileNetV2(10, width_mult=1.4),
     (1, 3, 224, 224)),
    ("unet", {"resolution": 252, "in_channels": 3, "num_classes": 5, "width": 16},
     lambda: ref.UNet(3, 5, 16), (1, 3, 252, 252)),
    ("dcgan_generator", {"nz": 64, "ngf": 32, "nc": 1}, lambda: ref.dcgan_generator(64, 32, 1), (1, 64, 1, 1)),
    ("tcn", {"levels": 4, "kernel_size": 5, "channels": 32, "length": 300, "in_channels": 2},
     lambda: ref.TCN(2, 32, 4, 5), (1, 2, 300)),
    ("c3d", {"resolution": 64, "num_classes": 101}, lambda: ref.c3d(101, 512 * 1 * 2 * 2),
     (1, 3, 16, 64, 64)),
]


@pytest.mark.parametrize("name, params, builder, shape", VARIANTS,
                         ids=[f"{v[0]}-{'-'.join(f'{k}={x}' for k, x in v[1].items())}" for v in VARIANTS])
def test_options_match_reference(name: str, params: dict[str, Any], builder: Callable[[], Any],
                                 shape: tuple[int, ...]) -> None:
    assert load_arch(name, params).input_shape == shape
    assert _totals(name, params) == ref.measure(builder, shape)


# `--input` on a built-in: this network, fed that input. Where the real network runs, the output shape it
# gives; where it cannot (a fixed-size classifier, a map pooled to nothing), an error. None: refused.
# Checked against the literal below and, where one exists, against the hand-written twin run on that input
# (tests/test_torchvision.py checks the torchvision-backed built-ins against torchvision at other sizes too).
INPUT_SIZES: dict[str, list[tuple[tuple[int, ...], list[int] | None]]] = {
    "lenet5": [((2, 1, 35, 33), [2, 10]),            # C5 still sees 5x5 maps: 32..35 work
               ((1, 1, 28, 28), None),               # C5's 5x5 kernel on 4x4 maps
               ((1, 1, 36, 36), None)],              # C5 gives 2x2, F6 wants exactly 120 inputs
    "alexnet": [((1, 3, 160, 160), [1, 1000]), ((2, 3, 256, 192), [2, 1000]),
                ((1, 3, 63, 63), [1, 1000]),         # torchvision's min_size
                ((1, 3, 62, 62), None)],             # the last 3x3 max pool sees 2x2
    "alexnet_groups": [((2, 3, 258, 240), [2, 1000]),  # 227..258 all give pool5 6x6
                       ((1, 3, 224, 224), None),     # pool5 5x5: fc6 wants 256x6x6
                       ((1, 3, 259, 259), None)],    # pool5 7x7
    "vgg16": [((1, 3, 160, 160), [1, 1000]), ((2, 3, 256, 192), [2, 1000]),
              ((1, 3, 32, 32), [1, 1000]),           # torchvision's min_size: 1x1 before the adaptive pool
              ((1, 3, 31, 31), None)],               # the fifth 2x2 max pool sees 1x1
    "resnet18": [((1, 3, 160, 160), [1, 1000]), ((2, 3, 256, 192), [2, 1000]), ((1, 3, 1, 1), [1, 1000])],
    "resnet34": [((1, 3, 160, 160), [1, 1000]), ((2, 3, 256, 192), [2, 1000])],
    "resnet50": [((1, 3, 160, 160), [1, 1000]), ((2, 3, 256, 192), [2, 1000]), ((1, 3, 1, 1), [1, 1000])],
    "resnet101": [((1, 3, 160, 160), [1, 1000]), ((2, 3, 256, 192), [2, 1000])],
    "resnet152": [((1, 3, 160, 160), [1, 1000]), ((2, 3, 256, 192), [2, 1000])],
    "resnext50_32x4d": [((1, 3, 160, 160), [1, 1000]), ((2, 3, 256, 192), [2, 1000])],
    "mobilenet_v1": [((1, 3, 192, 192), [1, 1000]), ((1, 3, 160, 160), [1, 1000]),
                     ((1, 3, 128, 128), [1, 1000]), ((2, 3, 320, 240), [2, 1000]), ((1, 3, 1, 1), [1, 1000])],
    "mobilenet_v2": [((1, 3, 160, 160), [1, 1000]), ((2, 3, 256, 192), [2, 1000]), ((1, 3, 1, 1), [1, 1000])],
    "mobilenet_v3_small": [((1, 3, 160, 160), [1, 1000]), ((2, 3, 256, 192), [2, 1000]),
                           ((1, 3, 1, 1), [1, 1000])],
    "mobilenet_v3_large": [((1, 3, 160, 160), [1, 1000]), ((2, 3, 256, 192), [2, 1000]),
                           ((1, 3, 33, 17), [1, 1000])],
    "efficientnet_b0": [((1, 3, 160, 160), [1, 1000]), ((2, 3, 256, 192), [2, 1000]),
                        ((1, 3, 1, 1), [1, 1000])],
    "shufflenet_v2_x1_0": [((1, 3, 160, 160), [1, 1000]), ((1, 3, 1, 1), [1, 1000])],
    "regnet_y_400mf": [((1, 3, 160, 160), [1, 1000]), ((1, 3, 1, 1), [1, 1000])],
    "convnext_tiny": [((1, 3, 32, 32), [1, 1000]),   # torchvision's min_size: the 4x4 stem, then 2x2 convs
                      ((1, 3, 31, 31), None)],       # the last 2x2 downsampling conv sees 1x1
    "unet": [((1, 1, 508, 508), [1, 2, 324, 324]),   # tiles 16k + 124: 184 pixels smaller
             ((2, 1, 572, 444), [2, 2, 388, 260]),
             ((1, 1, 570, 570), [1, 2, 372, 372]),   # other sizes: the crops take what the pools dropped
             ((1, 1, 60, 60), None)],                # the fourth level's convs run out of pixels
    "dcgan_generator": [((2, 100, 2, 2), [2, 3, 80, 80]), ((1, 100, 4, 3), [1, 3, 112, 96])],
    "tcn": [((1, 1, 500), [1, 10, 500]), ((2, 1, 1), [2, 10, 1])],
    "c3d": [((2, 3, 20, 128, 120), [2, 487]),        # 8..23 frames and 112..143 pixels give pool5 1x4x4
            ((1, 3, 8, 112, 112), [1, 487]),
            ((1, 3, 24, 112, 112), None),            # pool5 2x4x4: fc6 wants 512x1x4x4
            ((1, 3, 16, 160, 160), None)],
}


def test_every_builtin_is_tried_at_other_input_sizes() -> None:
    # here, or (a torchvision twin) against torchvision itself at other sizes in tests/test_torchvision.py
    assert set(arch_names()) - proven_archs() <= set(INPUT_SIZES) <= set(arch_names())


SIZE_CASES = [(name, shape, expected) for name, cases in INPUT_SIZES.items() for shape, expected in cases]


@pytest.mark.parametrize("name, shape, expected", SIZE_CASES,
                         ids=[f"{name}-{'x'.join(map(str, shape))}" for name, shape, _ in SIZE_CASES])
def test_input_sizes_the_real_network_takes(name: str, shape: tuple[int, ...],
                                            expected: list[int] | None) -> None:
    if expected is None:
        with pytest.raises(SpecError):
            analyze(load_arch(name), input_shape=shape)
    else:
        assert list(analyze(load_arch(name), input_shape=shape).output_shape) == expected
    if name in ref.REFERENCE:
        import torch

        with torch.device("meta"):
            twin = ref.REFERENCE[name][0]().eval()
        try:
            got: list[int] | None = list(twin(torch.empty(shape, device="meta")).shape)
        except RuntimeError:
            got = None
        assert got == expected, "the hand-written twin disagrees"


def test_mobilenet_pool_is_global_at_any_input() -> None:
    for side, pooled in ((224, 7), (320, 10), (160, 5), (100, 4)):
        avgpool = analyze(load_arch("mobilenet"), input_shape=(1, 3, side, side)).layer("avgpool")
        assert avgpool.input_shapes[0] == (1, 1024, pooled, pooled)
        assert list(avgpool.args["kernel_size"]) == [pooled, pooled]
        assert avgpool.output_shape == (1, 1024, 1, 1)


# --------------------------------------------------------------------------------------------------
# The papers' own figures (and torchvision's), beside convcalc's exact numbers; see the README's "Built-in architectures"
# --------------------------------------------------------------------------------------------------


def test_mobilenet_table1_figures() -> None:
    # Howard et al. Table 6/8: 1.0 MobileNet-224 has 4.2M parameters and 569M mult-adds.
    totals = _totals("mobilenet")
    assert totals["params"] == 4_231_976 and round(totals["params"] / 1e6, 1) == 4.2
    assert totals["macs"] == 568_740_352 and round(totals["macs"] / 1e6) == 569


@pytest.mark.parametrize("alpha, resolution, paper_macs_m, paper_params_m", [
    (0.75, 224, 325, 2.6), (0.5, 224, 149, 1.3), (0.25, 224, 41, 0.5),   # Table 6: width multiplier
    (1.0, 192, 418, 4.2), (1.0, 160, 290, 4.2), (1.0, 128, 186, 4.2),    # Table 7: resolution
])
def test_mobilenet_width_and_resolution_tables(alpha: float, resolution: int, paper_macs_m: int,
                                               paper_params_m: float) -> None:
    totals = _totals("mobilenet", {"alpha": alpha, "resolution": resolution})
    # the paper prints millions to the last digit shown; 160's 290.7M is printed as 290
    assert abs(totals["macs"] / 1e6 - paper_macs_m) < 1
    assert round(totals["params"] / 1e6, 1) == paper_params_m


def test_alexnet_about_60_million_parameters() -> None:
    # Krizhevsky et al.: "60 million parameters"; torchvision's single-GPU variant has 61.1M.
    assert round(_totals("alexnet_groups")["params"] / 1e6) == 61
    assert _totals("alexnet_groups")["params"] == 60_965_224
    assert _totals("alexnet")["params"] == 61_100_840


def test_unet_572_to_388() -> None:
    assert _totals("unet")["output_shape"] == [1, 2, 388, 388]
    assert load_arch("unet").input_shape == (1, 1, 572, 572)


# He et al. 2016, Table 1, "FLOPs" (they mean multiply-adds), in units of 1e9.
HE_TABLE1 = {"resnet18": 1.8, "resnet34": 3.6, "resnet50": 3.8, "resnet101": 7.6, "resnet152": 11.3}


@pytest.mark.parametrize("name", list(HE_TABLE1))
def test_resnet_flop_table(name: str) -> None:
    stride_in_1x1 = {"stride_in_1x1": True} if name in ("resnet50", "resnet101", "resnet152") else None
    # With the original placement of the bottleneck stride the paper's table holds to its one decimal.
    assert abs(_totals(name, stride_in_1x1)["macs"] / 1e9 - HE_TABLE1[name]) < 0.1


def test_resnet50_torchvision_vs_paper() -> None:
    # torchvision (stride on the 3x3) reports 4.09 GFLOPS (GMACs); the paper's 3.8 is the stride on the 1x1.
    assert round(_totals("resnet50")["macs"] / 1e9, 2) == 4.09
    assert _totals("resnet50", {"stride_in_1x1": True})["macs"] == 3_857_973_248


# torchvision's model documentation: parameter counts and "GFLOPS" (which are GMACs) at 224x224.
TORCHVISION = {
    "alexnet": (61_100_840, 0.71), "vgg16": (138_357_544, 15.47), "resnet18": (11_689_512, 1.81),
    "resnet34": (21_797_672, 3.66), "resnet50": (25_557_032, 4.09), "resnet101": (44_549_160, 7.8),
    "resnet152": (60_192_808, 11.51), "resnext50_32x4d": (25_028_904, 4.23), "mobilenet_v2": (3_504_872, 0.3),
    "densenet121": (7_978_856, 2.83),
    "squeezenet1_1": (1_235_496, 0.35),
    "googlenet": (6_624_904, 1.5),   # torchvision's pretrained googlenet drops its auxiliary classifiers
    "mobilenet_v3_small": (2_542_856, 0.06), "mobilenet_v3_large": (5_483_032, 0.22),
    "efficientnet_b0": (5_288_548, 0.39),
    "shufflenet_v2_x1_0": (2_278_604, 0.14), "regnet_y_400mf": (4_344_144, 0.4),
    "convnext_tiny": (28_589_128, 4.46),
}


@pytest.mark.parametrize("name", list(TORCHVISION))
def test_torchvision_published_figures(name: str) -> None:
    params, gmacs = TORCHVISION[name]
    totals = _totals(name)
    assert totals["params"] == params
    digits = len(str(gmacs).split(".")[1])
    assert round(totals["macs"] / 1e9, digits) == gmacs


def test_inception_v3_torchvision_figures_count_the_aux_classifier() -> None:
    # torchvision publishes 27,161,264 parameters and 5.71 GFLOPS for inception_v3 with its AuxLogits head
    # (aux_logits=True), which only runs in training mode: its parameters count, its MACs do not.
    totals = _totals("inception_v3")
    aux_logits = ((768 * 128 + 2 * 128)            # conv0: 1x1 conv 768 -> 128, BatchNorm
                  + (128 * 768 * 5 * 5 + 2 * 768)  # conv1: 5x5 conv 128 -> 768, BatchNorm
                  + (768 * 1000 + 1000))           # fc
    assert totals["params"] + aux_logits == 27_161_264
    assert round(totals["macs"] / 1e9, 2) == 5.71


@pytest.mark.parametrize("variant, params, torchvision_params, torchvision_gmacs", [
    ("densenet161", {"growth_rate": 48, "block_config": [6, 12, 36, 24], "num_init_features": 96},
     28_681_000, 7.73),
    ("densenet169", {"block_config": [6, 12, 32, 32]}, 14_149_480, 3.36),
    ("densenet201", {"block_config": [6, 12, 48, 32]}, 20_013_928, 4.29),
])
def test_densenet_variants_are_one_set_away(variant: str, params: dict[str, Any], torchvision_params: int,
                                            torchvision_gmacs: float) -> None:
    # the --set lines documented in specs/densenet121.yaml and the README give torchvision's networks
    for key, value in params.items():
        assert f"--set {key}={str(value).replace(' ', '')}" in arch_source("densenet121")
    totals = _totals("densenet121", params)
    assert totals["params"] == torchvision_params
    assert round(totals["macs"] / 1e9, 2) == torchvision_gmacs


def test_densenet_block_config_needs_four_numbers() -> None:
    with pytest.raises(SpecError) as info:
        load_arch("densenet121", {"block_config": [6, 12, 24, 16, 8]})
    assert "block_config: 4 numbers" in str(info.value)


# torchvision's EfficientNet-B1..B7 (num_params, GFLOPS at their eval crop): efficientnet_b0 with the
# --set options its spec header lists (tests/torchvision_twins.py's rows, proven there on torchvision).
EFFICIENTNET = {"efficientnet_b1": (7_794_184, 0.69), "efficientnet_b2": (9_109_994, 1.09),
                "efficientnet_b3": (12_233_232, 1.83), "efficientnet_b4": (19_341_616, 4.39),
                "efficientnet_b5": (30_389_784, 10.27), "efficientnet_b6": (43_040_704, 19.07),
                "efficientnet_b7": (66_347_960, 37.75)}


@pytest.mark.parametrize("variant", list(EFFICIENTNET))
def test_efficientnet_variants_torchvision_figures(variant: str) -> None:
    params, gmacs = EFFICIENTNET[variant]
    twin = TWINS[variant]
    assert twin.arch == "efficientnet_b0" and twin.builder == variant
    # the spec's header documents each variant's exact --set line
    sets = " ".join(f"--set {k}={v}" for k, v in twin.spec_params.items())
    comments = " ".join(line.lstrip("#") for line in arch_source("efficientnet_b0").splitlines())
    header = " ".join(comments.split())
    assert f"{variant} {sets}" in header
    totals = _totals("efficientnet_b0", dict(twin.spec_params))
    assert totals["params"] == params and round(totals["macs"] / 1e9, 2) == gmacs
    resolution = twin.spec_params["resolution"]
    assert load_arch("efficientnet_b0", dict(twin.spec_params)).input_shape == (1, 3, resolution, resolution)
    assert totals["output_shape"] == [1, 1000]


# --------------------------------------------------------------------------------------------------
# CLI: convcalc archs, convcalc export
# --------------------------------------------------------------------------------------------------

runner = CliRunner()


def _cli(*args: str) -> Any:
    from convcalc.cli import app

    return runner.invoke(app, list(args))


def test_cli_archs_json() -> None:
    result = _cli("archs", "--format", "json")
    assert result.exit_code == 0, result.output
    rows = {row["name"]: row for row in json.loads(result.stdout)}
    assert list(rows) == arch_names()
    for name, row in rows.items():
        assert {k: row[k] for k in KEYS} == GOLDEN[name]
        assert row["description"] and row["input_shape"] == list(load_arch(name).input_shape or [])
    assert rows["mobilenet_v1"]["aliases"] == ["mobilenet"]
    assert rows["mobilenet_v1"]["options"] == {"alpha": 1.0, "resolution": 224, "num_classes": 1000}


@pytest.mark.parametrize("fmt", ["table", "markdown", "csv"])
def test_cli_archs_text_formats(fmt: str) -> None:
    result = _cli("archs", "--format", fmt)
    assert result.exit_code == 0, result.output
    for name in arch_names():
        assert name in result.stdout
    if fmt == "markdown":
        assert result.stdout.startswith("| Name | Description | Input | Params | MACs |")
        assert "| 4.23M | 568.7M |" in result.stdout
    if fmt == "csv":
        assert "mobilenet_v1," in result.stdout and ",4231976,568740352" in result.stdout


def test_cli_export_prints_the_spec(tmp_path: Path) -> None:
    result = _cli("export", "MobileNet")
    assert result.exit_code == 0
    shipped = (REPO / "specs" / "mobilenet_v1.yaml").read_text(encoding="utf-8").splitlines(keepends=True)
    exported = result.stdout.splitlines(keepends=True)
    # all of it, comments included; only a schema modeline is re-pointed at the installed schema file
    if shipped[0].startswith("# yaml-language-server: $schema="):
        assert exported[0].startswith("# yaml-language-server: $schema=file://")
        shipped, exported = shipped[1:], exported[1:]
    assert exported == shipped
    assert yaml.safe_load(result.stdout)["name"] == "mobilenet_v1"
    # the exported file is a spec a user can analyse and edit
    target = tmp_path / "mine.yaml"
    assert _cli("export", "resnet18", "-o", str(target)).exit_code == 0
    assert analyze(target).totals["params"] == GOLDEN["resnet18"]["params"]


def test_cli_export_unknown_name_exits_2() -> None:
    result = _cli("export", "resnet51")
    assert result.exit_code == 2
    assert "unknown architecture 'resnet51'" in result.output and "resnet50" in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize("side, paper_macs_m", [(192, 418), (160, 290), (128, 186)])
def test_cli_input_on_a_builtin(side: int, paper_macs_m: int) -> None:
    # MobileNet v1 fed a smaller image: Howard et al. Table 7 (418 / 290 / 186 million mult-adds; 160's
    # 290.7M is printed as 290). The same numbers as the network built for that resolution (--set).
    result = _cli("params", "--arch", "mobilenet", "--input", f"1x3x{side}x{side}", "--format", "json")
    assert result.exit_code == 0, result.output
    totals = json.loads(result.stdout)["totals"]
    assert int(totals["macs"] / 1e6) == paper_macs_m
    assert {k: totals[k] for k in KEYS if k != "output_shape"} == {
        k: v for k, v in _totals("mobilenet", {"resolution": side}).items() if k != "output_shape"}
    table = _cli("params", "--arch", "mobilenet", "--input", f"1x3x{side}x{side}")
    assert table.exit_code == 0 and f"MACs {totals['macs'] / 1e6:.1f}M" in table.stdout
    assert "expectation(s) failed" not in table.output


def test_cli_input_a_builtin_cannot_take_exits_2() -> None:
    result = _cli("summary", "--arch", "lenet5", "--input", "1x1x28x28")
    assert result.exit_code == 2
    assert "layer 'c5' (Conv2d)" in result.output and "Traceback" not in result.output


def test_cli_arch_option_on_an_analytic_command() -> None:
    result = _cli("params", "--arch", "mobilenet", "--format", "json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["totals"]["params"] == 4_231_976
    result = _cli("flops", "--arch", "mobilenet", "--set", "alpha=0.5", "--format", "json")
    assert json.loads(result.stdout)["totals"]["macs"] == _totals("mobilenet", {"alpha": 0.5})["macs"]
