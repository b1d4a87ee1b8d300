"""The exceptions convcalc raises, and the location they point at."""

from __future__ import annotations

from typing import NamedTuple


class Location(NamedTuple):
    """Where a value came from: a file (or None for a string/mapping) and a 1-based line and column."""

    file: str | None = None
    line: int | None = None
    column: int | None = None

    def __str__(self) -> str:
        parts = [self.file or "<spec>"]
        if self.line is not None:
            parts.append(str(self.line))
            if self.column is not None:
                parts.append(str(self.column))
        return ":".join(parts)


class ConvcalcError(Exception):
    """Base class of every error convcalc raises on purpose."""


class LayerError(ConvcalcError):
    """A layer rule rejected its arguments or input; the analysis adds the location and layer name.

    `arg` names the offending argument so the message can point at its line.
    """

    def __init__(self, message: str, *, hint: str | None = None, arg: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.arg = arg


class SpecError(ConvcalcError, ValueError):
    """An invalid spec, with everything known about where and why."""

    def __init__(
        self,
        message: str,
        *,
        location: Location | None = None,
        layer: str | None = None,
        layer_type: str | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.location = location or Location()
        self.layer = layer
        self.layer_type = layer_type
        self.hint = hint

    @property
    def file(self) -> str | None:
        return self.location.file

    @property
    def line(self) -> int | None:
        return self.location.line

    def __str__(self) -> str:
        loc = self.location
        where = str(loc) if (loc.file is not None or loc.line is not None) else ""
        who = ""
        if self.layer:
            who = f"layer '{self.layer}'" + (f" ({self.layer_type})" if self.layer_type else "") + ": "
        text = f"{where + ': ' if where else ''}{who}{self.message}"
        if self.hint:
            text += f"\n  hint: {self.hint}"
        return text

