"""The analytic pass: a spec in, every layer's shape, counts and receptive field out. Pure Python."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, Mapping, NamedTuple, Sequence

from convcalc.errors import LayerError, Location, SpecError
from convcalc.layers.base import COMPOSITES, RF, AxisRF, Layer, Shape, identity_rf, lookup
from convcalc.spec.expand import NET_INPUT, LayerEntry, Spec, load_spec
from convcalc.spec.expr import ExprError, find_deferred, resolve_deferred

TOTAL_KEYS = ("params", "buffers", "macs", "flops", "fvcore_flops", "torch_flops")


def _number(value: Fraction | None) -> int | float | None:
    if value is None:
        return None
    return int(value) if value.denominator == 1 else float(value)


class ReceptiveField(NamedTuple):
    axes: tuple[AxisRF, ...]

    @property
    def size(self) -> list[int | float | None]:
        return [_number(a.size) for a in self.axes]

    @property
    def jump(self) -> list[int | float | None]:
        return [_number(a.jump) for a in self.axes]

    @property
    def start(self) -> list[int | float | None]:
        return [_number(a.start) for a in self.axes]

    def to_dict(self) -> dict[str, Any]:
        return {"size": self.size, "jump": self.jump, "start": self.start}


class ExpectationResult(NamedTuple):
    layer: str | None  # None: the whole network
    key: str
    expected: Any
    actual: Any
    location: Location | None

    @property
    def ok(self) -> bool:
        return self.expected == self.actual

    def to_dict(self) -> dict[str, Any]:
        return {"layer": self.layer, "key": self.key, "expected": self.expected, "actual": self.actual,
                "ok": self.ok, "location": str(self.location) if self.location else None}


@dataclass(frozen=True)
class LayerReport:
    name: str
    type: str
    inputs: tuple[str, ...]
    input_shapes: tuple[Shape, ...]
    output_shape: Shape
    params: int
    buffers: int
    macs: int
    flops: int
    fvcore_flops: int
    torch_flops: int
    receptive_field: ReceptiveField
    args: Mapping[str, Any]
    location: Location
    layer: Layer = field(repr=False, compare=False)
    ambiguity: Mapping[str, Any] | None = None
    notes: tuple[str, ...] = ()
    expanded_from: str | None = None
    output_shapes: tuple[Shape, ...] = ()  # a multi-output layer's every output (read as name.0, name.1, ...)

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "name": self.name,
            "type": self.type,
            "inputs": list(self.inputs),
            "input_shapes": [list(s) for s in self.input_shapes],
            "output_shape": list(self.output_shape),
            **({"output_shapes": [list(s) for s in self.output_shapes]} if self.output_shapes else {}),
            "params": self.params,
            "buffers": self.buffers,
            "macs": self.macs,
            "flops": self.flops,
            "fvcore_flops": self.fvcore_flops,
            "torch_flops": self.torch_flops,
            "receptive_field": self.receptive_field.to_dict(),
            "args": _jsonable(self.args),
        }
        if self.ambiguity:
            data["ambiguity"] = _jsonable(self.ambiguity)
        if self.notes:
            data["notes"] = list(self.notes)
        if self.expanded_from:
            data["expanded_from"] = self.expanded_from
        if self.location.line is not None:
            data["line"] = self.location.line
        return data


def _jsonable(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, Fraction):
        return _number(value)
    return value


@dataclass(frozen=True)
class Analysis:
    name: str
    input_shape: Shape
    layers: tuple[LayerReport, ...]
    totals: Mapping[str, int]
    spec: Spec = field(repr=False, compare=False)
    expectations: tuple[ExpectationResult, ...] = ()
    # Expectations the spec states for its own input, not checked because another input was analysed.
    expectations_skipped: int = 0

    @property
    def output_shape(self) -> Shape:
        return self.layers[-1].output_shape

    @property
    def failed_expectations(self) -> list[ExpectationResult]:
        return [e for e in self.expectations if not e.ok]

    def layer(self, name: str) -> LayerReport:
        for report in self.layers:
            if report.name == name:
                return report
        raise KeyError(name)

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "name": self.name,
            "input_shape": list(self.input_shape),
            "output_shape": list(self.output_shape),
            "layers": [layer.to_dict() for layer in self.layers],
            "totals": dict(self.totals),
        }
        if self.expectations:
            data["expectations"] = [e.to_dict() for e in self.expectations]
        return data


def analyze(spec: Any, input_shape: Sequence[int] | None = None,
            params: Mapping[str, Any] | None = None) -> Analysis:
    """Analyse a spec (mapping, YAML path or YAML string) without running anything.

    `input_shape` overrides the spec's `input`; `params` overrides the spec's `params:` variables.
    Raises SpecError (a ValueError) for anything invalid, naming file, line and layer.
    A torch.nn.Module is imported first (convcalc.from_module, torch.fx), at `input_shape`.
    """
    torch = sys.modules.get("torch")  # a module of torch's means torch is imported already
    if torch is not None and isinstance(spec, torch.nn.Module):
        if input_shape is None:
            raise SpecError("analysing a torch.nn.Module needs its input shape",
                            hint="e.g. convcalc.analyze(model, (1, 3, 224, 224))")
        from convcalc.torch_backend.importer import from_module

        spec = from_module(spec, input_shape)
    loaded = spec if isinstance(spec, Spec) else load_spec(spec, params)
    return _Analyzer(loaded, input_shape).run()


class _Analyzer:
    def __init__(self, spec: Spec, input_shape: Sequence[int] | None) -> None:
        self.spec = spec
        shape = tuple(input_shape) if input_shape is not None else spec.input_shape
        if shape is None:
            raise SpecError("no input shape: the spec has no 'input' and none was given",
                            location=Location(spec.source), hint="add `input: [1, 3, 224, 224]` or pass --input")
        if not 2 <= len(shape) <= 5 or any((not isinstance(s, int)) or s < 1 for s in shape):
            raise SpecError(f"input shape must be [N, C, *spatial] of positive integers with 0 to 3 spatial dims, "
                            f"got {list(shape)}", location=spec.input_location or Location(spec.source))
        self.input_shape: Shape = tuple(shape)
        self.shapes: dict[str, Shape] = {NET_INPUT: self.input_shape}
        self.rfs: dict[str, RF] = {NET_INPUT: identity_rf(len(shape) - 2)}
        self.alias: dict[str, str] = dict(spec.aliases)
        self.pieces: dict[str, tuple[int, str]] = {}  # multi-output layer -> (its output count, its type)
        self.reports: list[LayerReport] = []
        self.expectations: list[ExpectationResult] = []
        # `expect:` states what the spec computes at its own input; at another input (--input) the
        # shapes and counts differ by design, so the expectations are reported as not checked.
        self.own_input = spec.input_shape is None or self.input_shape == tuple(spec.input_shape)
        self.expectations_skipped = 0

    def run(self) -> Analysis:
        for entry in self.spec.layers:
            self._entry(entry)
        totals = {key: sum(getattr(r, key) for r in self.reports) for key in TOTAL_KEYS}
        analysis_name = self.spec.name
        self._check_network_expectations(totals)
        return Analysis(name=analysis_name, input_shape=self.input_shape, layers=tuple(self.reports),
                        totals=totals, spec=self.spec, expectations=tuple(self.expectations),
                        expectations_skipped=self.expectations_skipped)

    def _resolve(self, name: str) -> str:
        while name in self.alias:
            name = self.alias[name]
        return name

    def _entry(self, entry: LayerEntry) -> None:
        composite = COMPOSITES.get(entry.type.lower())
        if composite is None:
            self._layer(entry)
            return
        in_shapes = [self.shapes[i] for i in self._inputs(entry, composite.type_name)]
        args = self._shape_args(entry, composite.type_name)
        try:
            if len(in_shapes) != 1:
                raise LayerError(f"{composite.type_name} takes 1 input, got {len(in_shapes)}", arg="inputs")
            parts = composite.expand(args, in_shapes[0])
        except LayerError as exc:
            raise self._spec_error(exc, entry, composite.type_name) from None
        previous: tuple[str, ...] = entry.inputs
        for suffix, type_name, args in parts:
            sub = LayerEntry(name=f"{entry.name}.{suffix}", type=type_name, args=args, inputs=previous,
                             location=entry.location, arg_locations=entry.arg_locations)
            self._layer(sub, expanded_from=entry.name)
            previous = (sub.name,)
        self.alias[entry.name] = previous[0]
        if entry.expect:
            self._check_layer_expectations(entry, self.reports[-1])

    def _inputs(self, entry: LayerEntry, type_name: str) -> tuple[str, ...]:
        """The entry's inputs resolved to layer outputs; a multi-output layer must be read piece by piece."""
        inputs = tuple(self._resolve(i) for i in entry.inputs)
        for name in inputs:
            if name in self.shapes:
                continue
            base, _, index = name.rpartition(".")
            if name in self.pieces:
                count, kind = self.pieces[name]
                message = (f"'{name}' ({kind}) has {count} outputs: read one of them as "
                           f"{', '.join(f'{name}.{k}' for k in range(min(count, 3)))}{', ...' if count > 3 else ''}")
                hint = "e.g. inputs: " + f"{name}.0" + (" (a layer after it reads `prev` by default: name the piece)")
            elif base in self.pieces:
                count, kind = self.pieces[base]
                message = f"'{base}' ({kind}) has {count} outputs, {base}.0 to {base}.{count - 1}: there is no {name}"
                hint = None
            elif base in self.shapes:
                message = f"'{base}' has a single output: there is no output {index} to read"
                hint = f"read it as '{base}'"
            else:  # pragma: no cover - the expander resolves every other name
                message, hint = f"'{name}' is not a layer defined above", None
            raise SpecError(message, location=entry.arg_locations.get("inputs", entry.location), layer=entry.name,
                            layer_type=type_name, hint=hint)
        return inputs

    def _shape_args(self, entry: LayerEntry, type_name: str) -> dict[str, Any]:
        """The entry's arguments with every expression that reads the incoming shape evaluated."""
        args = dict(entry.args)
        for key, value in args.items():
            if find_deferred(value) is None:
                continue
            try:
                args[key] = resolve_deferred(value, lambda ref: self.shapes[self._resolve(ref)])
            except ExprError as exc:
                raise SpecError(str(exc), location=entry.arg_locations.get(key, entry.location), layer=entry.name,
                                layer_type=type_name) from None
        return args

    def _spec_error(self, exc: LayerError, entry: LayerEntry, type_name: str) -> SpecError:
        where = entry.arg_locations.get(exc.arg or "", entry.location) if exc.arg else entry.location
        return SpecError(exc.message, location=where, layer=entry.name, layer_type=type_name, hint=exc.hint)

    def _layer(self, entry: LayerEntry, expanded_from: str | None = None) -> None:
        try:
            cls = lookup(entry.type)
        except LayerError as exc:
            raise self._spec_error(exc, entry, entry.type) from None
        inputs = self._inputs(entry, cls.type_name)
        in_shapes = [self.shapes[i] for i in inputs]
        args = self._shape_args(entry, cls.type_name)
        for arg in cls.args:
            value = args.get(arg.name)
            if arg.name == "output_size" and arg.kind == "any" and isinstance(value, str):  # ConvTranspose
                target = self._resolve(value)
                if target not in self.shapes:
                    raise SpecError(f"output_size refers to '{value}', which is not a layer defined above",
                                    location=entry.arg_locations.get(arg.name, entry.location),
                                    layer=entry.name, layer_type=cls.type_name)
                args[arg.name] = list(self.shapes[target])
        try:
            layer = cls(args, in_shapes, in_names=inputs)
            rfs = layer.output_rfs([self.rfs[i] for i in inputs])
            rf = rfs[0]
            out_shapes = layer.output_shapes() if cls.multi_output else ()
            report = LayerReport(
                name=entry.name, type=cls.type_name, inputs=inputs, input_shapes=tuple(in_shapes),
                output_shape=layer.out_shape, params=layer.params(), buffers=layer.buffers(), macs=layer.macs(),
                flops=layer.flops(), fvcore_flops=layer.fvcore_flops(), torch_flops=layer.torch_flops(),
                receptive_field=ReceptiveField(tuple(rf)), args=layer.resolved_args(), location=entry.location,
                layer=layer, ambiguity=layer.ambiguity(),
                notes=tuple(n for n in (layer.fvcore_note(),) if n), expanded_from=expanded_from,
                output_shapes=out_shapes,
            )
        except LayerError as exc:
            if exc.arg == "inputs" and len(inputs) > 1:
                # a merge of maps that disagree: name both producers and the output_padding or crop that fixes it
                from convcalc.understand.transpose import merge_mismatch_hint

                producers = {r.name: r.layer for r in self.reports}
                exc.hint = merge_mismatch_hint(inputs, [producers.get(i) for i in inputs], in_shapes) or exc.hint
            raise self._spec_error(exc, entry, cls.type_name) from None
        if cls.multi_output:
            self.pieces[entry.name] = (len(out_shapes), cls.type_name)
            for index, (shape, piece_rf) in enumerate(zip(out_shapes, rfs)):
                self.shapes[f"{entry.name}.{index}"] = shape
                self.rfs[f"{entry.name}.{index}"] = tuple(piece_rf)
        else:
            self.shapes[entry.name] = layer.out_shape
            self.rfs[entry.name] = tuple(rf)
        self.reports.append(report)
        if entry.expect:
            self._check_layer_expectations(entry, report)

    # -- expectations -------------------------------------------------------------------------------
    _LAYER_EXPECT = ("output_shape", "params", "buffers", "macs", "flops", "fvcore_flops", "torch_flops",
                     "receptive_field")
    _NET_EXPECT = ("output_shape", "params", "buffers", "macs", "flops", "fvcore_flops", "torch_flops")

    def _check_layer_expectations(self, entry: LayerEntry, report: LayerReport) -> None:
        assert entry.expect is not None
        for key, expected in entry.expect.items():
            where = entry.expect_location
            if key not in self._LAYER_EXPECT:
                raise SpecError(f"unknown expectation '{key}'", location=where or entry.location, layer=entry.name,
                                hint=f"a layer may expect: {', '.join(self._LAYER_EXPECT)}")
            if key == "receptive_field":
                if not isinstance(expected, Mapping):
                    raise SpecError("expect.receptive_field must be a mapping like {size: [...]}",
                                    location=where, layer=entry.name)
                actual_rf = report.receptive_field.to_dict()
                for sub, value in expected.items():
                    if sub not in actual_rf:
                        raise SpecError(f"unknown receptive_field expectation '{sub}'", location=where,
                                        layer=entry.name, hint="use size, jump or start")
                    self._expect(ExpectationResult(
                        entry.name, f"receptive_field.{sub}", _listify(value), actual_rf[sub], where))
                continue
            actual = list(report.output_shape) if key == "output_shape" else getattr(report, key)
            self._expect(ExpectationResult(entry.name, key, _listify(expected), actual, where))

    def _check_network_expectations(self, totals: Mapping[str, int]) -> None:
        for key, expected in (self.spec.expect or {}).items():
            where = self.spec.expect_location
            if key not in self._NET_EXPECT:
                raise SpecError(f"unknown expectation '{key}'", location=where,
                                hint=f"a spec may expect: {', '.join(self._NET_EXPECT)}")
            actual = list(self.reports[-1].output_shape) if key == "output_shape" else totals[key]
            self._expect(ExpectationResult(None, key, _listify(expected), actual, where))

    def _expect(self, result: ExpectationResult) -> None:
        if self.own_input:
            self.expectations.append(result)
        else:
            self.expectations_skipped += 1


def _listify(value: Any) -> Any:
    if isinstance(value, tuple):
        return list(value)
    if isinstance(value, list):
        return [_listify(v) for v in value]
    return value
