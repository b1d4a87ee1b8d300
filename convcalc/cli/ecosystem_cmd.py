"""Commands that connect convcalc to editors, docs and shells: `schema`, `graph` and `completions`.

The shell completion scripts are generated here from the Typer app itself (commands, options, value
choices), so `convcalc completions SHELL` and the files in the repository's completions/ folder can
never disagree with the command line; a test regenerates them and compares. No torch is imported.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Annotated, Any, Callable, Optional, Union, get_args, get_origin

import typer

from convcalc.cli.app import app
from convcalc.cli.common import (
    ArchOpt,
    InputOpt,
    SetOpt,
    SourcesArg,
    arch_choices,
    complete_arch,
    complete_spec,
    load_analysis,
    user_errors,
    write_output,
)

OutputOpt = Annotated[
    Optional[Path],
    typer.Option("--output", "-o", help="Write to this file instead of standard output.", show_default=False,
                 dir_okay=False),
]


# -- convcalc schema -------------------------------------------------------------------------------


@app.command(name="schema")
def schema_command(output: OutputOpt = None) -> None:
    """The JSON Schema of the spec format, for editors (yaml-language-server) and CI validation.

    Derived from the layer registry: every layer type and its arguments. Put
    [bold]# yaml-language-server: $schema=PATH[/] on a spec's first line to get completion and checks.

    Example: [bold]convcalc schema -o convcalc-spec.schema.json[/]
    """
    from convcalc.schema import schema_text

    write_output(schema_text(), output)


# -- convcalc graph --------------------------------------------------------------------------------


class GraphFormat(str, Enum):
    mermaid = "mermaid"
    dot = "dot"


class Direction(str, Enum):
    TB = "TB"
    LR = "LR"


@app.command(name="graph")
def graph_command(
    sources: SourcesArg = None,
    arch: ArchOpt = None,
    input_text: InputOpt = None,
    sets: SetOpt = None,
    fmt: Annotated[GraphFormat, typer.Option("--format", "-f", help="Mermaid (GitHub renders it in Markdown) "
                                             "or Graphviz DOT.", case_sensitive=False)] = GraphFormat.mermaid,
    direction: Annotated[Direction, typer.Option("--direction", "-d", help="Top to bottom or left to right.",
                                                 case_sensitive=False)] = Direction.TB,
    flat: Annotated[bool, typer.Option("--flat", help="Do not box the layers of each block.")] = False,
    output: OutputOpt = None,
) -> None:
    """The network as a graph, every edge labelled with the shape of its tensor (branches and merges too).

    Example: [bold]convcalc graph --arch resnet18 --format dot | dot -Tsvg > resnet18.svg[/]
    """
    from convcalc.render.graph import RENDERERS

    with user_errors():
        analysis = load_analysis(sources, arch, input_text, sets)
    write_output(RENDERERS[fmt.value](analysis, direction=direction.value, clusters=not flat), output)


# -- completion scripts ----------------------------------------------------------------------------


class Shell(str, Enum):
    bash = "bash"
    zsh = "zsh"
    fish = "fish"


SCRIPT_NAMES = {"bash": "convcalc.bash", "zsh": "_convcalc", "fish": "convcalc.fish"}


@dataclass
class OptionInfo:
    names: list[str]  # long names first
    label: str  # what a value is called in zsh's messages
    help: str
    takes_value: bool
    values: str  # none | choices | arch | spec | file | free
    choices: list[str] = field(default_factory=list)
    repeatable: bool = False

    @property
    def longs(self) -> list[str]:
        return [n for n in self.names if n.startswith("--")]

    @property
    def shorts(self) -> list[str]:
        return [n for n in self.names if not n.startswith("--")]


@dataclass
class CommandInfo:
    name: str
    help: str
    options: list[OptionInfo]
    positional: Optional[OptionInfo] = None  # the first positional argument (values, many)
    positional_many: bool = False


_MARKUP = re.compile(r"\[/?[a-z][a-z ]*\]|\[/\]")


def _first_paragraph(text: str | None) -> str:
    """A help text's first paragraph on one line, without rich markup or the final full stop."""
    text = _MARKUP.sub("", (text or "").strip().split("\n\n")[0])
    return " ".join(text.split()).rstrip(".")


