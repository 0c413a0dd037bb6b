"""awscli's own handlers (`awscli.handlers.awscli_initialize`), registered once where sharing
them changes nothing, and per call where it would.

`awscli_initialize` registers about 260 handlers on every call's session (about 5.6 ms, most of
it trie work). Most are plain module-level functions, the very same objects in every session of
the process, or closures and `functools.partial`s over strings (`rename_arg`, `hidden_alias`).
Others are per session and keep state or the emitter: the shorthand parser, bound methods of
the IAM MFA wrapper, the DynamoDB paginator fix, the EC2 page-size injector, a partial holding
the emitter (`pull_up_bool`), a partial holding a list, a `dict.update` of a dict.

Which is which is derived, not listed: `awscli_initialize` runs twice on recorders and each
registration is compared across the two runs (`same_value`). A handler is *shared* when it is
the same object in both runs (it is shared by every session already), or is built the same way
from nothing but immutable values and such objects: a function with the same code, globals,
defaults and closure cells; a partial of such a function and arguments; a method bound to such
an object (a class). Anything else (an instance, a list, a dict, the emitter) is *per call*.
So an awscli that adds a stateful handler gets it registered per call, never shared.

The shared handlers go into a template (on top of botocore's built-ins, `events`), built once
per built-in template. Each call runs `awscli_initialize` on a recorder (creating every object
afresh, cheaply), adopts a copy-on-write copy of the template, and registers the per-call ones
on its own emitter. Order is kept exactly: every registration on an event name and section that
holds a per-call handler is made per call, in awscli's order. The template is checked against
a stock registration when it is built (`_check_against_stock`): same nodes, same handlers in the
same order, same unique ids; a mismatch raises.

The recorder, once the call is set up, forwards to the session's emitter: per-call objects that
kept it (the `pull_up_bool` partial, the DynamoDB fix) register on the call's own emitter later.
"""

from __future__ import annotations

import functools
import threading
import types
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import awscli.handlers
import botocore.hooks

from aws_mcp_server.adapter import events

_METHODS = {"register": events._MIDDLE, "register_first": events._FIRST,
            "register_last": events._LAST}


Call = tuple[str, tuple[Any, ...], dict[str, Any]]
"""One registration as recorded: the method's name, its arguments, its keyword arguments."""


class TemplateShapeError(ImportError):
    """awscli's registrations are not what the shared template was built from."""


class _NotRecordable(Exception):
    pass


class Recorder:
    """The emitter `awscli_initialize` is given per call: it records the registrations; after
    `attach`, everything goes to the session's emitter."""

    __slots__ = ("_target", "calls")

    def __init__(self) -> None:
        self.calls: list[Call] = []
        self._target: Any = None

    def register(self, *args: Any, **kwargs: Any) -> Any:
        if self._target is not None:
            return self._target.register(*args, **kwargs)
        self.calls.append(("register", args, kwargs))
        return None

    def register_first(self, *args: Any, **kwargs: Any) -> Any:
        if self._target is not None:
            return self._target.register_first(*args, **kwargs)
        self.calls.append(("register_first", args, kwargs))
        return None

    def register_last(self, *args: Any, **kwargs: Any) -> Any:
        if self._target is not None:
            return self._target.register_last(*args, **kwargs)
        self.calls.append(("register_last", args, kwargs))
        return None

    def attach(self, target: Any) -> None:
        self._target = target

    def __getattr__(self, name: str) -> Any:
        target = object.__getattribute__(self, "_target")
        if target is None:
            raise _NotRecordable(name)
        return getattr(target, name)


def _event(call: Call) -> str:
    _, args, kwargs = call
    name: str = args[0] if args else kwargs["event_name"]
    return name


def _handler(call: Call) -> Any:
    _, args, kwargs = call
    return args[1] if len(args) > 1 else kwargs.get("handler")


