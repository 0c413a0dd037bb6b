"""Command tables made as they are read (adapter/driver.py `LazyTable`): the same names in the
same order as awscli's own tables, the same command in every entry, and only what a call reads
is made."""

from __future__ import annotations

import gc
from collections import OrderedDict
from typing import Any

import aws_mcp_server.adapter  # noqa: F401  (awscli before botocore)

# isort: split
import awscli.clidriver

from aws_mcp_server.adapter import driver


def _stock_main_table(cli: Any) -> OrderedDict[str, Any]:
    """The top-level table as awscli builds it: every ServiceCommand made up front."""
    table: OrderedDict[str, Any] = OrderedDict()
    for name in cli.session.get_available_services():
        table[name] = awscli.clidriver.ServiceCommand(
            cli_name=name, session=cli.session, service_name=name
        )
    cli.session.emit(
        "building-command-table.main", command_table=table, session=cli.session,
        command_object=cli,
    )
    return table


def _describe(command: Any) -> tuple[Any, ...]:
    model = getattr(command, "_operation_model", None)
    # Classes by name (awscli's preview customization makes a class per table), ours left out.
    classes = [c.__qualname__ for c in type(command).__mro__ if c is not driver._LazyServiceCommand]
    return (classes, command.name, tuple(command.lineage_names), getattr(model, "name", None))


def test_every_table_lists_and_makes_what_awscli_would() -> None:
    ours = driver.new_driver(user_config=False)
    stock = driver.new_driver(user_config=False)
    lazy, eager = ours._get_command_table(), _stock_main_table(stock)
    assert isinstance(lazy, driver.LazyTable)
    assert list(lazy) == list(eager)
    operations = 0
    for name in eager:
        mine, theirs = lazy[name], eager[name]
        assert _describe(mine) == _describe(theirs), name
        if not isinstance(theirs, awscli.clidriver.ServiceCommand):
            continue
        # The stock build of the same service's table, on the stock side's own command.
        their_table = awscli.clidriver.ServiceCommand._create_command_table(theirs)
        my_table = mine._get_command_table()
        assert isinstance(my_table, driver.LazyTable)
        assert list(my_table) == list(their_table), name
        for operation in their_table:
            assert _describe(my_table[operation]) == _describe(their_table[operation]), (
                name, operation,
            )
            operations += 1
    assert len(eager) > 400
    assert operations > 15_000


def test_a_lookup_makes_one_entry_and_customizations_still_apply() -> None:
    cli = driver.new_driver(user_config=False)
    table = cli._get_command_table()
    # awscli's own customizations replaced entries while the table was built.
    assert table.is_made("s3")
    assert type(table["s3"]).__module__.startswith("awscli.customizations")
    assert not table.is_made("ec2")
    s3api = table["s3api"]
    assert table.is_made("s3api") and not table.is_made("ec2")
    operations = s3api._get_command_table()
    list_buckets = operations["list-buckets"]
    assert isinstance(list_buckets, awscli.clidriver.ServiceOperation)
    assert list_buckets.lineage_names == ["s3api", "list-buckets"]
    assert operations.is_made("list-buckets") and not operations.is_made("list-objects-v2")
    # Reading the same entry twice gives the same object, as a dict would.
    assert operations["list-buckets"] is list_buckets
    # And the mapping behaves as the dict it stands in for.
    assert "list-objects-v2" in operations and "no-such-operation" not in operations
    assert operations.get("no-such-operation") is None
    del operations["list-objects-v2"]
    assert "list-objects-v2" not in operations
    operations["extra"] = list_buckets
    assert list(operations)[-1] == "extra"


def test_a_driver_leaves_no_command_objects_to_the_garbage_collector() -> None:
    def one() -> None:
        cli = driver.new_driver(user_config=False)
        assert cli._get_command_table()["s3api"]._get_command_table()["list-buckets"].arg_table

    one()
    gc.collect()
    gc.disable()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        one()
        gc.collect()
        commands = [
            o for o in gc.garbage
            if isinstance(o, (awscli.clidriver.ServiceCommand, awscli.clidriver.ServiceOperation))
        ]
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.enable()
    # The service and the operation the call read, and the few entries awscli's customizations
    # read while the table was built (awscli made ~430 services and ~100 operations).
    assert 2 <= len(commands) <= 16, [c.name for c in commands]


def _preview_of(cli: Any) -> Any:
    """What awscli's own preview marking puts in a stock table for `sdb`."""
    return _stock_main_table(cli)["sdb"]


def test_a_service_in_preview_is_marked_when_read_as_awscli_marks_it(
    tmp_path: Any, monkeypatch: Any
) -> None:
    cli = driver.new_driver()
    table = cli._get_command_table()
    cli._create_parser(table)
    # Building the table made no preview command and parsed no config file.
    assert not table.is_made("sdb")
    assert cli.session._config is None
    mine, theirs = table["sdb"], _preview_of(driver.new_driver())
    assert _describe(mine) == _describe(theirs)
    assert type(mine).__module__ == type(theirs).__module__
    assert mine._is_enabled is theirs._is_enabled is False
    # Made once per command class, not once per call.
    assert type(driver.new_driver()._get_command_table()["sdb"]) is type(mine)
    # The config file's [preview] section is read when the command is read, as awscli reads it.
    config = tmp_path / "config"
    config.write_text("[preview]\nsdb = true\n")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    enabled = driver.new_driver()._get_command_table()["sdb"]
    assert enabled._is_enabled is _preview_of(driver.new_driver())._is_enabled is True


def test_a_wrapped_entry_is_made_when_read_with_the_table_lineage() -> None:
    made: list[str] = []

    def command(kind: str, **attributes: Any) -> Any:
        return type(kind, (), attributes)()

    def make(name: str) -> Any:
        made.append(name)
        return command("Command", name=name)

    table = driver.LazyTable(make)
    for name in ("a", "b"):
        table.add_pending(name)
    table["b"]  # (made before it is wrapped: wrapped at once)
    table.wrap("a", lambda inner: command("Wrapped", of=inner.name))
    table.wrap("b", lambda inner: command("Wrapped", of=inner.name))
    table.defer("help", lambda: command("Help"))
    table.wrap("help", lambda inner: command("Wrapped", of=type(inner).__name__))
    table.set_lineage(["root"])
    assert made == ["b"]
    assert table["b"].of == "b" and table["b"].lineage == ["root", table["b"]]
    a = table["a"]
    assert made == ["b", "a"] and a.of == "a" and a.lineage == ["root", a]
    # A deferred entry (a help command) still gets no lineage, wrapped or not.
    assert table["help"].of == "Help" and not hasattr(table["help"], "lineage")
    assert list(table) == ["a", "b", "help"]