def _unwrap(annotation: Any) -> Any:
    """Optional[list[X]] -> X."""
    while get_origin(annotation) in (Union, list, tuple) or (
            type(annotation).__name__ == "UnionType"):
        args = [a for a in get_args(annotation) if a is not type(None)]
        if not args:
            break
        annotation = args[0]
    return annotation


_VALUE_COMPLETERS: dict[Callable[..., Any], str] = {complete_arch: "arch", complete_spec: "spec"}


def _param_info(param: Any, meta: Any) -> OptionInfo:
    info = getattr(meta, "default", None)
    annotation = _unwrap(getattr(meta, "annotation", None))
    completer = getattr(info, "autocompletion", None)
    choices: list[str] = []
    is_flag = bool(getattr(param, "is_flag", False)) or bool(getattr(param, "count", False))
    if is_flag:
        values = "none"
    elif completer in _VALUE_COMPLETERS:
        values = _VALUE_COMPLETERS[completer]
    elif isinstance(annotation, type) and issubclass(annotation, Enum):
        values, choices = "choices", [str(e.value) for e in annotation]
    elif isinstance(annotation, type) and issubclass(annotation, Path):
        values = "file"
    elif getattr(getattr(param, "type", None), "choices", None):
        values, choices = "choices", [str(getattr(c, "value", c)) for c in param.type.choices]
    else:
        values = "free"
    if values == "arch":
        choices = arch_choices()
    names = sorted([*param.opts, *param.secondary_opts], key=lambda n: (not n.startswith("--"), n))
    label = (param.name or "value").replace("_", " ")
    return OptionInfo(names=names, label=label, help=_first_paragraph(getattr(param, "help", "") or ""),
                      takes_value=not is_flag, values=values, choices=choices,
                      repeatable=bool(getattr(param, "multiple", False)))


def _help_option(settings: dict[str, Any]) -> OptionInfo:
    names = settings.get("help_option_names") or ["--help"]
    return OptionInfo(names=sorted(names, key=lambda n: (not n.startswith("--"), n)), label="help",
                      help="Show this message and exit", takes_value=False, values="none")


def _describe(command: Any, callback: Callable[..., Any] | None,
              settings: dict[str, Any]) -> tuple[list[OptionInfo], Optional[OptionInfo], bool]:
    from typer.utils import get_params_from_function

    metas = get_params_from_function(callback) if callback is not None else {}
    options: list[OptionInfo] = []
    positional: Optional[OptionInfo] = None
    many = False
    for param in command.params:
        if getattr(param, "hidden", False):
            continue
        info = _param_info(param, metas.get(param.name))
        if getattr(param, "param_type_name", "") == "argument":
            if positional is None:
                if info.values == "free":  # as shells do by default: a word on its own may well be a path
                    info.values = "file"
                positional, many = info, param.nargs == -1
            continue
        options.append(info)
    options.append(_help_option(settings))
    return options, positional, many


def completion_model(typer_app: typer.Typer | None = None) -> tuple[list[OptionInfo], list[CommandInfo]]:
    """The global options and every visible command of the app, as the completion scripts need them."""
    import typer.main

    typer_app = typer_app or app
    group = typer.main.get_command(typer_app)
    settings = dict(group.context_settings or {})
    root_callback = typer_app.registered_callback.callback if typer_app.registered_callback else None
    global_options, _, _ = _describe(group, root_callback, settings)
    callbacks = {}
    for registered in typer_app.registered_commands:
        name = registered.name or registered.callback.__name__.lower().replace("_", "-")
        callbacks[name] = registered.callback
    commands = []
    for name in sorted(group.commands):
        command = group.commands[name]
        if getattr(command, "hidden", False):
            continue
        options, positional, many = _describe(command, callbacks.get(name), settings)
        commands.append(CommandInfo(name=name, help=_first_paragraph(command.short_help or command.help),
                                    options=options, positional=positional, positional_many=many))
    return global_options, commands