def record() -> list[Call]:
    recorder = Recorder()
    awscli.handlers.awscli_initialize(recorder)
    return recorder.calls


SCALARS = (type(None), bool, int, float, complex, str, bytes, range)
"""Immutable values that hold no other object."""


def same_value(a: Any, b: Any, depth: int = 0) -> bool:
    """`a` (made by one run of `awscli_initialize`) and `b` (by another) are the same object,
    or the same immutable value built from nothing but such: sharing one of them between
    sessions is sharing what each session would build alike and cannot change."""
    if a is b:
        # The same object in two runs: not made per run, so already in every session alike.
        return True
    if depth > 8 or type(a) is not type(b):
        return False
    kind = type(a)
    if kind in SCALARS:
        return bool(a == b)
    if kind is tuple:
        return len(a) == len(b) and all(same_value(x, y, depth + 1) for x, y in zip(a, b, strict=True))
    if kind is frozenset:
        return a == b and all(type(x) in SCALARS for x in a)
    if kind is types.FunctionType:
        return (
            a.__code__ is b.__code__
            and a.__globals__ is b.__globals__
            and not a.__dict__ and not b.__dict__
            and same_value(a.__defaults__, b.__defaults__, depth + 1)
            and same_value(
                tuple(sorted((a.__kwdefaults__ or {}).items())),
                tuple(sorted((b.__kwdefaults__ or {}).items())),
                depth + 1,
            )
            and _same_cells(a.__closure__, b.__closure__, depth + 1)
        )
    if kind is functools.partial:
        return (
            not a.__dict__ and not b.__dict__
            and same_value(a.func, b.func, depth + 1)
            and same_value(a.args, b.args, depth + 1)
            and a.keywords.keys() == b.keywords.keys()
            and all(same_value(a.keywords[k], b.keywords[k], depth + 1) for k in a.keywords)
        )
    if kind is types.MethodType:
        return a.__func__ is b.__func__ and same_value(a.__self__, b.__self__, depth + 1)
    return False


def _same_cells(a: Any, b: Any, depth: int) -> bool:
    if a is None or b is None:
        return a is b
    if len(a) != len(b):
        return False
    for x, y in zip(a, b, strict=True):
        try:
            left, right = x.cell_contents, y.cell_contents
        except ValueError:
            return False
        if not same_value(left, right, depth):
            return False
    return True


_ALIASER = botocore.hooks.EventAliaser(events.Emitter())


@dataclass(frozen=True)
class Plan:
    """Which of awscli's registrations (by position) are made per call, and the event names
    of all of them in order (what each call's recording must match)."""

    events: tuple[str, ...]
    methods: tuple[str, ...]
    per_call: tuple[int, ...]
    stateful: tuple[int, ...]
    """The registrations whose handler is per session (a subset of `per_call`)."""


def plan() -> Plan:
    first, second = record(), record()
    names = tuple(_event(call) for call in first)
    methods = tuple(call[0] for call in first)
    if len(first) != len(second) or names != tuple(_event(c) for c in second) or methods != tuple(c[0] for c in second):
        raise TemplateShapeError("awscli_initialize registers differently from one run to the next")
    if set(methods) - set(_METHODS):
        raise TemplateShapeError(f"awscli_initialize now calls {sorted(set(methods) - set(_METHODS))}")
    stateful = tuple(
        i for i, (a, b) in enumerate(zip(first, second, strict=True))
        if not (same_value(_handler(a), _handler(b))
                and same_value(tuple(sorted(a[2].items())), tuple(sorted(b[2].items())))
                and same_value(a[1][2:], b[1][2:]))
    )
    # Keep awscli's order: every registration sharing an event and section with a per-call
    # handler is made per call too.
    def key(i: int) -> tuple[str, int]:
        return (_ALIASER._alias_event_name(names[i]), _METHODS[methods[i]])

    hot = {key(i) for i in stateful}
    per_call = tuple(i for i in range(len(names)) if key(i) in hot)
    return Plan(names, methods, per_call, stateful)


