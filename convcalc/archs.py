"""The built-in architectures: YAML specs shipped with convcalc, found by name.

The specs live in the repository's `specs/` folder; a wheel carries them as `convcalc/_specs/` (see
pyproject's force-include). Both places are searched, so `--arch NAME` works from a checkout, an
editable install and a plain install alike. Pure Python: nothing here imports torch.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Mapping

from convcalc.errors import SpecError
from convcalc.spec.expand import Spec, load_spec

# Other names users know these networks by (matched after normalisation, see `_key`).
ALIASES: dict[str, str] = {
    "mobilenet": "mobilenet_v1",
    "lenet": "lenet5",
    "resnext50": "resnext50_32x4d",
    "dcgan": "dcgan_generator",
    "densenet": "densenet121",
    "inception": "inception_v3",
    "inception_v1": "googlenet",
    "mobilenet_v3": "mobilenet_v3_large",
    "efficientnet": "efficientnet_b0",
    "shufflenet": "shufflenet_v2_x1_0",
    "shufflenet_v2": "shufflenet_v2_x1_0",
    "regnet": "regnet_y_400mf",
    "convnext": "convnext_tiny",
}

# The order of `convcalc archs` and the README table: roughly by date, families together.
_ORDER = ("lenet5", "alexnet", "alexnet_groups", "vgg16",
          "googlenet", "inception_v3",
          "resnet18", "resnet34", "resnet50", "resnet101", "resnet152", "resnext50_32x4d",
          "densenet121",
          "squeezenet1_1",
          "mobilenet_v1", "mobilenet_v2", "mobilenet_v3_small", "mobilenet_v3_large",
          "efficientnet_b0", "shufflenet_v2_x1_0", "regnet_y_400mf", "convnext_tiny",
          "unet", "dcgan_generator", "tcn", "c3d")


@dataclass(frozen=True)
class ArchInfo:
    name: str
    description: str
    input_shape: tuple[int, ...] | None
    path: Path
    aliases: tuple[str, ...] = ()
    paper: str = ""
    options: Mapping[str, Any] = field(default_factory=dict)  # the spec's `params:` and their defaults

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "description": self.description,
                "input_shape": list(self.input_shape) if self.input_shape else None,
                "aliases": list(self.aliases), "paper": self.paper, "options": dict(self.options),
                "path": str(self.path)}


def _key(name: str) -> str:
    """Case, dashes, underscores and spaces do not matter: ResNet-50 == resnet50, mobilenet-v2 == mobilenet_v2."""
    return re.sub(r"[^a-z0-9]", "", name.lower())


def specs_dirs(package: Path | None = None) -> list[Path]:
    """Where built-in specs are looked for: the installed package first, then a source checkout."""
    package = package or Path(__file__).resolve().parent
    candidates = [package / "_specs"]
    if (package.parent / "pyproject.toml").is_file():  # a checkout, not some site-packages/specs
        candidates.append(package.parent / "specs")
    return [d for d in candidates if d.is_dir()]


@lru_cache(maxsize=1)
def _index() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for folder in specs_dirs():
        for path in sorted(folder.glob("*.yaml")):
            found.setdefault(path.stem, path)  # the installed copy wins over a checkout's
    return found


def arch_names() -> list[str]:
    names = list(_index())
    rank = {n: i for i, n in enumerate(_ORDER)}
    return sorted(names, key=lambda n: (rank.get(n, len(rank)), n))


def _canonical(name: str) -> str:
    index = _index()
    by_key = {_key(n): n for n in index}
    key = _key(name)
    if key in by_key:
        return by_key[key]
    aliases = {_key(a): target for a, target in ALIASES.items() if target in index}
    if key in aliases:
        return aliases[key]
    if not index:
        raise SpecError(f"unknown architecture '{name}': no built-in specs were found",
                        hint=f"convcalc looked in {', '.join(str(p) for p in specs_dirs()) or 'convcalc/_specs'}; "
                        "reinstall convcalc")
    choices = sorted(set(index) | {a for a, t in ALIASES.items() if t in index})
    close = difflib.get_close_matches(name.lower(), choices, n=3, cutoff=0.5)
    hint = (f"did you mean {' or '.join(close)}? " if close else "") + "`convcalc archs` lists them all"
    raise SpecError(f"unknown architecture '{name}'", hint=hint)


def arch_path(name: str) -> Path:
    """The YAML file of a built-in architecture (case-insensitive, aliases accepted)."""
    return _index()[_canonical(name)]


def arch_source(name: str) -> str:
    """The YAML text of a built-in architecture, comments included (what `convcalc export` prints)."""
    return arch_path(name).read_text(encoding="utf-8")


def load_arch(name: str, params: Mapping[str, Any] | None = None) -> Spec:
    """Load a built-in architecture; `params` sets its options (e.g. {"alpha": 0.5, "resolution": 160})."""
    return load_spec(arch_path(name), params)


def list_archs() -> list[ArchInfo]:
    infos = []
    for name in arch_names():
        spec = load_spec(_index()[name])
        infos.append(ArchInfo(
            name=name,
            description=spec.description,
            input_shape=spec.input_shape,
            path=_index()[name],
            aliases=tuple(sorted(a for a, t in ALIASES.items() if t == name)),
            paper=_paper(spec.source),
            options=dict(spec.params),
        ))
    return infos


def _paper(source: str | None) -> str:
    if source is None:
        return ""
    from convcalc.spec.yamlload import load_yaml

    data = load_yaml(Path(source).read_text(encoding="utf-8"), source)
    paper = data.get("paper") if isinstance(data, Mapping) else None
    return str(paper) if paper else ""