_HEADER = ("{comment} {shell} completion for convcalc, generated from its command line by\n"
           "{comment} `python completions/generate.py` (or `convcalc completions {shell}`): do not edit.\n")


# -- bash ------------------------------------------------------------------------------------------


def _bash_words(words: list[str]) -> str:
    return " ".join(words)


def _bash_value_case(option: OptionInfo, indent: str) -> str:
    pattern = "|".join(option.names)
    if option.values in ("choices", "arch"):
        action = f'COMPREPLY=( $(compgen -W "{_bash_words(option.choices)}" -- "$cur") )'
    elif option.values == "spec":
        action = '_convcalc_specs "$cur"'
    elif option.values == "file":
        action = '_convcalc_files "$cur"'
    else:
        action = ":"  # a free value (a shape, NAME=VALUE): nothing to offer
    return f"{indent}{pattern}) {action}; return ;;"


def _bash_positional(command: CommandInfo, indent: str) -> str:
    positional = command.positional
    if positional is None:
        return f"{indent}:"
    if positional.values in ("choices", "arch"):
        return f'{indent}COMPREPLY=( $(compgen -W "{_bash_words(positional.choices)}" -- "$cur") )'
    if positional.values == "spec":
        return f'{indent}_convcalc_specs "$cur"'
    if positional.values == "file":
        return f'{indent}_convcalc_files "$cur"'
    return f"{indent}:"


def bash_script(global_options: list[OptionInfo], commands: list[CommandInfo]) -> str:
    out = [_HEADER.format(comment="#", shell="bash"),
           "# Install: `source completions/convcalc.bash` in ~/.bashrc, or copy the file to",
           "# ~/.local/share/bash-completion/completions/convcalc (loaded on demand by bash-completion).",
           "",
           "_convcalc_specs() {",
           "    # spec files (*.yaml, *.yml) and the folders that may hold them",
           "    local f IFS=$'\\n'",
           "    compopt -o filenames 2>/dev/null",
           "    for f in $(compgen -d -- \"$1\"); do COMPREPLY+=(\"$f\"); done",
           "    for f in $(compgen -f -- \"$1\"); do",
           "        case \"$f\" in *.yaml|*.yml|*.YAML|*.YML) [[ -d \"$f\" ]] || COMPREPLY+=(\"$f\") ;; esac",
           "    done",
           "}",
           "",
           "_convcalc_files() {",
           "    local f IFS=$'\\n'",
           "    compopt -o filenames 2>/dev/null",
           "    for f in $(compgen -f -- \"$1\"); do COMPREPLY+=(\"$f\"); done",
           "}",
           "",
           "_convcalc() {",
           "    local cur=\"${COMP_WORDS[COMP_CWORD]}\" prev=\"\" cmd=\"\" i",
           "    (( COMP_CWORD > 0 )) && prev=\"${COMP_WORDS[COMP_CWORD-1]}\"",
           "    # --option=value: bash splits at '=' (COMP_WORDBREAKS)",
           "    if [[ \"$cur\" == \"=\" ]]; then cur=\"\"",
           "    elif [[ \"$prev\" == \"=\" ]] && (( COMP_CWORD > 1 )); then",
           "        prev=\"${COMP_WORDS[COMP_CWORD-2]}\"",
           "    fi",
           "    for (( i = 1; i < COMP_CWORD; i++ )); do",
           "        case \"${COMP_WORDS[i]}\" in"]
    valued_globals = [n for o in global_options if o.takes_value for n in o.names]
    if valued_globals:
        out.append(f"            {'|'.join(valued_globals)}) (( i++ )) ;;")
    out += ["            -*) ;;",
            "            *) cmd=\"${COMP_WORDS[i]}\"; break ;;",
            "        esac",
            "    done",
            "    COMPREPLY=()",
            "    case \"$cmd\" in",
            "        \"\")"]
    if valued_globals:
        out.append("            case \"$prev\" in")
        out += [_bash_value_case(o, "                ") for o in global_options if o.takes_value]
        out.append("            esac")
    global_names = _bash_words([n for o in global_options for n in o.names])
    command_names = _bash_words([c.name for c in commands])
    out += ["            if [[ \"$cur\" == -* ]]; then",
            f"                COMPREPLY=( $(compgen -W \"{global_names}\" -- \"$cur\") )",
            "            else",
            f"                COMPREPLY=( $(compgen -W \"{command_names}\" -- \"$cur\") )",
            "            fi ;;"]
    for command in commands:
        out.append(f"        {command.name})")
        valued = [o for o in command.options if o.takes_value]
        if valued:
            out.append("            case \"$prev\" in")
            out += [_bash_value_case(o, "                ") for o in valued]
            out.append("            esac")
        names = [n for o in command.options for n in o.names]
        out += ["            if [[ \"$cur\" == -* ]]; then",
                f"                COMPREPLY=( $(compgen -W \"{_bash_words(names)}\" -- \"$cur\") )",
                "            else",
                _bash_positional(command, "                "),
                "            fi ;;"]
    out += ["    esac",
            "}",
            "",
            "complete -F _convcalc convcalc",
            ""]
    return "\n".join(out)


