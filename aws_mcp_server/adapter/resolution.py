"""argv -> `Resolved`, by awscli's own command table and argument parsers.

Resolution walks the same objects `aws` itself dispatches through: the main parser (global
options and the service name), each service's parser (the operation), and each command's argument
table (`ServiceOperation` for API operations, `BasicCommand` for customizations such as `s3 cp`
or `ec2 wait`). It never runs a command. The tables are built once per process on one driver and
then only read, under one lock; the argparse parsers built from them are cached per command.

Each value argparse takes from argv keeps its position (`_Tok`): `Resolved.values` is the one
model of the command line, which the guards check and the local-path rewrite edits by index.

Every argparse error becomes a `ValidationError` with a "did you mean" drawn from the real table;
argparse is never allowed to print or raise `SystemExit`.
"""

from __future__ import annotations

import argparse
import dataclasses
import difflib
import threading
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from types import MappingProxyType
from typing import Any, Literal, NoReturn

import awscli
import awscli.argparser
import awscli.clidriver
import awscli.paramfile
import jmespath  # type: ignore[import-untyped]
from awscli.customizations.arguments import (
    OverrideRequiredArgsArgument,
    QueryOutFileArgument,
)
from awscli.customizations.commands import BasicCommand
from awscli.customizations.streamingoutputarg import StreamingOutputArgument
from awscli.customizations.waiters import WaiterStateCommand

from aws_mcp_server.adapter import driver, shapes
from aws_mcp_server.errors import ValidationError
from aws_mcp_server.model import ArgValue, Resolved, ValueKind

DEFAULT_REGION = "us-east-1"
"""The region validation runs in when the command names none: endpoints are resolved, not used."""

USAGE_HINT = "Run `{path} help` for the accepted arguments."


class _ArgparseFailure(Exception):
    """What an argparse `error()` becomes instead of printing usage and exiting."""


def _raise_instead(message: str) -> NoReturn:
    raise _ArgparseFailure(message)


def _exit_instead(status: int = 0, message: str | None = None) -> NoReturn:
    raise _ArgparseFailure(message or f"argparse exit {status}")


