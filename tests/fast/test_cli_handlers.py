"""awscli's handlers (adapter/cli_handlers.py): the shared template holds only handlers that are
the same in every session; per-session ones are made per call and never cross calls."""

from __future__ import annotations

import functools
import threading
from typing import Any

import pytest

import aws_mcp_server.adapter  # noqa: F401  (awscli before botocore)

# isort: split
import awscli.argprocess
import awscli.handlers
import botocore.hooks
from awscli.customizations import preview
from awscli.customizations.dynamodb import DynamoDBPaginatorFix
from awscli.customizations.history import attach_history_handler
from awscli.customizations.iamvirtmfa import IAMVMFAWrapper

from aws_mcp_server.adapter import cli_handlers, driver, events


@pytest.fixture(autouse=True)
def _prepared() -> None:
    # As the server and every Engine do; without it sessions register awscli's handlers as awscli
    # does and these tests would compare awscli with itself.
    cli_handlers.prepare()
    assert cli_handlers.initialize(botocore.hooks.EventAliaser(_fresh())) is True


def _fresh() -> events.Emitter:
    emitter = events.Emitter()
    emitter.adopt_builtins()
    return emitter


def test_each_call_runs_awscli_initialize_without_the_helpers_the_template_holds() -> None:
    """The replay leaves out whole helpers whose every handler is shared, and records exactly
    the rest of awscli's registrations, in order; the per-call registrations are awscli's, in
    awscli's order, whether recorded per call or kept from a left-out helper."""
    plan = cli_handlers.prepare()
    replay = cli_handlers._replay
    assert replay is not None
    # register_arg_renames has registrations made per call (for order), none of them stateful.
    assert {"register_ssm_session", "cloudformation_init", "register_arg_renames"} <= set(
        replay.skipped
    )
    assert len(replay.events) < len(plan.events)
    assert len(replay.per_call) == len(plan.per_call)
    kept = [step for step in replay.per_call if type(step) is not int]
    assert kept, "no per-call registration comes from a left-out helper"
    per_call_events = [plan.events[i] for i in plan.per_call]
    assert [
        replay.events[step] if type(step) is int else cli_handlers._event(step)
        for step in replay.per_call
    ] == per_call_events
    # A kept registration is one a fresh awscli_initialize makes alike at that place.
    fresh = cli_handlers.record()
    for i, step in zip(plan.per_call, replay.per_call, strict=True):
        if type(step) is not int:
            assert i not in plan.stateful
            assert step[0] == fresh[i][0]
            assert cli_handlers.same_value(cli_handlers._handler(step), cli_handlers._handler(fresh[i]))
    # The helpers that make per-session handlers run on every call.
    for name in ("register_bool_params", "register_removals", "register_dynamodb_paginator_fix"):
        assert name not in replay.skipped


def _template() -> events.Emitter:
    driver.new_driver()
    return cli_handlers.template(events.builtin_template())


def test_the_template_holds_only_handlers_every_session_builds_alike() -> None:
    """Beyond botocore's built-ins, every handler in the template is, by `same_value`, what a
    fresh `awscli_initialize` builds at the same place: the same object, or one built the same
    way from immutable values only. No instance, no emitter, no list or dict."""
    template = _template()
    builtin = {id(h) for h in events.builtin_handlers()}
    held = [h for h in template._handlers.handlers() if id(h) not in builtin]
    fresh = cli_handlers.shared()
    assert len(held) == len(fresh)
    for handler in held:
        assert any(cli_handlers.same_value(handler, other) for _, other in fresh), handler
    for handler in held:
        target = handler
        while isinstance(target, functools.partial):
            assert all(not isinstance(v, list | dict | set) for v in target.keywords.values())
            target = target.func
        assert not isinstance(
            getattr(target, "__self__", None),
            awscli.argprocess.ParamShorthandParser | IAMVMFAWrapper | DynamoDBPaginatorFix,
        )
        assert not isinstance(
            handler,
            awscli.argprocess.ParamShorthandParser | cli_handlers.Recorder,
        )


def test_known_stateful_handlers_are_made_per_call() -> None:
    calls = cli_handlers.record()
    per_call = {type(cli_handlers._handler(calls[i])) for i in cli_handlers.prepare().stateful}
    assert awscli.argprocess.ParamShorthandParser in per_call
    kinds = [cli_handlers._handler(calls[i]) for i in cli_handlers.prepare().stateful]
    owners = {type(getattr(h, "__self__", None)) for h in kinds}
    assert {IAMVMFAWrapper, DynamoDBPaginatorFix} <= owners
    # The partial that keeps the emitter (`pull_up_bool`) is per call.
    assert any(
        isinstance(h, functools.partial) and "event_handler" in h.keywords for h in kinds
    )