def _skip(*args: Any, **kwargs: Any) -> None:
    return None


@dataclass(frozen=True)
class Replay:
    """`awscli_initialize` as each call runs it: the same code, with the module's helpers whose
    every handler is shared (`register_arg_renames`, `register_removals`...) left out. Their
    registrations that the template holds need nothing more; those made per call only to keep
    awscli's order on an event that also has a per-call handler are made from the recording
    kept here (the handlers are shared values, as the template's are). What the replay records
    is checked to be exactly the kept part of awscli's own registrations, in order."""

    function: Callable[[Any], None]
    events: tuple[str, ...]
    """The event names of what it registers, in order."""
    per_call: tuple[int | Call, ...]
    """The per-call registrations in awscli's order: a position in the replay's recording, or
    a registration of a left-out helper, as recorded."""
    skipped: tuple[str, ...]


def _with_globals(function: Any, replaced: dict[str, Any]) -> Any:
    namespace = {**function.__globals__, **replaced}
    return types.FunctionType(
        function.__code__, namespace, function.__name__, function.__defaults__,
        function.__closure__,
    )


def replay(plan_: Plan) -> Replay | None:
    """Work out the `Replay` for `plan_` (None, and each call runs all of it, if awscli's
    registrations cannot be told apart by helper)."""
    initialize_ = awscli.handlers.awscli_initialize
    helpers = [
        name for name in dict.fromkeys(initialize_.__code__.co_names)
        if isinstance(initialize_.__globals__.get(name), types.FunctionType)
    ]
    recorder = Recorder()
    made_by: dict[str, list[range]] = {}
    returned: dict[str, list[Any]] = {}

    def attributed(name: str, helper: Any) -> Any:
        def call(*args: Any, **kwargs: Any) -> Any:
            start = len(recorder.calls)
            result = helper(*args, **kwargs)
            made_by.setdefault(name, []).append(range(start, len(recorder.calls)))
            returned.setdefault(name, []).append(result)
            return result

        return call

    _with_globals(
        initialize_, {name: attributed(name, initialize_.__globals__[name]) for name in helpers}
    )(recorder)
    if tuple(_event(c) for c in recorder.calls) != plan_.events:
        return None
    stateful = set(plan_.stateful)
    skipped = tuple(
        name for name, ranges in made_by.items()
        if any(ranges) and all(r is None for r in returned[name])
        and not any(i in stateful for span in ranges for i in span)
    )
    left_out = {i for name in skipped for span in made_by[name] for i in span}
    kept = [i for i in range(len(plan_.events)) if i not in left_out]
    function = _with_globals(initialize_, dict.fromkeys(skipped, _skip))
    check = Recorder()
    function(check)
    events_ = tuple(plan_.events[i] for i in kept)
    if tuple(_event(c) for c in check.calls) != events_:
        return None
    position = {i: j for j, i in enumerate(kept)}
    return Replay(
        function=function,
        events=events_,
        per_call=tuple(
            position[i] if i in position else recorder.calls[i] for i in plan_.per_call
        ),
        skipped=skipped,
    )


_plan: Plan | None = None
_replay: Replay | None = None
_plan_lock = threading.Lock()


def prepare() -> Plan:
    """Work out the plan (two recordings of `awscli_initialize`, about 40 ms) once: from then on
    every call's session is set up from the template. A process that never prepares (the one-shot
    `classify`) registers awscli's handlers as awscli does, which is cheaper for a call or two."""
    global _plan, _replay
    if _plan is None:
        with _plan_lock:
            if _plan is None:
                found = plan()
                _replay = replay(found)
                _plan = found
    return _plan


def prepared() -> Plan | None:
    """The plan, if `prepare` ran."""
    return _plan


