"""awscli's top-level parser, shared between calls of the same shape (adapter/driver.py
`_MainParsers`), and the global arguments it is built from (`_GlobalArguments`): the same
parses as a parser of one's own, no call's objects inside it, and a parser of its own for any
call whose global arguments are not of the shape the key covers."""

from __future__ import annotations

import dataclasses
import threading
from typing import Any

import aws_mcp_server.adapter  # noqa: F401  (awscli before botocore)

# isort: split
import awscli.argparser
import awscli.arguments
import awscli.clidriver

from aws_mcp_server.adapter import cli_handlers, driver

_ARGVS = (
    ["--region", "eu-west-1", "s3", "ls"],
    ["--profile", "alt", "--output", "text", "ec2", "describe-instances"],
    ["--no-paginate", "--query", "Buckets[].Name", "s3api", "list-buckets"],
    ["--cli-read-timeout", "5", "--endpoint-url", "http://127.0.0.1:9", "sts", "get-caller-identity"],
    ["--no-sign-request", "--color", "off", "iam", "list-users"],
)


def _parse(cli: Any, argv: list[str]) -> tuple[dict[str, Any], list[str]]:
    parser = cli._create_parser(cli._get_command_table())
    parsed, rest = parser.parse_known_args(argv)
    return vars(parsed), rest


def test_calls_share_one_parser_that_parses_as_awscli_own_does() -> None:
    first, second = driver.new_driver("alt", "eu-west-1"), driver.new_driver(None, "us-east-1")
    table_one, table_two = first._get_command_table(), second._get_command_table()
    shared = first._create_parser(table_one)
    assert second._create_parser(table_two) is shared
    # Each call's own table still gets its own help command, as in awscli.
    assert table_one["help"] is not table_two["help"]
    for argv in _ARGVS:
        own = awscli.clidriver.CLIDriver._create_parser(
            driver.new_driver(), driver.new_driver()._get_command_table()
        )
        mine, rest = _parse(driver.new_driver(), argv)
        theirs, their_rest = own.parse_known_args(argv)
        assert (mine, rest) == (vars(theirs), their_rest)


def test_the_shared_parser_holds_no_call_objects() -> None:
    cli = driver.new_driver()
    parser = cli._create_parser(cli._get_command_table())
    command = next(a for a in parser._actions if a.dest == "command")
    assert command.command_table is not cli._get_command_table()
    assert set(command.command_table) == set(cli._get_command_table())
    assert all(value is None for value in command.command_table.values())


def test_a_global_argument_of_another_kind_gets_a_parser_of_its_own() -> None:
    class Extra(awscli.arguments.CustomArgument):  # type: ignore[misc]
        pass

    def add_extra(argument_table: Any, **kwargs: Any) -> None:
        argument_table["extra-flag"] = Extra("extra-flag", action="store_true")

    cli = driver.new_driver()
    cli.session.register("building-top-level-params", add_extra)
    own = cli._create_parser(cli._get_command_table())
    plain = driver.new_driver()
    assert own is not plain._create_parser(plain._get_command_table())
    assert own.parse_known_args(["--extra-flag", "s3", "ls"])[0].extra_flag is True


def test_concurrent_parses_on_the_shared_parser_do_not_mix() -> None:
    results: dict[int, Any] = {}
    errors: list[BaseException] = []

    def work(index: int) -> None:
        try:
            argv = _ARGVS[index % len(_ARGVS)]
            for _ in range(50):
                got = _parse(driver.new_driver(), argv)
                if results.setdefault(index, got) != got:
                    raise AssertionError(f"parse of {argv} changed: {got}")
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert results[0][0]["region"] == "eu-west-1" and results[1][0]["profile"] == "alt"
    assert results[5] == results[0]  # same argv, same answer, whichever thread


