"""Regenerate the shipped schema file and the specs' modelines.

    python -m convcalc.schema                 # rewrite convcalc/schema/convcalc-spec.schema.json
    python -m convcalc.schema --check         # exit 1 if the file is out of date
    python -m convcalc.schema --modelines specs/   # add or fix the modeline of every spec under specs/
    python -m convcalc.schema --modelines my_specs/ --schema my.schema.json   # point them elsewhere
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from convcalc.schema import MODELINE_PREFIX, SCHEMA_FILE, modeline_for, schema_text


def spec_files(paths: list[Path]) -> list[Path]:
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found += sorted(p for p in path.rglob("*") if p.suffix in (".yaml", ".yml") and p.is_file())
        else:
            found.append(path)
    return found


def with_modeline(text: str, modeline: str) -> str:
    """The spec text with `modeline` as its first line (replacing an older schema modeline)."""
    lines = text.splitlines(keepends=True)
    if lines and lines[0].startswith(MODELINE_PREFIX):
        lines = lines[1:]
    return modeline + "\n" + "".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m convcalc.schema", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="only check that the schema file is up to date")
    parser.add_argument("--modelines", nargs="+", type=Path, metavar="PATH",
                        help="spec files or folders whose first line should be the schema modeline "
                             "(only these are touched, not the schema file)")
    parser.add_argument("--schema", type=Path, default=SCHEMA_FILE,
                        help="the schema file the modelines point to (default: convcalc's own)")
    args = parser.parse_args(argv)
    status = 0
    if not args.modelines:
        text = schema_text()
        current = SCHEMA_FILE.read_text(encoding="utf-8") if SCHEMA_FILE.exists() else ""
        if args.check and current != text:
            print(f"{SCHEMA_FILE} is out of date: run `python -m convcalc.schema`", file=sys.stderr)
            status = 1
        elif current != text:
            SCHEMA_FILE.write_text(text, encoding="utf-8")
            print(f"wrote {SCHEMA_FILE}")
    for spec in spec_files(args.modelines or []):
        original = spec.read_text(encoding="utf-8")
        updated = with_modeline(original, modeline_for(spec, args.schema))
        if updated == original:
            continue
        if args.check:
            print(f"{spec}: missing or stale schema modeline", file=sys.stderr)
            status = 1
        else:
            spec.write_text(updated, encoding="utf-8")
            print(f"added the schema modeline to {spec}")
    return status


if __name__ == "__main__":
    raise SystemExit(main())
