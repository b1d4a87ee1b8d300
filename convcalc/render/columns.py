"""The columns each analytic command shows, defined once for every output format."""

from __future__ import annotations

from typing import NamedTuple
from typing import Any, Callable

from convcalc.analysis.core import LayerReport

_UNITS = ((10**12, "T"), (10**9, "G"), (10**6, "M"), (10**3, "K"))


def humanize(value: int | float | None) -> str:
    """4_226_432 -> '4.23M', 568_740_352 -> '568.7M'; small numbers stay exact."""
    if value is None:
        return "-"
    if isinstance(value, float) and not value.is_integer():
        return f"{value:g}"
    magnitude = abs(value)
    for scale, unit in _UNITS:
        if magnitude >= scale:
            scaled = value / scale
            if abs(scaled) >= 100:
                return f"{scaled:.1f}{unit}"
            return f"{scaled:.2f}{unit}"
    return str(int(value))


def shape_text(shape: Any) -> str:
    return "[" + ", ".join(str(s) for s in shape) + "]"


def _axes(values: list[Any]) -> str:
    if all(v is None for v in values):
        return "global"
    shown = ["global" if v is None else (f"{v:g}" if isinstance(v, float) else str(v)) for v in values]
    return shown[0] if len(set(shown)) == 1 else "x".join(shown)


class Column(NamedTuple):
    key: str
    header: str
    value: Callable[[LayerReport], Any]  # exact value, for CSV and totals
    text: Callable[[Any], str] = str  # human text, for tables and Markdown
    numeric: bool = False
    total: bool = False  # summed in the totals row


def _inputs(r: LayerReport) -> str:
    return ", ".join(r.inputs)


def _rf_size(r: LayerReport) -> list[Any]:
    return r.receptive_field.size


def _rf_jump(r: LayerReport) -> list[Any]:
    return r.receptive_field.jump


def _rf_start(r: LayerReport) -> list[Any]:
    return r.receptive_field.start


def _note(r: LayerReport) -> str:
    if not r.ambiguity:
        return ""
    if "equivalent_input_sizes" in r.ambiguity:
        ranges = r.ambiguity["equivalent_input_sizes"]
        if all(lo == hi for lo, hi in ranges):
            return ""
        return "inputs " + " x ".join(f"{lo}..{hi}" if lo != hi else str(lo) for lo, hi in ranges) + " give this output"
    if "output_padding_choices" in r.ambiguity:
        sizes = [c["output_sizes"] for c in r.ambiguity["output_padding_choices"]]
        note = "output_padding could give " + " x ".join("|".join(map(str, s)) for s in sizes)
        if r.args.get("output_size") is not None:
            note += f"; output_size chose output_padding={list(r.args['output_padding'])}"
        return note
    return ""


NAME = Column("name", "Layer", lambda r: r.name)
TYPE = Column("type", "Type", lambda r: r.type)
INPUTS = Column("inputs", "Inputs", _inputs)
IN_SHAPE = Column("input_shape", "Input shape", lambda r: " + ".join(shape_text(s) for s in r.input_shapes))
def _outputs(report: LayerReport) -> Any:
    return [list(s) for s in report.output_shapes] if report.output_shapes else report.output_shape


def _outputs_text(value: Any) -> str:
    """One shape, or a multi-output layer's pieces: `2 x [1, 58, 28, 28]` when equal, else each."""
    if not value or not isinstance(value[0], (list, tuple)):
        return shape_text(value)
    texts = [shape_text(s) for s in value]
    return f"{len(texts)} x {texts[0]}" if len(set(texts)) == 1 else " | ".join(texts)


OUT_SHAPE = Column("output_shape", "Output shape", _outputs, _outputs_text)
PARAMS = Column("params", "Params", lambda r: r.params, humanize, numeric=True, total=True)
BUFFERS = Column("buffers", "Buffers", lambda r: r.buffers, humanize, numeric=True, total=True)
MACS = Column("macs", "MACs", lambda r: r.macs, humanize, numeric=True, total=True)
FLOPS = Column("flops", "FLOPs", lambda r: r.flops, humanize, numeric=True, total=True)
FVCORE = Column("fvcore_flops", "fvcore", lambda r: r.fvcore_flops, humanize, numeric=True, total=True)
TORCH = Column("torch_flops", "FlopCounter", lambda r: r.torch_flops, humanize, numeric=True, total=True)
RF_SIZE = Column("rf_size", "RF size", _rf_size, _axes, numeric=True)
RF_JUMP = Column("rf_jump", "Jump", _rf_jump, _axes, numeric=True)
RF_START = Column("rf_start", "Start", _rf_start, _axes, numeric=True)
NOTE = Column("note", "Note", _note)

COLUMN_SETS: dict[str, list[Column]] = {
    "shape": [NAME, TYPE, IN_SHAPE, OUT_SHAPE, NOTE],
    "params": [NAME, TYPE, OUT_SHAPE, PARAMS, BUFFERS],
    "flops": [NAME, TYPE, OUT_SHAPE, MACS, FLOPS, FVCORE, TORCH],
    "rf": [NAME, TYPE, OUT_SHAPE, RF_SIZE, RF_JUMP, RF_START],
    "summary": [NAME, TYPE, OUT_SHAPE, PARAMS, MACS, FLOPS, RF_SIZE, RF_JUMP],
}
