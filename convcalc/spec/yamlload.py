"""YAML loading that remembers where every mapping value came from.

Mappings load as `SpecMap` (a dict with a `marks` table: key -> Location of its value) and sequences as
`SpecList` (a list with its own `location`), so later errors can name file:line:column.
"""

from __future__ import annotations

import re
from typing import Any

import yaml

from convcalc.errors import Location, SpecError


class SpecMap(dict):  # type: ignore[type-arg]
    location: Location
    marks: dict[Any, Location]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.location = Location()
        self.marks = {}

    def where(self, key: Any) -> Location:
        return self.marks.get(key, self.location)


class SpecList(list):  # type: ignore[type-arg]
    location: Location

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.location = Location()


def _location(loader: "_Loader", node: yaml.Node) -> Location:
    mark = node.start_mark
    return Location(loader.source_name, mark.line + 1, mark.column + 1)


# libyaml parses several times faster when the wheel has it; construction stays in Python either way.
_Base: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Loader(_Base):  # type: ignore[misc,valid-type]
    source_name: str | None = None


def _construct_map(loader: _Loader, node: yaml.MappingNode) -> SpecMap:
    loader.flatten_mapping(node)
    result = SpecMap()
    result.location = _location(loader, node)
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if key in result:
            raise SpecError(
                f"duplicate key '{key}' in a mapping",
                location=_location(loader, key_node),
                hint="each key may appear once; remove or rename one of them",
            )
        result[key] = loader.construct_object(value_node, deep=True)
        result.marks[key] = _location(loader, value_node)
    return result


def _construct_seq(loader: _Loader, node: yaml.SequenceNode) -> SpecList:
    result = SpecList(loader.construct_object(child, deep=True) for child in node.value)
    result.location = _location(loader, node)
    return result


_Loader.add_constructor("tag:yaml.org,2002:map", _construct_map)
_Loader.add_constructor("tag:yaml.org,2002:seq", _construct_seq)

# YAML 1.1 reads `1e-5` as a string; users mean a float, as YAML 1.2 and Python read it.
_FLOAT = re.compile(
    r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
    |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
    |\.[0-9_]+(?:[eE][-+]?[0-9]+)?
    |[-+]?\.(?:inf|Inf|INF)
    |\.(?:nan|NaN|NAN))$""",
    re.X,
)
_Loader.yaml_implicit_resolvers = {k: list(v) for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()}
for _first in list("-+0123456789."):
    _Loader.yaml_implicit_resolvers[_first] = [
        r for r in _Loader.yaml_implicit_resolvers.get(_first, []) if r[0] != "tag:yaml.org,2002:float"
    ]
_Loader.add_implicit_resolver("tag:yaml.org,2002:float", _FLOAT, list("-+0123456789."))


def load_yaml(text: str, source_name: str | None = None) -> Any:
    """Parse one YAML document; syntax errors become SpecError with the line and column."""
    loader = _Loader(text)
    loader.source_name = source_name
    try:
        return loader.get_single_data()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        location = Location(source_name, mark.line + 1, mark.column + 1) if mark else Location(source_name)
        problem = exc.problem or exc.context or "invalid YAML"
        raise SpecError(f"invalid YAML: {problem}", location=location,
                        hint="check indentation, colons and brackets near this line") from None
    except yaml.YAMLError as exc:
        raise SpecError(f"invalid YAML: {exc}", location=Location(source_name)) from None
    finally:
        loader.dispose()