def test_a_new_stateful_handler_is_made_per_call_not_shared(monkeypatch: Any) -> None:
    """An awscli that adds a handler keeping state gets it registered per call."""

    class Stateful:
        def __init__(self) -> None:
            self.seen: list[Any] = []

        def __call__(self, **kwargs: Any) -> None:
            self.seen.append(kwargs)

    original = awscli.handlers.awscli_initialize

    def initialize(hooks: Any) -> None:
        original(hooks)
        hooks.register("before-call.s3.ListBuckets", Stateful())
        hooks.register("before-call.s3.ListBuckets", functools.partial(print, end=[]))
        hooks.register("before-call.s3.ListBuckets", functools.partial(print, end="x"))

    monkeypatch.setattr(awscli.handlers, "awscli_initialize", initialize)
    plan = cli_handlers.plan()
    last = len(plan.events) - 1
    assert {last - 2, last - 1} <= set(plan.stateful)
    assert last not in plan.stateful  # a partial over a string is shared...
    assert last in plan.per_call  # ...but kept in order behind the per-call ones.


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        ("x", "x", True),
        ((1, "a"), (1, "a"), True),
        ([1], [1], False),
        ({"a": 1}, {"a": 1}, False),
        (object(), object(), False),
        (functools.partial(print, "a"), functools.partial(print, "a"), True),
        (functools.partial(print, ["a"]), functools.partial(print, ["a"]), False),
    ],
)
def test_same_value(a: Any, b: Any, same: bool) -> None:
    assert cli_handlers.same_value(a, b) is same


def test_closures_are_shared_only_over_immutable_cells() -> None:
    def make(value: Any) -> Any:
        def handler(**kwargs: Any) -> Any:
            return value

        return handler

    assert cli_handlers.same_value(make("a"), make("a"))
    assert not cli_handlers.same_value(make("a"), make("b"))
    assert not cli_handlers.same_value(make([]), make([]))
    assert not cli_handlers.same_value(make(botocore.hooks.HierarchicalEmitter()),
                                       make(botocore.hooks.HierarchicalEmitter()))


def test_a_session_gets_awscli_handlers_as_a_stock_registration_would() -> None:
    """Through the template: the same handlers, node by node, section by section, in the same
    order, with the same unique ids, as `awscli_initialize` on a stock emitter (checked when
    the template is built; checked here on a call's session)."""
    session = driver.new_driver().session
    ours = session._events._emitter
    ours.undefer_all()
    _assert_stock(ours)


def _stock() -> dict[tuple[str, ...], Any]:
    stock = events.Emitter()
    stock.adopt_builtins()
    aliaser = botocore.hooks.EventAliaser(stock)
    awscli.handlers.awscli_initialize(aliaser)
    # What new_driver does after awscli_initialize, on the stock side too.
    stock.unregister("session-initialized", attach_history_handler)
    stock.unregister("session-initialized", unique_id="inject_assume_role_cred_provider_cache")
    # (and awscli's preview marking is replaced by ours, which `_ours` leaves out)
    stock.unregister("building-command-table.main", preview.mark_as_preview)
    return cli_handlers._walk(stock._handlers)


def _assert_stock(ours: events.Emitter, only: Any = None) -> None:
    mine = cli_handlers._walk(ours._handlers)
    theirs = _stock()
    if only is not None:
        theirs = {path: values for path, values in theirs.items() if only(path)}
    assert mine.keys() >= theirs.keys()
    for path, values in theirs.items():
        if values is None:
            continue
        for section, expected in enumerate(values):
            got = [h for h in mine[path][section] if not _ours(h)]
            assert len(got) == len(expected), (path, section)
            assert all(cli_handlers._alike(p, q) for p, q in zip(got, expected, strict=True))


def test_per_call_handlers_of_other_services_wait_until_their_service_is_touched() -> None:
    """A call's per-call handlers on another service's command-line events are registered
    only when something first emits or registers an event of that service: then its nodes
    hold exactly what a stock registration gives them, in order."""
    session = driver.new_driver().session
    ours = session._events._emitter
    assert ours.deferred is not None
    assert {"ses", "ec2", "rekognition", "cloudfront", "dynamodb"} <= set(ours.deferred)
    assert "iam" not in ours.deferred  # a handler on after-call.iam (a client event): at once
    assert "s3api" not in ours.deferred and "s3" not in ours.deferred

    def service(name: str) -> Any:
        return lambda path: len(path) > 1 and path[1] == name

    stock_ses = {p: v for p, v in _stock().items() if service("ses")(p)}
    mine_ses = {p: v for p, v in cli_handlers._walk(ours._handlers).items() if service("ses")(p)}
    assert mine_ses != stock_ses  # not made yet
    # An event of another service touches nothing of SES's.
    session._events.emit("test-event.s3api.list-buckets")
    assert "ses" in ours.deferred
    # SES's command table: its removals run, as in awscli.
    table = {"verify-email-address": 1, "send-email": 2}
    session._events.emit(
        "building-command-table.ses", command_table=table, session=session, command_object=None
    )
    assert "ses" not in ours.deferred
    assert "verify-email-address" not in table and "send-email" in table
    _assert_stock(ours, only=service("ses"))
    # A registration on a service's event makes that service's first: awscli's order is kept.
    def mine(**kwargs: Any) -> None:
        return None

    session._events.register("building-argument-table.cloudfront.update-distribution", mine)
    assert "cloudfront" not in ours.deferred
    node = cli_handlers._walk(ours._handlers)[
        ("building-argument-table", "cloudfront", "update-distribution")
    ]
    assert node[1][-1] is mine and len(node[1]) > 1
    session._events.unregister("building-argument-table.cloudfront.update-distribution", mine)
    # The whole tree, once everything is made, is awscli's.
    ours.undefer_all()
    assert not ours.deferred
    _assert_stock(ours)