def _quiet(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Make an awscli parser raise instead of printing to stderr and calling sys.exit."""
    parser.exit_on_error = False
    parser.error = _raise_instead  # type: ignore[method-assign]
    parser.exit = _exit_instead  # type: ignore[method-assign]
    return parser


def _custom_arg_table(command: Any) -> Any:
    """A customization's argument table as its own `__call__` builds it: the subcommand table
    first, because building that is what registers some arguments (`s3 sync`'s --delete,
    --exact-timestamps and --size-only)."""
    if not getattr(command, "_aws_mcp_full_table", False):
        command._subcommand_table = command._build_subcommand_table()
        command._arg_table = command._build_arg_table()
        command._aws_mcp_full_table = True
    return command._arg_table


class _Tables:
    """One driver's command tables, built lazily, read-only once built."""

    def __init__(self) -> None:
        # The user's config files play no part in what a command means (a broken one must not
        # stop `help` or classification).
        self.driver = driver.new_driver(user_config=False)
        self.commands: dict[str, Any] = self.driver._get_command_table()
        # A parser of its own (awscli's build, not the one calls share): `--version` is added
        # to it below. awscli's build adds the `help` command to the table.
        main = awscli.clidriver.CLIDriver._create_parser(self.driver, self.commands)
        # `--version` would print and exit inside argparse: make it a plain flag we can see.
        main.add_argument("--version", action="store_true", dest="version")
        self.main_parser = _quiet(main)
        self.global_names = sorted(a.cli_name for a in self.driver._get_argument_table().values())
        self.parsers: dict[tuple[int, bool], argparse.ArgumentParser] = {}

    def service_parser(self, command: Any) -> argparse.ArgumentParser:
        key = (id(command), False)
        parser = self.parsers.get(key)
        if parser is None:
            # A parser of its own: `_quiet` changes it, and the one calls use is shared.
            if isinstance(command, awscli.clidriver.ServiceCommand):
                parser = _quiet(awscli.clidriver.ServiceCommand._create_parser(command))
            else:
                parser = _quiet(command._create_parser())
            self.parsers[key] = parser
        return parser

    def operation_parser(self, command: Any, relaxed: bool) -> argparse.ArgumentParser:
        def build(table: Any) -> argparse.ArgumentParser:
            parser: argparse.ArgumentParser = awscli.argparser.ArgTableArgParser(table)
            command._add_help(parser)
            return parser

        return self._table_parser(command, command.arg_table, relaxed, build)

    def basic_parser(self, command: Any, relaxed: bool) -> argparse.ArgumentParser:
        def build(table: Any) -> argparse.ArgumentParser:
            parser: argparse.ArgumentParser = awscli.argparser.ArgTableArgParser(
                table, command.subcommand_table
            )
            return parser

        return self._table_parser(command, _custom_arg_table(command), relaxed, build)

    def _table_parser(
        self,
        command: Any,
        table: Any,
        relaxed: bool,
        build: Callable[[Any], argparse.ArgumentParser],
    ) -> argparse.ArgumentParser:
        key = (id(command), relaxed)
        parser = self.parsers.get(key)
        if parser is None:
            saved = {name: arg.required for name, arg in table.items()}
            if relaxed:
                # What awscli's `before-building-argument-table-parser` handlers do for
                # --cli-input-json / --generate-cli-skeleton, without leaving it changed.
                for arg in table.values():
                    arg.required = False
            try:
                parser = build(table)
            finally:
                for name, arg in table.items():
                    arg.required = saved[name]
            parser = _quiet(parser)
            self.parsers[key] = parser
        return parser


_lock = threading.RLock()
_tables: _Tables | None = None


def _get_tables() -> _Tables:
    global _tables
    if _tables is None:
        _tables = _Tables()
    return _tables


def service_names() -> list[str]:
    """Every top-level command name in the installed awscli (services and customizations)."""
    with _lock:
        return [name for name in _get_tables().commands if name != "help"]


def command_table(path: Sequence[str]) -> dict[str, Any]:
    """The sub-command table under a command path (`()` for the top level). For tests and sweeps."""
    with _lock:
        tables = _get_tables()
        table: dict[str, Any] = tables.commands
        for word in path:
            command = table[word]
            if isinstance(command, awscli.clidriver.ServiceCommand):
                table = command._get_command_table()
            elif isinstance(command, BasicCommand):
                table = command.subcommand_table
            else:
                return {}
        return {name: cmd for name, cmd in table.items() if name != "help"}


def _suggest(word: str, choices: Iterable[str]) -> list[str]:
    return difflib.get_close_matches(word, list(choices), n=3, cutoff=0.6)


def _did_you_mean(word: str, choices: Iterable[str]) -> str:
    close = _suggest(word, choices)
    if not close:
        return ""
    return "Did you mean " + " or ".join(f"`{c}`" for c in close) + "?"


def _option_error(path: Sequence[str], unknown: Sequence[str], names: Iterable[str]) -> NoReturn:
    known = sorted(set(names))
    options = [t for t in unknown if t.startswith("--")]
    hints = []
    for token in options:
        hint = _did_you_mean(token.split("=", 1)[0], known)
        if hint:
            hints.append(f"{token}: {hint}")
    joined = " ".join(path)
    if options:
        message = f"unknown option{'s' if len(options) > 1 else ''} for `{joined}`: " + ", ".join(
            options
        )
    else:
        plural = "s" if len(unknown) > 1 else ""
        message = f"unexpected argument{plural} for `{joined}`: " + ", ".join(map(repr, unknown))
    fix = " ".join(hints) if hints else USAGE_HINT.format(path=joined)
    raise ValidationError(message, rule="validation:unknown-option", fix=fix)


def _argparse_error(path: Sequence[str], exc: BaseException, names: Iterable[str]) -> NoReturn:
    text = exc.message if isinstance(exc, argparse.ArgumentError) else str(exc)
    joined = " ".join(path) or "aws"
    first = text.strip().splitlines()[0] if text.strip() else "invalid arguments"
    if "required" in first:
        rule = "validation:missing-argument"
        message = f"`{joined}`: {first}"
    elif first.startswith("Invalid choice") or "invalid choice" in first:
        rule = "validation:bad-choice"
        choices = [
            c.strip()
            for line in text.strip().splitlines()[1:]
            if "|" in line or (line.strip() and not line.strip().startswith(("*", "Invalid")))
            for c in line.split("|")
            if c.strip()
        ]
        option = exc.argument_name if isinstance(exc, argparse.ArgumentError) else None
        message = f"`{joined}`: invalid choice for {option or 'an option'}"
        if choices:
            message += "; valid choices are " + ", ".join(choices)
    elif "expected" in first:
        rule = "validation:missing-value"
        message = f"`{joined}`: {first}"
    else:
        rule = "validation:arguments"
        message = f"`{joined}`: {first}"
    hint = ""
    if isinstance(exc, argparse.ArgumentError) and exc.argument_name:
        hint = f"(option {exc.argument_name}) "
    usage = USAGE_HINT.format(path=" ".join(path)) if path else "Run `help` for global options."
    raise ValidationError(message, rule=rule, fix=hint + usage)


def _parse(
    parser: argparse.ArgumentParser, args: list[str], path: Sequence[str], names: Iterable[str]
) -> tuple[argparse.Namespace, list[str]]:
    try:
        parsed, remaining = parser.parse_known_args(args)
    except (_ArgparseFailure, argparse.ArgumentError) as exc:
        _argparse_error(path, exc, names)
    _refuse_empty_values(parser, parsed, path)
    return parsed, remaining


def _refuse_empty_values(
    parser: argparse.ArgumentParser, parsed: argparse.Namespace, path: Sequence[str]
) -> None:
    """An option given with no value parses to an empty list, which awscli then sends as one:
    `ec2 describe-instances --instance-ids` would describe every instance, not the ones meant."""
    for action in parser._actions:
        value = getattr(parsed, action.dest, None)
        if value == [] and action.default != [] and action.option_strings:
            option = max(action.option_strings, key=len)
            raise ValidationError(
                f"`{' '.join(path)}`: {option} is given without a value",
                rule="validation:missing-value",
                fix=f"Give {option} one or more values, or leave it out.",
            )


def _relaxed(table: Any, args: Sequence[str]) -> bool:
    """True when an argument that lifts `required` is on the command line (--cli-input-json...)."""
    for arg in table.values():
        if isinstance(arg, OverrideRequiredArgsArgument) and "--" + arg.name in args:
            if arg.name == "generate-cli-skeleton":
                at = list(args).index("--generate-cli-skeleton")
                if at + 1 < len(args) and args[at + 1] == "output":
                    continue
            return True
    return False


def _values(parsed: argparse.Namespace, skip: Iterable[str] = ()) -> dict[str, object]:
    skipped = set(skip)
    return {k: v for k, v in vars(parsed).items() if v is not None and k not in skipped}


def _positionals(table: Any, parsed: argparse.Namespace) -> tuple[str, ...]:
    found: list[str] = []
    for arg in table.values():
        if getattr(arg, "positional_arg", False):
            value = getattr(parsed, arg.cli_name, None)
            if isinstance(value, list):
                found.extend(str(v) for v in value)
            elif value is not None:
                found.append(str(value))
    return tuple(found)


def _output_files(table: Any, parsed: argparse.Namespace) -> tuple[str, ...]:
    """Local paths the command's outfile-type arguments would write."""
    found: list[str] = []
    for arg in table.values():
        writes = isinstance(arg, StreamingOutputArgument | QueryOutFileArgument) or (
            arg.name.endswith("outfile")
        )
        if not writes:
            continue
        dest = arg.cli_name if getattr(arg, "positional_arg", False) else arg.py_name
        dest = getattr(arg, "_dest", None) or dest
        value = getattr(parsed, dest, None)
        if isinstance(value, str):
            found.append(value)
    return tuple(found)


def _signing_name(service_model: Any) -> str | None:
    metadata = service_model.metadata
    name = metadata.get("signingName") or metadata.get("endpointPrefix")
    return str(name) if name else None


class _Tok(str):
    """A command-line word that remembers where it stood in argv.

    argparse hands the very objects it was given to the namespace (awscli's `type=str`
    conversions keep them too, through `__str__`), and splits `--option=value` with
    `str.split`: so every parsed value can say which word of argv it came from.
    """

    pos: int
    inline: bool

    def __new__(cls, text: str, index: int, inline: bool = False) -> _Tok:
        tok = super().__new__(cls, text)
        tok.pos = index
        tok.inline = inline
        return tok

    def __str__(self) -> str:
        return self

    def split(self, sep: str | None = None, maxsplit: int = -1) -> list[str]:  # type: ignore[override]
        parts = str.split(self, sep, maxsplit)
        if sep == "=" and len(parts) == 2:
            return [_Tok(parts[0], self.pos), _Tok(parts[1], self.pos, inline=True)]
        return parts

    def partition(self, sep: str) -> tuple[str, str, str]:
        head, found, tail = str.partition(self, sep)
        if sep == "=" and found:
            return _Tok(head, self.pos), found, _Tok(tail, self.pos, inline=True)
        return head, found, tail


def _plain(value: Any) -> Any:
    """`value` with every `_Tok` turned back into a plain str (lists and tuples walked)."""
    if isinstance(value, _Tok):
        return str.__add__(value, "")
    if isinstance(value, list):
        return [_plain(item) for item in value]
    if isinstance(value, tuple):
        return tuple(_plain(item) for item in value)
    return value


_collected: list[ArgValue] = []
"""The values of the resolution running now (resolution runs under `_lock`)."""

_reached: list[list[str]] = []
"""The command words the resolution running now has identified so far."""

_OUTFILE_ARGUMENTS = (
    "StreamingOutputArgument",
    "S3SelectStreamOutputArgument",
    "QueryOutFileArgument",
    "FileArgument",
)


def _kind(argument: Any, qualifier: str) -> ValueKind:
    """What awscli does with the value of `argument` (see `model.ValueKind`)."""
    if argument is None:
        return "value"
    name = str(getattr(argument, "name", ""))
    if type(argument).__name__ in _OUTFILE_ARGUMENTS or name.endswith("outfile"):
        return "outfile"
    model = getattr(argument, "argument_model", None)
    if (
        model is not None
        and getattr(model, "type_name", None) == "blob"
        and getattr(model, "serialization", {}).get("streaming")
    ):
        return "streaming-input"
    if getattr(argument, "no_paramfile", None) or f"{qualifier}.{name}" in (
        awscli.paramfile.PARAMFILE_DISABLED
    ):
        return "url-text"
    return "value"


def _words(
    value: Any, option: str | None, options: dict[str, Any]
) -> Iterator[tuple[_Tok, str | None]]:
    """The argv words in a parsed value, each with the option it belongs to. Some awscli
    actions store the option string with the value (`s3 cp --exclude X` keeps
    `[["--exclude", "X"]]` under one dest shared with `--include`): such a word names the option
    of the words after it and is not a value itself."""
    if isinstance(value, _Tok):
        yield value, option
    elif isinstance(value, list | tuple):
        current = option
        for item in value:
            action = options.get(item) if isinstance(item, str) else None
            if action is not None:
                longs = [o for o in action.option_strings if o.startswith("--")]
                current = max(longs, key=len)[2:] if longs else current
                continue
            yield from _words(item, current, options)


_NOT_VALUES = frozenset({"help", "command", "operation", "subcommand", argparse.SUPPRESS})


def _collect(
    parser: argparse.ArgumentParser,
    parsed: argparse.Namespace,
    scope: Literal["global", "command"],
    table: Any = None,
    qualifier: str = "",
) -> None:
    """Record every value `parser` took from argv, with its option, position and kind."""
    by_name: dict[str, Any] = {}
    for argument in (table or {}).values():
        by_name[str(getattr(argument, "cli_name", ""))] = argument
        by_name.setdefault(str(getattr(argument, "name", "")), argument)
    seen: set[str] = set()
    for action in parser._actions:
        if action.dest in _NOT_VALUES or action.dest in seen:
            continue
        seen.add(action.dest)  # actions may share a dest (s3's --include and --exclude)
        longs = [o for o in action.option_strings if o.startswith("--")]
        option = max(longs, key=len)[2:] if longs else None
        for word, owner in _words(
            getattr(parsed, action.dest, None), option, parser._option_string_actions
        ):
            key = f"--{owner}" if owner is not None else action.dest
            argument = by_name.get(key) or by_name.get(action.dest)
            kind = _kind(argument, qualifier) if scope == "command" else "value"
            _collected.append(
                ArgValue(
                    index=word.pos,
                    text=str.__add__(word, ""),
                    option=owner,
                    dest=action.dest,
                    inline=word.inline,
                    scope=scope,
                    kind=kind,
                )
            )


def _plain_resolved(resolved: Resolved) -> Resolved:
    return dataclasses.replace(
        resolved,
        argv=tuple(_plain(list(resolved.argv))),
        service=_plain(resolved.service),
        operation=_plain(resolved.operation),
        command_path=tuple(_plain(list(resolved.command_path))),
        global_options=MappingProxyType(
            {key: _plain(value) for key, value in resolved.global_options.items()}
        ),
        arguments=MappingProxyType(
            {key: _plain(value) for key, value in resolved.arguments.items()}
        ),
        positionals=tuple(_plain(list(resolved.positionals))),
        output_files=tuple(_plain(list(resolved.output_files))),
        values=tuple(sorted(_collected, key=lambda value: value.index)),
    )


def resolve(argv: Sequence[str]) -> Resolved:
    """What awscli would dispatch `aws <argv>` to, with its parsed options. Never runs anything.

    Raises `ValidationError` for an unknown service, operation or option, a missing required
    argument, a bad choice or a bad `--query`.
    """
    args = list(argv)
    if not args:
        raise ValidationError(
            "no command given",
            rule="validation:empty",
            fix="Write a command such as `s3 ls` or `ec2 describe-instances`.",
        )
    with _lock:
        tables = _get_tables()
        _collected.clear()
        _reached.clear()
        try:
            resolved = _resolve(tables, tuple(_Tok(word, i) for i, word in enumerate(args)))
            return _with_objects(tables, _plain_resolved(resolved))
        except ValidationError as err:
            # How far it got: a blocked command is refused as blocked, not for a missing option.
            err.command_path = tuple(_plain(_reached[0])) if _reached else ()
            raise
        finally:
            _collected.clear()
            _reached.clear()


def qualname(obj: Any) -> str:
    cls = type(obj)
    return f"{cls.__module__}.{cls.__qualname__}"


def _with_objects(tables: _Tables, resolved: Resolved) -> Resolved:
    """`resolved` with the classes of the command objects along its path and the options of the
    last one: what awscli will dispatch to, found by walking the same tables it walks."""
    table: dict[str, Any] = tables.commands
    classes: list[str] = []
    command: Any = None
    for word in resolved.command_path:
        if word == "help" or word not in table:
            break
        command = table[word]
        classes.append(qualname(command))
        if isinstance(command, awscli.clidriver.ServiceCommand):
            table = command._get_command_table()
        elif isinstance(command, BasicCommand):
            table = command.subcommand_table
        else:
            table = {}
    options: frozenset[str] = frozenset()
    if isinstance(command, awscli.clidriver.ServiceOperation):
        options = frozenset(command.arg_table)
    elif isinstance(command, BasicCommand):
        options = frozenset(_custom_arg_table(command))
    return dataclasses.replace(resolved, command_classes=tuple(classes), options=options)


def _resolve(tables: _Tables, argv: tuple[str, ...]) -> Resolved:
    try:
        parsed_globals, remaining = tables.main_parser.parse_known_args(list(argv))
    except (_ArgparseFailure, argparse.ArgumentError) as exc:
        text = exc.message if isinstance(exc, argparse.ArgumentError) else str(exc)
        if "--version" in argv and "required" in text:
            return Resolved(
                argv=argv,
                service="",
                global_options=MappingProxyType({"version": True}),
            )
        if isinstance(exc, argparse.ArgumentError) and exc.argument_name in (None, "command"):
            word = next((a for a in argv if not a.startswith("-")), argv[0])
            raise ValidationError(
                f"unknown command {word!r}: not an AWS CLI service",
                rule="validation:unknown-service",
                fix=_did_you_mean(word, tables.commands) or "Run `help` for the list of services.",
            ) from None
        if "required" in text:
            raise ValidationError(
                "no service named: a command starts with a service such as `s3` or `ec2`",
                rule="validation:missing-service",
                fix="Write the service and operation, e.g. `sts get-caller-identity`.",
            ) from None
        _argparse_error((), exc, tables.global_names)

    _collect(tables.main_parser, parsed_globals, "global")
    globals_ = vars(parsed_globals).copy()
    service = globals_.pop("command")
    query = globals_.get("query")
    if query is not None:
        try:
            with warnings.catch_warnings():
                # jmespath warns about the legacy `literal` syntax awscli accepts; under the
                # resolution lock, so no other thread's warning filters are disturbed.
                warnings.simplefilter("ignore")
                jmespath.compile(query)
        except Exception as exc:
            raise ValidationError(
                f"bad --query {query!r}: {exc}".splitlines()[0],
                rule="validation:query",
                fix="--query takes a JMESPath expression, e.g. 'Reservations[].Instances[].State'.",
            ) from None
    global_options = MappingProxyType(globals_)
    command = tables.commands[service]
    path: list[str] = [service]
    _reached[:] = [path]  # the same list, as later words are appended to it

    if service == "help":
        if remaining:
            _option_error(path, remaining, tables.global_names)
        return Resolved(
            argv=argv,
            service="help",
            command_path=("help",),
            is_help=True,
            global_options=global_options,
        )

    if isinstance(command, awscli.clidriver.ServiceCommand):
        service_model = command._get_service_model()
        botocore_service = service_model.service_name
        signing_name = _signing_name(service_model)
        operations = command._get_command_table()
        parser = tables.service_parser(command)
        try:
            parsed, rest = parser.parse_known_args(remaining)
        except (_ArgparseFailure, argparse.ArgumentError) as exc:
            text = exc.message if isinstance(exc, argparse.ArgumentError) else str(exc)
            if "required" in text:
                raise ValidationError(
                    f"`{service}` needs an operation",
                    rule="validation:missing-operation",
                    fix=f"Run `{service} help` for its operations.",
                ) from None
            word = next((a for a in remaining if not a.startswith("-")), "")
            raise ValidationError(
                f"unknown operation {word!r} for service `{service}`",
                rule="validation:unknown-operation",
                fix=_did_you_mean(word, [o for o in operations if o != "help"])
                or f"Run `{service} help` for its operations.",
            ) from None
        op_name = parsed.operation
        path.append(op_name)
        op = operations[op_name]
        if op_name == "help":
            if rest:
                _option_error(path, rest, tables.global_names)
            return Resolved(
                argv=argv,
                service=service,
                botocore_service=botocore_service,
                command_path=tuple(path),
                is_help=True,
                global_options=global_options,
                signing_name=signing_name,
            )
        return _resolve_command(
            tables,
            argv,
            op,
            rest,
            path,
            service,
            op_name,
            botocore_service,
            signing_name,
            global_options,
        )

    return _resolve_command(
        tables, argv, command, remaining, path, service, None, None, None, global_options
    )


def _resolve_command(
    tables: _Tables,
    argv: tuple[str, ...],
    command: Any,
    args: list[str],
    path: list[str],
    service: str,
    operation: str | None,
    botocore_service: str | None,
    signing_name: str | None,
    global_options: MappingProxyType[str, object],
) -> Resolved:
    is_custom = False
    while True:
        if isinstance(command, awscli.clidriver.ServiceOperation):
            table = command.arg_table
            parser = tables.operation_parser(command, _relaxed(table, args))
            names = [a.cli_name for a in table.values()] + tables.global_names
            parsed, rest = _parse(parser, args, path, names)
            # awscli names an operation's load-cli-arg events by the endpoint prefix.
            prefix = command._operation_model.service_model.endpoint_prefix
            _collect(parser, parsed, "command", table, f"{prefix}.{path[-1]}")
            help_word = getattr(parsed, "help", None)
            model = command._operation_model
            is_waiter = isinstance(command, WaiterStateCommand)
            common: dict[str, Any] = {
                "argv": argv,
                "service": service,
                "botocore_service": botocore_service or model.service_model.service_name,
                "operation": operation or path[-1],
                "operation_name": model.name,
                "command_path": tuple(path),
                "is_custom": is_custom or is_waiter,
                "global_options": global_options,
                "readonly_trait": _readonly_trait(model),
                "signing_name": signing_name or _signing_name(model.service_model),
                "facts": shapes.operation_facts(model),
            }
            if help_word == "help":
                return Resolved(**common, is_help=True)
            if help_word is not None:
                rest.append(help_word)
            if rest:
                _option_error(path, rest, names)
            return Resolved(
                **common,
                arguments=MappingProxyType(_values(parsed, skip=("help",))),
                positionals=_positionals(table, parsed),
                output_files=_output_files(table, parsed),
            )
        if isinstance(command, BasicCommand):
            is_custom = True
            table = _custom_arg_table(command)
            subcommands = command.subcommand_table
            if args == ["help"]:
                return Resolved(
                    argv=argv,
                    service=service,
                    botocore_service=botocore_service,
                    operation=operation,
                    command_path=tuple(path),
                    is_custom=True,
                    is_help=True,
                    global_options=global_options,
                    signing_name=signing_name,
                )
            parser = tables.basic_parser(command, _relaxed(table, args))
            names = [a.cli_name for a in table.values()] + tables.global_names
            try:
                parsed, rest = parser.parse_known_args(args)
                _refuse_empty_values(parser, parsed, path)
                _collect(parser, parsed, "command", table, f"custom.{command.name}")
            except (_ArgparseFailure, argparse.ArgumentError) as exc:
                if (
                    isinstance(exc, argparse.ArgumentError)
                    and exc.argument_name == "subcommand"
                    and subcommands
                ):
                    word = next((a for a in args if not a.startswith("-")), "")
                    joined = " ".join(path)
                    raise ValidationError(
                        f"unknown sub-command {word!r} for `{joined}`",
                        rule="validation:unknown-operation",
                        fix=_did_you_mean(word, subcommands)
                        or f"Run `{joined} help` for its sub-commands.",
                    ) from None
                _argparse_error(path, exc, names)
            sub = getattr(parsed, "subcommand", None)
            if sub is not None:
                path.append(sub)
                command = subcommands[sub]
                args = rest
                if operation is None:
                    operation = sub
                continue
            if subcommands and not table:
                joined = " ".join(path)
                raise ValidationError(
                    f"`{joined}` needs a sub-command",
                    rule="validation:missing-operation",
                    fix=f"Run `{joined} help` for its sub-commands.",
                )
            if rest:
                _option_error(path, rest, names)
            return Resolved(
                argv=argv,
                service=service,
                botocore_service=botocore_service,
                operation=operation if operation is not None else None,
                command_path=tuple(path),
                is_custom=True,
                global_options=global_options,
                arguments=MappingProxyType(_values(parsed, skip=("subcommand",))),
                positionals=_positionals(table, parsed),
                output_files=_output_files(table, parsed),
                signing_name=signing_name,
            )
        # Anything else in the table (a preview stub, a help command object) has no arguments
        # we can parse; it is resolved by name only.
        return Resolved(
            argv=argv,
            service=service,
            botocore_service=botocore_service,
            operation=operation,
            command_path=tuple(path),
            is_custom=True,
            global_options=global_options,
            positionals=tuple(args),
            signing_name=signing_name,
        )


def _readonly_trait(model: Any) -> bool | None:
    value = model._operation_model.get("readonly")
    return None if value is None else bool(value)


# --- the whole table ---------------------------------------------------------------------------


def iter_commands() -> Iterator[Resolved]:
    """Every command awscli knows, as a `Resolved` with no arguments: each API operation of each
    service and each customization's command path (waiter states included). For sweeps and docs.
    Builds every service's command table on first use (seconds); later calls reuse them."""
    with _lock:
        tables = _get_tables()
        commands = [(name, cmd) for name, cmd in tables.commands.items() if name != "help"]
    for service, command in commands:
        with _lock:
            found = list(_iter_under(service, command))
        yield from found


def _iter_under(service: str, command: Any) -> Iterator[Resolved]:
    if isinstance(command, awscli.clidriver.ServiceCommand):
        model = command._get_service_model()
        signing = _signing_name(model)
        for name, op in command._get_command_table().items():
            if name == "help":
                continue
            yield from _iter_command(service, op, (service, name), model.service_name, signing)
    else:
        yield from _iter_command(service, command, (service,), None, None)


def _iter_command(
    service: str,
    command: Any,
    path: tuple[str, ...],
    botocore_service: str | None,
    signing: str | None,
) -> Iterator[Resolved]:
    if isinstance(command, awscli.clidriver.ServiceOperation):
        model = command._operation_model
        yield Resolved(
            argv=path,
            service=service,
            botocore_service=model.service_model.service_name,
            operation=path[1] if len(path) > 1 else None,
            operation_name=model.name,
            command_path=path,
            is_custom=len(path) > 2 or isinstance(command, WaiterStateCommand),
            readonly_trait=_readonly_trait(model),
            signing_name=signing or _signing_name(model.service_model),
            facts=shapes.operation_facts(model),
        )
    elif isinstance(command, BasicCommand):
        subcommands = command.subcommand_table
        if not subcommands or _custom_arg_table(command):
            yield Resolved(
                argv=path,
                service=service,
                botocore_service=botocore_service,
                operation=path[1] if len(path) > 1 else None,
                command_path=path,
                is_custom=True,
                signing_name=signing,
            )
        for name, sub in subcommands.items():
            yield from _iter_command(service, sub, (*path, name), botocore_service, signing)


def iter_command_objects() -> Iterator[tuple[tuple[str, ...], Any]]:
    """Every command path awscli knows with the command object at its end (customizations,
    the commands they inject under other commands, services, operations and waiters)."""
    with _lock:
        tables = _get_tables()
        top = [(name, cmd) for name, cmd in tables.commands.items() if name != "help"]

    def walk(path: tuple[str, ...], command: Any) -> Iterator[tuple[tuple[str, ...], Any]]:
        yield path, command
        if isinstance(command, awscli.clidriver.ServiceCommand):
            table = command._get_command_table()
        elif isinstance(command, BasicCommand):
            _custom_arg_table(command)
            table = command.subcommand_table
        else:
            return
        for name, sub in table.items():
            if name != "help":
                yield from walk((*path, name), sub)

    for name, command in top:
        with _lock:
            found = list(walk((name,), command))
        yield from found


def lookup(path: Sequence[str]) -> Any:
    """The command object at a command path."""
    with _lock:
        table = _get_tables().commands
        command: Any = None
        for word in path:
            command = table[word]
            if isinstance(command, awscli.clidriver.ServiceCommand):
                table = command._get_command_table()
            elif isinstance(command, BasicCommand):
                table = command.subcommand_table
        return command