def test_sessions_share_the_parse_of_unchanged_config_files_never_the_dict(
    tmp_path: Any, monkeypatch: Any
) -> None:
    """The config and credentials files are parsed once per version of both (driver
    `_ParsedConfigs`); each session still gets a configuration of its own, and a changed file
    is read afresh."""
    import os

    config, keys = tmp_path / "config", tmp_path / "credentials"
    config.write_text("[default]\nregion = eu-west-1\n[profile alt]\nregion = us-west-2\n")
    keys.write_text("[default]\naws_access_key_id = AKIAONE\naws_secret_access_key = s\n")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(keys))
    first = driver.new_driver().session.full_config
    second_session = driver.new_driver("alt").session
    second = second_session.full_config
    assert first == second and first is not second
    assert first["profiles"]["default"]["region"] == "eu-west-1"
    assert first["profiles"]["default"]["aws_access_key_id"] == "AKIAONE"
    first["profiles"]["default"]["region"] = "changed-by-one-call"
    assert driver.new_driver().session.full_config["profiles"]["default"]["region"] == "eu-west-1"
    assert second_session.get_scoped_config()["region"] == "us-west-2"
    # A changed file (a new modification time) is parsed afresh.
    config.write_text("[default]\nregion = ap-south-1\n[profile alt]\nregion = us-west-2\n")
    stat = os.stat(config)
    os.utime(config, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    assert driver.new_driver().session.full_config["profiles"]["default"]["region"] == "ap-south-1"
    # Another file is another entry.
    other = tmp_path / "other-config"
    other.write_text("[default]\nregion = sa-east-1\n")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(other))
    assert driver.new_driver().session.full_config["profiles"]["default"]["region"] == "sa-east-1"


def test_a_service_parser_is_shared_by_calls_and_parses_as_awscli_own_does() -> None:
    first, second = driver.new_driver(), driver.new_driver()
    mine = first._get_command_table()["s3api"]._create_parser()
    assert second._get_command_table()["s3api"]._create_parser() is mine
    command = first._get_command_table()["s3api"]
    own = awscli.clidriver.ServiceCommand._create_parser(driver.new_driver()._get_command_table()["s3api"])
    for argv in (["list-buckets"], ["list-objects-v2", "--bucket", "b"], ["help"], ["wait", "x"]):
        assert vars(mine.parse_known_args(argv)[0]) == vars(own.parse_known_args(argv)[0])
    # The shared parser holds the operation names alone, never a call's command objects.
    action = next(a for a in mine._actions if a.dest == "operation")
    assert set(action.command_table) == set(command._get_command_table())
    assert all(value is None for value in action.command_table.values())


def test_help_commands_are_made_only_when_read() -> None:
    cli = driver.new_driver()
    table = cli._get_command_table()
    cli._create_parser(table)
    service = table["s3api"]
    operations = service._get_command_table()
    service._create_parser()
    assert "help" in table and not table.is_made("help")
    assert "help" in operations and not operations.is_made("help")
    assert type(table["help"]).__name__ == "ProviderHelpCommand"
    assert type(operations["help"]).__name__ == "ServiceHelpCommand"
    assert table.is_made("help") and operations.is_made("help")


def test_classifying_a_command_leaves_the_shared_parsers_as_awscli_built_them() -> None:
    from aws_mcp_server.decision import decide
    from aws_mcp_server.settings import Settings

    for text in ("s3api list-bucketz", "s3api list-buckets --bogus", "--bogus s3 ls"):
        assert decide(text, Settings()).plan is None
    cli = driver.new_driver()
    table = cli._get_command_table()
    for parser in (cli._create_parser(table), table["s3api"]._create_parser()):
        assert parser.exit_on_error is True
        assert "error" not in vars(parser) and "exit" not in vars(parser)


# --- an API operation's parser (driver._OperationParsers) ----------------------------------


def _operation(cli: Any, service: str, name: str) -> Any:
    return cli._get_command_table()[service]._get_command_table()[name]


def _list_buckets_with(handler: Any) -> Any:
    """`s3api list-buckets` of a call whose argument table `handler` changed first."""
    cli = driver.new_driver()
    cli.session.register("building-argument-table.s3api.list-buckets", handler)
    return _operation(cli, "s3api", "list-buckets")