# -- zsh -------------------------------------------------------------------------------------------


def _zq(text: str) -> str:
    """Inside single quotes, for zsh."""
    return text.replace("'", "'\\''")


def _zsh_help(text: str) -> str:
    return _zq(text.replace("\\", "\\\\").replace("[", "\\[").replace("]", "\\]").replace(":", "\\:"))


def _zsh_action(option: OptionInfo) -> str:
    message = {"arch": "architecture", "spec": "spec file"}.get(option.values, option.label)
    message = message.replace(":", "\\:")
    if option.values in ("choices", "arch"):
        return f"{message}:({' '.join(option.choices)})"
    if option.values == "spec":
        return f'{message}:_files -g "*.(yaml|yml)(-.)"'
    if option.values == "file":
        return f"{message}:_files"
    return f"{message}: "


def _zsh_option(option: OptionInfo) -> str:
    description = f"[{_zsh_help(option.help)}]"
    action = f":{_zq(_zsh_action(option))}" if option.takes_value else ""
    exclusive = option.names == ["--help", "-h"] or option.names == ["--version", "-V"]
    if option.repeatable:
        prefix = "'*'"
    elif exclusive:
        prefix = "'(- *)'"
    else:
        prefix = f"'({' '.join(option.names)})'"
    if len(option.names) == 1:
        return f"{prefix[:-1]}{option.names[0]}{description}{action}'"
    return f"{prefix}{{{','.join(option.names)}}}'{description}{action}'"