def _walk(trie: events.CopyOnWriteTrie) -> dict[tuple[str, ...], Any]:
    nodes: dict[tuple[str, ...], Any] = {}
    stack: list[tuple[tuple[str, ...], Any]] = [((), trie._root)]
    while stack:
        path, node = stack.pop()
        nodes[path] = node.values
        stack.extend(((*path, part), child) for part, child in node.children.items())
    return nodes


def _alike(a: Any, b: Any) -> bool:
    if same_value(a, b):
        return True
    if type(a) is not type(b):
        return False
    if isinstance(a, types.MethodType):
        return bool(a.__func__ is b.__func__)
    if isinstance(a, functools.partial):
        return _alike(a.func, b.func)
    if isinstance(a, types.FunctionType):
        return bool(a.__code__ is b.__code__)
    return True


def _check_against_stock(ours: events.Emitter, builtins: events.Emitter) -> None:
    stock = events.Emitter()
    stock._adopt(builtins)
    awscli.handlers.awscli_initialize(botocore.hooks.EventAliaser(stock))
    mine, theirs = _walk(ours._handlers), _walk(stock._handlers)
    if mine.keys() != theirs.keys():
        raise TemplateShapeError("the shared awscli template has other event nodes than awscli's")
    for path, values in theirs.items():
        other = mine[path]
        if (values is None) != (other is None):
            raise TemplateShapeError(f"event {'.'.join(path)}: handlers differ from awscli's")
        if values is None:
            continue
        for section, (x, y) in enumerate(zip(values, other, strict=True)):
            if len(x) != len(y) or not all(_alike(p, q) for p, q in zip(x, y, strict=True)):
                raise TemplateShapeError(
                    f"event {'.'.join(path)} section {section}: handlers differ from awscli's"
                )
    if ours._unique_id_handlers.keys() != stock._unique_id_handlers.keys() or any(
        ours._unique_id_handlers[k].get("count") != entry.get("count")
        for k, entry in stock._unique_id_handlers.items()
    ):
        raise TemplateShapeError("the shared awscli template has other unique ids than awscli's")


_lock = threading.Lock()


def template(builtins: events.Emitter) -> events.Emitter:
    """botocore's built-ins (`builtins`) and awscli's shared handlers: built once per built-in
    template, checked against a stock registration, never registered on afterwards."""
    found: events.Emitter | None = getattr(builtins, "awscli_template", None)
    if found is None:
        with _lock:
            found = getattr(builtins, "awscli_template", None)
            if found is None:
                found = events.Emitter()
                found._adopt(builtins)
                aliaser = botocore.hooks.EventAliaser(found)
                skip = set(prepare().per_call)
                calls = record()
                for i, (method, args, kwargs) in enumerate(calls):
                    if i not in skip:
                        getattr(aliaser, method)(*args, **kwargs)
                # What a call gets (the copy and its per-call handlers) must be awscli's own.
                probe = events.Emitter()
                probe._adopt(found)
                probe_aliaser = botocore.hooks.EventAliaser(probe)
                for i in prepare().per_call:
                    method, args, kwargs = calls[i]
                    getattr(probe_aliaser, method)(*args, **kwargs)
                _check_against_stock(probe, builtins)
                builtins.awscli_template = found
    return found


def pruned(builtins: events.Emitter, prune: Callable[[Any], None]) -> events.Emitter:
    """The template with `prune(aliaser)` applied once (unregistrations every call would make
    right after `awscli_initialize`), kept by the template per `prune` function."""
    base = template(builtins)
    kept: dict[Any, events.Emitter] = base.__dict__.setdefault("pruned", {})
    found = kept.get(prune)
    if found is None:
        with _lock:
            found = kept.get(prune)
            if found is None:
                found = events.Emitter()
                found._adopt(base)
                prune(botocore.hooks.EventAliaser(found))
                kept[prune] = found
    return found