def _own_parser(operation: Any) -> Any:
    """The parser awscli itself would build for this operation, help positional included."""
    parser = awscli.argparser.ArgTableArgParser(operation.arg_table)
    awscli.clidriver.ServiceOperation._add_help(operation, parser)
    return parser


def _argv_for(arg_table: Any) -> list[list[str]]:
    """A few command lines for an operation: none, help, every option with a value (a flag
    alone for booleans), and one unknown option."""
    every: list[str] = []
    for argument in arg_table.values():
        name = "--" + argument.name
        if getattr(argument, "_action", None) in ("store_true", "store_false") or (
            getattr(argument, "argument_model", None) is not None
            and argument.argument_model.type_name == "boolean"
        ):
            every.append(name)
        elif getattr(argument, "nargs", None) == "+" or getattr(argument, "_nargs", None) == "+":
            every += [name, "a", "b"]
        else:
            every += [name, "1"]
    return [[], ["help"], every, ["--no-such-option", "x"]]


def _outcome(parser: Any, argv: list[str]) -> Any:
    try:
        parsed, rest = parser.parse_known_args(list(argv))
    except BaseException as exc:  # argparse exits on a bad value: the same way for both
        return ("raised", type(exc).__name__, str(exc))
    return vars(parsed), rest


def test_operations_share_a_parser_per_spec_that_parses_as_awscli_own_does() -> None:
    """Every operation of a few services: the shared parser gives what awscli's own gives."""
    cli = driver.new_driver()
    compared = 0
    for service in ("s3api", "ec2", "iam", "dynamodb", "lambda", "sqs", "sts", "rds"):
        table = cli._get_command_table()[service]._get_command_table()
        for name in list(table):
            operation = table[name]
            if type(operation) is not awscli.clidriver.ServiceOperation:
                continue
            shared = operation._create_operation_parser(operation.arg_table)
            if not getattr(shared, driver._SHARED_PARSER, False):
                continue
            own = _own_parser(operation)
            for argv in _argv_for(operation.arg_table):
                assert _outcome(shared, argv) == _outcome(own, argv), (service, name, argv)
            compared += 1
    assert compared > 1000


def test_calls_share_the_parser_and_help_is_added_once() -> None:
    first = _operation(driver.new_driver(), "s3api", "list-objects-v2")
    second = _operation(driver.new_driver("alt", "eu-west-1"), "s3api", "list-objects-v2")
    assert type(first) is awscli.clidriver.ServiceOperation  # blocking looks at the class
    shared = first._create_operation_parser(first.arg_table)
    first._add_help(shared)
    count = len(shared._actions)
    again = second._create_operation_parser(second.arg_table)
    second._add_help(again)
    assert again is shared and len(shared._actions) == count
    assert [a.dest for a in shared._actions].count("help") == 1
    # The parser holds no call's argument objects: nothing of the first call's table in it.
    held = {id(v) for action in shared._actions for v in vars(action).values()}
    assert not held & {id(argument) for argument in first.arg_table.values()}


def test_an_argument_that_is_not_plain_gets_its_operation_a_parser_of_its_own() -> None:
    class Typed(awscli.arguments.CustomArgument):  # type: ignore[misc]
        def add_to_parser(self, parser: Any) -> None:
            parser.add_argument("--typed", type=self.convert)  # a bound method: per call

        def convert(self, value: str) -> str:
            return value.upper()

    class Grouped(awscli.arguments.CustomArgument):  # type: ignore[misc]
        def add_to_parser(self, parser: Any) -> None:
            parser.add_mutually_exclusive_group()  # not add_argument

    for kind in (Typed, Grouped):
        def add(argument_table: Any, kind: Any = kind, **kwargs: Any) -> None:
            argument_table["typed"] = kind("typed")

        operation = _list_buckets_with(add)
        assert driver.OPERATION_PARSERS.spec(operation.arg_table) is None
        parser = operation._create_operation_parser(operation.arg_table)
        assert not getattr(parser, driver._SHARED_PARSER, False)
        operation._add_help(parser)
        assert [a.dest for a in parser._actions].count("help") == 1
    plain = _operation(driver.new_driver(), "s3api", "list-buckets")
    assert getattr(plain._create_operation_parser(plain.arg_table), driver._SHARED_PARSER, False)