def test_a_copy_of_the_emitter_makes_its_deferred_handlers_for_itself() -> None:
    import copy

    session = driver.new_driver().session
    ours = session._events._emitter
    twin = copy.copy(ours)
    assert twin.deferred == ours.deferred and twin.deferred is not ours.deferred
    twin.undefer_all()
    assert "ec2" in ours.deferred
    ec2 = ("building-command-table", "ec2")
    assert cli_handlers._walk(twin._handlers).get(ec2) is not None
    assert cli_handlers._walk(ours._handlers).get(ec2) is None


def test_ec2_commands_awscli_removes_are_removed_in_a_call() -> None:
    cli = driver.new_driver()
    table = cli._get_command_table()["ec2"]._get_command_table()
    assert "import-instance" not in table and "describe-instances" in table
    table = cli._get_command_table()["ses"]._get_command_table()
    assert "verify-email-address" not in table


def _ours(handler: Any) -> bool:
    module = getattr(handler, "__module__", "") or ""
    return module.startswith("aws_mcp_server")


def test_the_fast_path_is_taken() -> None:
    """A call's session holds the template's shared handler objects themselves."""
    template = _template()
    builtin = {id(h) for h in events.builtin_handlers()}
    shared = [h for h in template._handlers.handlers() if id(h) not in builtin]
    session = driver.new_driver().session._events._emitter
    session_handlers = {id(h) for h in session._handlers.handlers()}
    # new_driver unregisters these two (the history's sqlite handler, the assumed-role file
    # cache), and replaces awscli's preview marking.
    dropped = [h for h in shared if id(h) not in session_handlers]
    assert {h.__name__ for h in dropped} == {
        "attach_history_handler", "inject_assume_role_provider_cache", "mark_as_preview"
    }
    assert len(shared) > 150


def test_concurrent_sessions_do_not_see_each_others_per_call_handlers() -> None:
    """Two sessions built at once: each has its own per-call handler objects (the shorthand
    parser, the MFA wrapper, the DynamoDB fix), found in neither the other's tree nor the
    template; what one registers later (through the objects that kept the recorder) stays
    in its own tree."""
    sessions: list[Any] = []
    barrier = threading.Barrier(2)

    def build() -> None:
        barrier.wait()
        sessions.append(driver.new_driver().session)

    threads = [threading.Thread(target=build) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    first, second = (s._events._emitter for s in sessions)
    for emitter in (first, second):
        emitter.undefer_all()  # every service's, made (as a call touching them would)
    template = _template()

    def stateful(emitter: events.Emitter) -> set[int]:
        return {
            id(h) for h in emitter._handlers.handlers()
            if isinstance(h, awscli.argprocess.ParamShorthandParser)
            or isinstance(getattr(h, "__self__", None), IAMVMFAWrapper | DynamoDBPaginatorFix)
            or (isinstance(h, functools.partial) and "event_handler" in h.keywords)
        }

    mine, theirs = stateful(first), stateful(second)
    assert len(mine) == len(theirs) >= 4
    assert not mine & theirs
    assert not (mine | theirs) & {id(h) for h in template._handlers.handlers()}
    # pull_up_bool's partial keeps the recorder, which now registers on its own session only.
    pull_up = next(
        h for h in first._handlers.handlers()
        if isinstance(h, functools.partial) and "event_handler" in h.keywords
    )
    marker = lambda **kwargs: None  # noqa: E731
    pull_up.keywords["event_handler"].register("operation-args-parsed.ec2.x", marker)
    assert marker in first._handlers.prefix_search("operation-args-parsed.ec2.x")
    assert marker not in second._handlers.prefix_search("operation-args-parsed.ec2.x")
    assert marker not in template._handlers.prefix_search("operation-args-parsed.ec2.x")


def test_initialize_declines_an_emitter_that_is_not_a_fresh_copy() -> None:
    emitter = events.Emitter()
    emitter.adopt_builtins()
    emitter.register("x", lambda **kwargs: None)
    assert cli_handlers.initialize(botocore.hooks.EventAliaser(emitter)) is False
    assert cli_handlers.initialize(botocore.hooks.EventAliaser(events.Emitter())) is False


def test_the_unregistrations_every_session_made_are_made_once_to_the_template() -> None:
    first, second = (driver.new_driver().session._events._emitter for _ in range(2))
    assert first.origin is second.origin is not None
    assert first.origin is not _template()  # the pruned copy, not awscli's full template
    for emitter in (first, second):
        assert "inject_assume_role_cred_provider_cache" not in emitter._unique_id_handlers
        names = {getattr(h, "__name__", "") for h in emitter._handlers.handlers()}
        assert "attach_history_handler" not in names
    # The full template keeps awscli's own registrations (it is checked against them).
    assert "inject_assume_role_cred_provider_cache" in _template()._unique_id_handlers