def zsh_script(global_options: list[OptionInfo], commands: list[CommandInfo]) -> str:
    out = ["#compdef convcalc",
           _HEADER.format(comment="#", shell="zsh"),
           "# Install: copy this file (named _convcalc) into a folder on $fpath, e.g. ~/.zfunc with",
           "# `fpath=(~/.zfunc $fpath)` before `autoload -U compinit && compinit` in ~/.zshrc.",
           "",
           "_convcalc() {",
           "  local curcontext=\"$curcontext\" state line ret=1",
           "  typeset -A opt_args",
           "  _arguments -C \\"]
    out += [f"    {_zsh_option(o)} \\" for o in global_options]
    out += ["    '1: :->command' \\",
            "    '*:: :->args' && ret=0",
            "  case $state in",
            "    command)",
            "      local -a commands",
            "      commands=("]
    out += [f"        '{_zq(c.name)}:{_zq(c.help)}'" for c in commands]
    out += ["      )",
            "      _describe -t commands 'convcalc command' commands && ret=0",
            "      ;;",
            "    args)",
            "      curcontext=\"${curcontext%:*:*}:convcalc-$words[1]:\"",
            "      case $words[1] in"]
    for command in commands:
        out.append(f"        {command.name})")
        out.append("          _arguments \\")
        specs = [_zsh_option(o) for o in command.options]
        if command.positional is not None:
            star = "'*" if command.positional_many else "'1"
            specs.append(f"{star}:{_zq(_zsh_action(command.positional))}'")
        out += [f"            {s} \\" for s in specs[:-1]]
        out.append(f"            {specs[-1]} && ret=0")
        out.append("          ;;")
    out += ["      esac",
            "      ;;",
            "  esac",
            "  return ret",
            "}",
            "",
            "if [[ $zsh_eval_context[-1] == loadautofunc ]]; then",
            "  _convcalc \"$@\"",
            "else",
            "  compdef _convcalc convcalc",
            "fi",
            ""]
    return "\n".join(out)


# -- fish ------------------------------------------------------------------------------------------


def _fq(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _fish_values(option: OptionInfo) -> str:
    if option.values in ("choices", "arch"):
        return f" -x -a {_fq(' '.join(option.choices))}"
    if option.values == "spec":
        return " -x -a '(__fish_complete_suffix .yaml; __fish_complete_suffix .yml)'"
    if option.values == "file":
        return " -r -F"
    return " -x"


def _fish_option(condition: str, option: OptionInfo) -> str:
    names = "".join(f" -l {n[2:]}" for n in option.longs) + "".join(f" -s {n[1:]}" for n in option.shorts)
    values = _fish_values(option) if option.takes_value else ""
    return f"complete -c convcalc -n {_fq(condition)}{names}{values} -d {_fq(option.help)}"


def fish_script(global_options: list[OptionInfo], commands: list[CommandInfo]) -> str:
    names = " ".join(c.name for c in commands)
    no_command = f"not __fish_seen_subcommand_from {names}"
    out = [_HEADER.format(comment="#", shell="fish"),
           "# Install: copy this file to ~/.config/fish/completions/convcalc.fish",
           "",
           "complete -c convcalc -f",
           ""]
    out += [_fish_option(no_command, o) for o in global_options]
    out += [f"complete -c convcalc -n {_fq(no_command)} -a {c.name} -d {_fq(c.help)}" for c in commands]
    for command in commands:
        out.append("")
        condition = f"__fish_seen_subcommand_from {command.name}"
        out += [_fish_option(condition, o) for o in command.options]
        positional = command.positional
        if positional is not None and positional.values in ("choices", "arch"):
            out.append(f"complete -c convcalc -n {_fq(condition)} -a {_fq(' '.join(positional.choices))}")
        elif positional is not None and positional.values == "spec":
            out.append(f"complete -c convcalc -n {_fq(condition)} "
                       "-a '(__fish_complete_suffix .yaml; __fish_complete_suffix .yml)'")
        elif positional is not None and positional.values == "file":
            out.append(f"complete -c convcalc -n {_fq(condition)} -F")
    out.append("")
    return "\n".join(out)


GENERATORS: dict[str, Callable[[list[OptionInfo], list[CommandInfo]], str]] = {
    "bash": bash_script, "zsh": zsh_script, "fish": fish_script,
}


def completion_script(shell: str, typer_app: typer.Typer | None = None) -> str:
    global_options, commands = completion_model(typer_app)
    return GENERATORS[shell](global_options, commands)


@app.command(name="completions")
def completions_command(
    shell: Annotated[Shell, typer.Argument(help="The shell to complete in.", case_sensitive=False)],
    output: OutputOpt = None,
) -> None:
    """A completion script for bash, zsh or fish: commands, options, --arch names and spec files.

    Example: [bold]convcalc completions bash > ~/.local/share/bash-completion/completions/convcalc[/]
    """
    write_output(completion_script(shell.value), output)