def test_a_changed_argument_table_gets_another_parser() -> None:
    def rename(argument_table: Any, **kwargs: Any) -> None:
        argument_table["prefix"].required = True

    plain = _operation(driver.new_driver(), "s3api", "list-buckets")
    changed = _list_buckets_with(rename)
    mine = changed._create_operation_parser(changed.arg_table)
    assert mine is not plain._create_operation_parser(plain.arg_table)
    assert _outcome(mine, [])[0] == "raised"  # --prefix is now required


def test_an_argument_with_a_mutable_default_gets_a_parser_of_its_own() -> None:
    """argparse hands the default object itself to every parse: a shared parser would hand one
    list to every call."""

    def add(argument_table: Any, **kwargs: Any) -> None:
        argument_table["tags"] = awscli.arguments.CustomArgument("tags", nargs="*", default=[])

    operation = _list_buckets_with(add)
    assert driver.OPERATION_PARSERS.spec(operation.arg_table) is None
    parser = operation._create_operation_parser(operation.arg_table)
    assert not getattr(parser, driver._SHARED_PARSER, False)


def _argument_state(argument: Any) -> dict[str, Any]:
    """Everything a global argument holds, its argument model by what it describes."""
    state = dict(vars(argument))
    model = state.pop("argument_model", None)
    if model is not None:
        state["argument_model"] = (model.name, model.type_name, dict(model.metadata))
    return state


def test_calls_share_the_global_arguments_that_awscli_would_make() -> None:
    cli_handlers.prepare()  # (what the engine does first: what awscli registers is known)
    first, second = driver.new_driver("alt", "eu-west-1"), driver.new_driver()
    table_one, table_two = first._get_argument_table(), second._get_argument_table()
    # Each call its own table (its building-top-level-params handlers edit only that), of the
    # same argument objects.
    assert table_one is not table_two
    assert list(table_one) == list(table_two)
    assert all(a is b for a, b in zip(table_one.values(), table_two.values(), strict=True))
    own = awscli.clidriver.CLIDriver._build_argument_table(driver.new_driver())
    assert list(own) == list(table_one)
    for name, argument in own.items():
        assert type(table_one[name]) is type(argument)
        assert _argument_state(table_one[name]) == _argument_state(argument), name


def test_parsing_and_help_leave_the_shared_global_arguments_unchanged() -> None:
    cli_handlers.prepare()
    cli = driver.new_driver()
    arguments = cli._get_argument_table()
    assert arguments["region"] is driver.new_driver()._get_argument_table()["region"]
    before = {name: _argument_state(argument) for name, argument in arguments.items()}
    for argv in _ARGVS:
        _parse(driver.new_driver(), argv)
    help_command = driver.new_driver().create_help_command()
    assert help_command.arg_table.keys() == arguments.keys()
    assert {name: _argument_state(a) for name, a in driver.new_driver()._get_argument_table().items()} == before


def test_other_cli_data_gets_global_arguments_of_its_own() -> None:
    cli = driver.new_driver()
    options = cli._get_cli_data()["options"]
    shared = driver.GLOBAL_ARGUMENTS.items(cli, options)
    other = driver.GLOBAL_ARGUMENTS.items(cli, dict(options))
    assert [name for name, _ in other] == [name for name, _ in shared]
    assert all(a is not b for (_, a), (_, b) in zip(other, shared, strict=True))


def test_nothing_is_shared_when_awscli_registers_on_the_global_arguments_event(
    monkeypatch: Any,
) -> None:
    plan = cli_handlers.prepare()
    changed = dataclasses.replace(plan, events=(*plan.events, "building-top-level-params"))
    monkeypatch.setattr(cli_handlers, "_plan", changed)
    first, second = driver.new_driver(), driver.new_driver()
    table_one, table_two = first._get_argument_table(), second._get_argument_table()
    assert list(table_one) == list(table_two)
    assert all(a is not b for a, b in zip(table_one.values(), table_two.values(), strict=True))