def initialize(hooks: Any, prune: Callable[[Any], None] | None = None) -> bool:
    """awscli's `awscli_initialize(hooks)` for a call's session: the template's copy and the
    per-call handlers; False (and nothing done) when `hooks` is not a session's default-table
    aliaser over an emitter holding exactly botocore's built-ins. `prune(hooks)`, what the
    caller would do right after (unregister some of awscli's shared handlers), is done once to
    the template instead, when True is returned."""
    emitter = getattr(hooks, "_emitter", None)
    plan_ = _plan
    if (
        plan_ is None
        or type(hooks) is not botocore.hooks.EventAliaser
        or not isinstance(emitter, events.Emitter)
        or emitter.adopted is None
        or hooks._event_aliases != botocore.hooks.EVENT_ALIASES
    ):
        return False
    recorder = Recorder()
    replay_ = _replay
    per_call: tuple[int | Call, ...]
    if replay_ is not None:
        run, expected, per_call = replay_.function, replay_.events, replay_.per_call
    else:
        run, expected, per_call = awscli.handlers.awscli_initialize, plan_.events, plan_.per_call
    try:
        run(recorder)
    except _NotRecordable:
        return False
    calls = recorder.calls
    if len(calls) != len(expected) or tuple(_event(c) for c in calls) != expected:
        return False
    shared_template = template(emitter.adopted) if prune is None else pruned(emitter.adopted, prune)
    emitter._adopt(shared_template)
    emitter.origin = shared_template
    eager, deferred = _layout(per_call, calls)
    for step in eager:
        method, args, kwargs = calls[step] if isinstance(step, int) else step
        getattr(hooks, method)(*args, **kwargs)
    if deferred:
        emitter.defer(hooks, dict(deferred), calls)
    recorder.attach(hooks)
    return True


_Layout = tuple[tuple[int | Call, ...], dict[str, tuple[int | Call, ...]]]
_layouts: dict[int, tuple[tuple[int | Call, ...], _Layout]] = {}


def _layout(per_call: tuple[int | Call, ...], calls: list[Call]) -> _Layout:
    """The per-call registrations split into those made at once and, by service, those made
    when the call first touches that service's events (`events.Emitter.defer`): a call runs
    one command, and most per-call handlers are for other services' command tables and
    arguments (SES's removed commands, Rekognition's hoisted blobs...).

    A service's are deferred only when every per-call registration on its events (by the
    aliased name's second part, never `*`) is on a command-line event (`events.CLI_EVENTS`,
    which no client emits) and names no unique id (those are checked across the whole emitter).
    Worked out once per replay, from the first call's recording (the same event names each
    time: `initialize` checks them)."""
    entry = _layouts.get(id(per_call))
    if entry is not None and entry[0] is per_call:
        return entry[1]
    services: dict[str, list[int]] = {}
    eager_services: set[str] = set()
    eager: list[int] = []
    for index, step in enumerate(per_call):
        call = calls[step] if isinstance(step, int) else step
        _, args, kwargs = call
        event = _ALIASER._alias_event_name(_event(call))
        parts = event.split(".")
        if len(parts) < 2 or parts[1] == "*":
            eager.append(index)
            continue
        services.setdefault(parts[1], []).append(index)
        unique = kwargs.get("unique_id") is not None or (len(args) > 2 and args[2] is not None)
        if unique or not events.on_cli_event(event):
            eager_services.add(parts[1])
    deferred: dict[str, tuple[int | Call, ...]] = {}
    for service, indexes in services.items():
        if service in eager_services:
            eager.extend(indexes)
        else:
            deferred[service] = tuple(per_call[i] for i in indexes)
    layout: _Layout = (tuple(per_call[i] for i in sorted(eager)), deferred)
    _layouts[id(per_call)] = (per_call, layout)
    return layout


def shared() -> list[tuple[str, Any]]:
    """(event, handler) of every registration of awscli's that the template shares, from a
    fresh recording (for the template's test)."""
    skip = set(prepare().per_call)
    return [(_event(c), _handler(c)) for i, c in enumerate(record()) if i not in skip]
