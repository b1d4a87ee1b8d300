"""The analysed network as a real torch.nn.Module.

Each layer contributes the module its own `build()` returns; `ConvcalcNet` wires them as the analysis
resolved the graph (residual adds, concats, crops included) and registers them under their spec names,
so `net.layer1[0].conv1` / `net.get_submodule("layer1.0.conv1")` and the state_dict keys
(`layer1.0.conv1.weight`) mirror the spec.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import torch
from torch import nn

from convcalc.analysis.core import Analysis, LayerReport, analyze
from convcalc.errors import ConvcalcError
from convcalc.spec.expand import NET_INPUT


class BuildError(ConvcalcError):
    """A layer whose module cannot be built (no builder, or torch rejects what the analysis accepted)."""

    def __init__(self, message: str, *, layer: str, location: str | None = None,
                 cause: BaseException | None = None, unsupported: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.layer = layer
        self.location = location
        self.cause = cause
        self.unsupported = unsupported

    def __str__(self) -> str:
        where = f"{self.location}: " if self.location else ""
        return f"{where}layer '{self.layer}': {self.message}"


class LayerGroup(nn.Module):
    """Holds the layers whose dotted names share a prefix (`layer1`, `layer1.0`); it is never called.

    `group[0]` and `group["conv1"]` index it by child name, as torchvision's Sequential stages are.
    """

    def __getitem__(self, key: int | str) -> nn.Module:
        return self._modules[str(key)]  # type: ignore[return-value]

    def __len__(self) -> int:
        return len(self._modules)

    def forward(self, *args: Any) -> Any:  # pragma: no cover - a namespace, not a layer
        raise RuntimeError("a convcalc layer group is a namespace: call the whole network instead")


class ConvcalcNet(nn.Module):
    """The network of a spec: `forward(x)` runs every layer in spec order and returns the last output."""

    def __init__(self, analysis: Analysis, modules: Sequence[nn.Module]) -> None:
        super().__init__()
        self.spec_name: str = analysis.name
        self.input_shape: tuple[int, ...] = tuple(analysis.input_shape)
        final = analysis.layers[-1].name
        # Every attribute exists before the layers are placed, so no layer name can shadow one.
        self.output_name: str = final
        self._plan: tuple[tuple[str, str, tuple[str, ...], tuple[str, ...], tuple[str, ...]], ...] = ()
        self.layer_paths: dict[str, str] = {}
        self._own_state_keys: tuple[tuple[str, str], ...] = ()  # (state_dict key, parameter's path)
        paths = self.layer_paths
        for report, module in zip(analysis.layers, modules):
            paths[report.name] = self._place(report.name, module)
        last_use: dict[str, int] = {}
        for index, report in enumerate(analysis.layers):
            for name in report.inputs:
                last_use[name] = index
        plan = []
        for index, report in enumerate(analysis.layers):
            # a multi-output layer's pieces are kept as name.0, name.1, ..., the names later layers read
            pieces = tuple(f"{report.name}.{k}" for k in range(len(report.output_shapes)))
            released = {name for name in report.inputs if last_use[name] == index}
            released.update(out for out in (pieces or (report.name,)) if out not in last_use)  # read by nobody
            if report.name == final:
                released -= {report.name, *pieces}
            plan.append((report.name, paths[report.name], tuple(report.inputs), pieces, tuple(sorted(released))))
        # Plain tuples of names: the modules are looked up in the tree at each call, so replacing a
        # submodule (fine-tuning, the receptive-field probe) takes effect.
        self._plan = tuple(plan)
        # Parameters that torch models keep directly on a block (ConvNeXt's `layer_scale`) live here on
        # the layer's own module: the state_dict names them by the layer's path alone, as torch does.
        self._own_state_keys = tuple(
            (paths[r.name], f"{paths[r.name]}.{r.layer.own_state_key}")
            for r in analysis.layers if r.layer.own_state_key)
        if self._own_state_keys:
            self.register_state_dict_post_hook(_name_own_parameters)
            self.register_load_state_dict_pre_hook(_load_own_parameters)

    # -- registration --------------------------------------------------------------------------------
    def _place(self, name: str, module: nn.Module) -> str:
        parts = name.split(".")
        parent: nn.Module = self
        path: list[str] = []
        for part in parts[:-1]:
            child = parent._modules.get(part)
            if child is None:
                if not _free_slot(parent, part):
                    return self._place_flat(name, module)
                child = LayerGroup()
                parent.add_module(part, child)
            elif not isinstance(child, LayerGroup):
                return self._place_flat(name, module)  # a layer already owns this prefix
            parent = child
            path.append(part)
        leaf = parts[-1]
        if not _free_slot(parent, leaf):
            return self._place_flat(name, module)
        parent.add_module(leaf, module)
        return ".".join(path + [leaf])

    def _place_flat(self, name: str, module: nn.Module) -> str:
        key = name.replace(".", "_") or "_"
        while not _free_slot(self, key):
            key += "_"
        self.add_module(key, module)
        return key

    # -- access --------------------------------------------------------------------------------------
    def layer(self, name: str) -> nn.Module:
        """The module of the layer called `name` in the spec."""
        if name not in self.layer_paths:
            raise KeyError(f"no layer '{name}' in this network")
        return self.get_submodule(self.layer_paths[name])

    def named_layers(self) -> Iterator[tuple[str, nn.Module]]:
        """(spec name, module) for every layer, in execution order."""
        for name, path, _inputs, _pieces, _released in self._plan:
            yield name, self.get_submodule(path)

    def layer_inputs(self, name: str) -> tuple[str, ...]:
        for layer, _path, inputs, _pieces, _released in self._plan:
            if layer == name:
                return inputs
        raise KeyError(name)

    # -- execution -----------------------------------------------------------------------------------
    def forward(self, x: torch.Tensor) -> Any:
        values: dict[str, Any] = {NET_INPUT: x}
        for name, path, inputs, pieces, released in self._plan:
            out = self.get_submodule(path)(*[values[i] for i in inputs])
            if pieces:
                values.update(zip(pieces, out))
            else:
                values[name] = out
            for done in released:
                del values[done]
        if self.output_name in values:
            return values[self.output_name]
        return tuple(values[p] for p in self._plan[-1][3])  # the network ends in a multi-output layer

    def extra_repr(self) -> str:
        return f"spec={self.spec_name!r}, input_shape={list(self.input_shape)}"


def _rename_keys(state_dict: dict[str, Any], renames: Mapping[str, str]) -> None:
    """Rename keys of `state_dict` in place, keeping their order."""
    if not any(key in state_dict for key in renames):
        return
    items = [(renames.get(key, key), value) for key, value in state_dict.items()]
    state_dict.clear()
    state_dict.update(items)


def _name_own_parameters(net: ConvcalcNet, state_dict: dict[str, Any], prefix: str, _metadata: Any) -> None:
    _rename_keys(state_dict, {prefix + full: prefix + short for short, full in net._own_state_keys})


def _load_own_parameters(net: ConvcalcNet, state_dict: dict[str, Any], prefix: str, *_: Any) -> None:
    _rename_keys(state_dict, {prefix + short: prefix + full for short, full in net._own_state_keys})


def _free_slot(parent: nn.Module, key: str) -> bool:
    """Whether `key` can name a new child: not empty, no dot, and not shadowing anything of nn.Module."""
    if not key or "." in key or key in parent._modules:
        return False
    return not hasattr(parent, key)


def build_layer(report: LayerReport) -> nn.Module:
    """The module for one analysed layer, with a clear error naming the layer if that fails."""
    where = str(report.location) if report.location and report.location.line is not None else None
    try:
        module = report.layer.build()
    except NotImplementedError as exc:
        raise BuildError(str(exc) or f"{report.type} cannot be built in torch", layer=report.name,
                         location=where, cause=exc, unsupported=True) from None
    except Exception as exc:  # noqa: BLE001 - torch rejecting what the analysis accepted is a finding
        raise BuildError(f"PyTorch rejects this {report.type}: {type(exc).__name__}: {exc}",
                         layer=report.name, location=where, cause=exc) from None
    if not isinstance(module, nn.Module):
        raise BuildError(f"{report.type}.build() returned {type(module).__name__}, not a torch.nn.Module",
                         layer=report.name, location=where, unsupported=True)
    return module


def build_network(analysis: Analysis, device: torch.device | str | None = None,
                  dtype: torch.dtype | None = None) -> ConvcalcNet:
    """Build every layer and wire the graph; parameters are created directly on `device`."""
    target = torch.device(device) if device is not None else None
    # Creating parameters under a device context skips a host-side initialisation and copy (and on
    # 'meta' allocates nothing); plain CPU builds need no context, which keeps them at bare-torch speed.
    on_device = target is not None and target.type != "cpu"
    context = torch.device(target) if on_device else contextlib.nullcontext()
    with context:
        modules = [build_layer(report) for report in analysis.layers]
    net = ConvcalcNet(analysis, modules)
    if dtype is not None:
        net.to(dtype=dtype)
    return net


def build(spec: Any, input_shape: Sequence[int] | None = None, params: Mapping[str, Any] | None = None, *,
          device: torch.device | str | None = None, dtype: torch.dtype | str | None = None) -> ConvcalcNet:
    """The network of `spec` (a YAML path or string, a mapping, or an Analysis) as a torch.nn.Module.

    The module is in training mode, as every freshly built torch module is; call `.eval()` for inference.
    """
    from convcalc.torch_backend.devices import torch_dtype

    analysis = spec if isinstance(spec, Analysis) else analyze(spec, input_shape, params)
    resolved = torch_dtype(dtype) if isinstance(dtype, str) else dtype
    return build_network(analysis, device, resolved)
