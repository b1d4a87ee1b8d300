"""Reading specs: YAML with locations, blocks and repeats expanded into a flat list of layer entries."""

from convcalc.spec.expand import LayerEntry, Spec, load_spec

__all__ = ["LayerEntry", "Spec", "load_spec"]
