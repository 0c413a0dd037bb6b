"""The per-call emitter (adapter/events.py): botocore's semantics, copies that share nothing a
call can change, and a built-in template that holds only botocore's own module-level handlers."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import aws_mcp_server.adapter  # noqa: F401  (awscli before botocore)

# isort: split
import botocore.hooks

from aws_mcp_server.adapter import driver, events

_PARTS = ("a", "b", "c", "*")
_KEYS = st.lists(st.sampled_from(_PARTS), min_size=1, max_size=4).map(".".join)
_HANDLERS = [lambda **kwargs: None for _ in range(6)]
_OPS = st.lists(
    st.one_of(
        st.tuples(st.just("append"), _KEYS, st.integers(0, 5), st.integers(0, 2)),
        st.tuples(st.just("remove"), _KEYS, st.integers(0, 5), st.just(0)),
        st.tuples(st.just("copy"), st.just(""), st.integers(0, 1), st.just(0)),
        st.tuples(st.just("search"), _KEYS, st.just(0), st.just(0)),
    ),
    max_size=60,
)


def _removal(trie: Any, key: str, handler: Any) -> Any:
    try:
        trie.remove_item(key, handler)
    except Exception as exc:  # the same failures, of the same type
        return ("raised", type(exc))
    return None


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(_OPS)
def test_copy_on_write_trie_behaves_as_botocores(ops: list[tuple[str, str, int, int]]) -> None:
    """Two live copies of each trie, changed independently: every search answers the same
    handlers in the same order as botocore's own trie, and failures fail alike."""
    ours: list[Any] = [events.CopyOnWriteTrie()]
    theirs: list[Any] = [botocore.hooks._PrefixTrie()]
    for op, key, n, section in ops:
        side = n % len(ours)
        if op == "copy":
            ours.append(copy.copy(ours[side]))
            theirs.append(copy.copy(theirs[side]))
        elif op == "append":
            ours[side].append_item(key, _HANDLERS[n], section=section)
            theirs[side].append_item(key, _HANDLERS[n], section=section)
        elif op == "remove":
            handler = _HANDLERS[n]
            assert _removal(ours[side], key, handler) == _removal(theirs[side], key, handler)
        for mine, stock in zip(ours, theirs, strict=True):
            probe = key or "a.b.c"
            assert list(mine.prefix_search(probe)) == list(stock.prefix_search(probe))




def test_builtin_template_holds_only_botocores_module_level_handlers() -> None:
    """The one tree every session starts from: exactly BUILTIN_HANDLERS, the objects botocore
    registers in every session of the process anyway, and nothing a call registered."""
    driver.new_driver()  # a call's session adopts the template and registers on top of it
    template = events.builtin_template()
    held = template._handlers.handlers()
    builtin = events.builtin_handlers()
    assert len(held) == len(builtin)
    assert all(any(h is b for b in builtin) for h in held)
    assert template._unique_id_handlers == {}


def test_sessions_and_their_clients_share_no_registration() -> None:
    """A handler registered on one call's session is seen by neither another call's session,
    nor the template; one registered on a client's emitter does not reach its session."""
    first = driver.new_driver().session
    second = driver.new_driver().session

    def marker(**kwargs: Any) -> str:
        return "mine"

    first.register("before-call.s3.ListBuckets", marker)
    assert marker in first._events._emitter._handlers.prefix_search("before-call.s3.ListBuckets")
    for other in (second._events._emitter, events.builtin_template()):
        assert marker not in other._handlers.prefix_search("before-call.s3.ListBuckets")
    client = second.create_client(
        "s3", region_name="us-east-1", endpoint_url="http://127.0.0.1:9",
        aws_access_key_id="k", aws_secret_access_key="s",
    )
    client.meta.events.register("before-call.s3.ListBuckets", marker)
    assert marker not in second._events._emitter._handlers.prefix_search(
        "before-call.s3.ListBuckets"
    )
    # ...and what the session registers after the client was made stays out of the client.
    second.register("after-call.s3.ListBuckets", marker)
    assert not [
        h for h in client.meta.events._emitter._handlers.prefix_search("after-call.s3.ListBuckets")
        if h is marker
    ]


def test_a_session_starts_with_the_handlers_botocore_would_register() -> None:
    """Adopting the template gives a call's session the same handlers, event by event, as
    botocore's own registration on a stock emitter."""
    ours = driver.new_driver().session._events._emitter
    stock = botocore.hooks.HierarchicalEmitter()
    registrar = events._BuiltinRegistrar(stock)
    botocore.session.Session._register_builtin_handlers(registrar, registrar._events)
    for spec in events.builtin_handlers_specs():
        name = botocore.hooks.EventAliaser(stock)._alias_event_name(spec[0])
        expected = [h for h in stock._handlers.prefix_search(name) if h is spec[1]]
        assert expected
        assert [h for h in ours._handlers.prefix_search(name) if h is spec[1]] == expected


def test_client_aliasers_share_the_alias_cache_only_under_the_default_table() -> None:
    session = driver.new_driver().session
    aliaser = session.get_component("event_emitter")
    default_copy = copy.copy(aliaser)
    assert default_copy._alias_name_cache is aliaser._alias_name_cache
    custom = botocore.hooks.EventAliaser(events.Emitter(), {"x": "y"})
    assert custom._alias_name_cache is not aliaser._alias_name_cache
    assert custom._alias_event_name("before-call.x") == "before-call.y"
    assert aliaser._alias_event_name("before-call.x") == "before-call.x"


def test_a_template_cannot_be_adopted_over_registrations() -> None:
    emitter = events.Emitter()
    emitter.register("x", lambda **kwargs: None)
    assert emitter.adopt_builtins() is False
    assert len(emitter._handlers.prefix_search("x")) == 1


@pytest.mark.parametrize("name", ["append_item", "prefix_search", "remove_item"])
def test_the_trie_interface_is_botocores(name: str) -> None:
    import inspect

    stock = list(inspect.signature(getattr(botocore.hooks._PrefixTrie, name)).parameters)
    mine = list(inspect.signature(getattr(events.CopyOnWriteTrie, name)).parameters)
    assert mine == stock


def test_a_handler_appended_to_botocores_builtins_reaches_the_next_session() -> None:
    """botocore reads BUILTIN_HANDLERS afresh for every session, and libraries append to it
    (moto's stubber): the template follows the list, as a stock session would."""
    import botocore.handlers

    def appended(**kwargs: Any) -> None:
        return None

    driver.new_driver()
    botocore.handlers.BUILTIN_HANDLERS.append(("before-send", appended))
    try:
        session = driver.new_driver().session
        assert appended in session._events._emitter._handlers.prefix_search("before-send.s3")
    finally:
        botocore.handlers.BUILTIN_HANDLERS.remove(("before-send", appended))
    session = driver.new_driver().session
    assert appended not in session._events._emitter._handlers.prefix_search("before-send.s3")
