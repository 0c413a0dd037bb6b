"""The per-call event emitter, made cheap without sharing anything a call can change.

Every call has its own botocore session and so its own emitter, and every client the call
creates copies the session's emitter (botocore's `ClientCreator` does `copy.copy(emitter)`). The
stock copy duplicates the whole handler tree, about 400 handlers in 600 nodes, for each client;
and each session registers botocore's 127 built-in handlers one by one. Here:

* `CopyOnWriteTrie` is botocore's `_PrefixTrie` (same lookups, same order, same errors) whose
  copy is O(1): both sides share the nodes until one of them registers or unregisters, and then
  copies only the nodes on the path it changes. Handler objects were already shared between a
  session and its clients by the stock copy; nothing more is shared, and nothing across calls.
* `Emitter` is botocore's `HierarchicalEmitter` over that trie, without its per-registration
  `inspect` signature check (every handler comes from awscli, botocore or this package), and it
  can start from the tree of botocore's built-in handlers (`builtin_template`), built once.
  Those handlers are `botocore.handlers.BUILTIN_HANDLERS`: module-level objects that botocore
  itself registers, the same objects, in every session of a process. A test checks that the
  template holds nothing else.
"""

from __future__ import annotations

import threading
from collections import deque
from typing import Any

import botocore.handlers
import botocore.hooks
import botocore.session

_FIRST, _MIDDLE, _LAST = 0, 1, 2

CLI_EVENTS = (
    "building-command-table.", "building-argument-table.", "before-building-argument-table-parser",
    "top-level-args-parsed", "operation-args-parsed.",
    "calling-command.", "process-cli-arg.", "load-cli-arg.", "session-initialized", "doc-",
)
"""Prefixes of the events awscli emits on a session for its command line: no botocore client
emits them (a test reads botocore's source for each), so a handler on one of them never runs
in a client, whatever client holds it."""


def on_cli_event(event: str) -> bool:
    return (event + ".").startswith(CLI_EVENTS) or event.startswith(CLI_EVENTS)


class _Node:
    __slots__ = ("children", "owner", "values")

    def __init__(self, children: dict[str, _Node], values: Any, owner: object) -> None:
        self.children = children
        self.values = values
        """None, or botocore's NodeList of (first, middle, last) handler lists."""
        self.owner = owner
        """The token of the trie that may change this node in place; any other copies it."""


class CopyOnWriteTrie:
    """Event name -> handlers, by dot-separated parts with `*` matching any one part.

    `prefix_search("a.b.c")` returns the handlers of `a.b.c`, then `a.b`, then `a` (with `*`
    parts matched in the same traversal order as botocore's trie), each node's in first / middle
    / last order, each section in registration order.
    """

    __slots__ = ("_root", "_token")

    def __init__(self, root: _Node | None = None) -> None:
        self._token = object()
        self._root = root if root is not None else _Node({}, None, self._token)

    def __copy__(self) -> CopyOnWriteTrie:
        # From now on neither side owns the shared nodes: whichever changes one copies it first.
        self._token = object()
        return CopyOnWriteTrie(self._root)

    def _owned(self, node: _Node) -> _Node:
        if node.owner is self._token:
            return node
        values = node.values
        if values is not None:
            values = botocore.hooks.NodeList(list(values[0]), list(values[1]), list(values[2]))
        return _Node(dict(node.children), values, self._token)

    def append_item(self, key: str, value: Any, section: int = _MIDDLE) -> None:
        token = self._token
        node = self._root
        if node.owner is not token:
            node = self._root = self._owned(node)
        for part in key.split("."):
            children = node.children
            child = children.get(part)
            if child is None:
                child = children[part] = _Node({}, None, token)
            elif child.owner is not token:
                child = children[part] = self._owned(child)
            node = child
        values = node.values
        if values is None:
            values = node.values = botocore.hooks.NodeList([], [], [])
        values[section].append(value)

    def prefix_search(self, key: str) -> deque[Any]:
        collected: deque[Any] = deque()
        parts = key.split(".")
        count = len(parts)
        stack = [(self._root, 0)]
        while stack:
            node, index = stack.pop()
            values = node.values
            if values:
                collected.extendleft(reversed(values[0] + values[1] + values[2]))
            if index != count:
                children = node.children
                direct = children.get(parts[index])
                wildcard = children.get("*")
                if wildcard is not None:
                    stack.append((wildcard, index + 1))
                if direct is not None:
                    stack.append((direct, index + 1))
        return collected

    def handlers(self) -> list[Any]:
        """Every handler registered anywhere in the trie (for checks, not for dispatch)."""
        found: list[Any] = []
        stack = [self._root]
        while stack:
            node = stack.pop()
            if node.values is not None:
                for section in node.values:
                    found.extend(section)
            stack.extend(node.children.values())
        return found

    def remove_item(self, key: str, value: Any) -> None:
        """Remove the first registration of `value` under exactly `key`; `ValueError` when the
        key is not in the trie (as botocore's)."""
        parts = key.split(".")
        path = [self._root]
        for part in parts:
            child = path[-1].children.get(part)
            if child is None:
                raise ValueError(f"key is not in trie: {key}")
            path.append(child)
        # Copy the whole path first: the change below must not reach a trie sharing it.
        owned = [self._owned(node) for node in path]
        self._root = owned[0]
        for parent, part, child in zip(owned, parts, owned[1:], strict=False):
            parent.children[part] = child
        values = owned[-1].values
        if values is None:
            # botocore's trie fails the same way on a node that holds no handlers.
            raise AttributeError("'NoneType' object has no attribute 'first'")
        for section in values:
            if value in section:
                section.remove(value)
                break
        # Drop nodes left with neither handlers nor children, deepest first (as botocore does).
        for depth in range(len(parts), 0, -1):
            node = owned[depth]
            if node.children or node.values is not None:
                break
            del owned[depth - 1].children[parts[depth - 1]]


class Emitter(botocore.hooks.HierarchicalEmitter):  # type: ignore[misc]
    """botocore's emitter over a `CopyOnWriteTrie`, without the per-registration `inspect`
    check (it only guards against handlers that take no **kwargs; ours all do)."""

    _unique_id_handlers: dict[str, dict[str, Any]]
    _lookup_cache: dict[str, Any]

    def __init__(self) -> None:
        super().__init__()
        self._handlers = CopyOnWriteTrie()
        self.pristine = True
        """Nothing was registered on it yet (a built-in template may still be adopted)."""
        self.adopted: Emitter | None = None
        """The template this emitter is an unchanged copy of, if it is one."""
        self.awscli_template: Emitter | None = None
        """On a built-in template: it and awscli's shared handlers (see `cli_handlers`)."""
        self.changes = 0
        """Registrations and unregistrations made on it (a copy starts from its original's)."""
        self.log: list[tuple[str, Any]] | None = None
        """When a list: (event name, handler) of every registration from now on (not a copy's)."""
        self.origin: Emitter | None = None
        """The template it started from (see `cli_handlers.initialize`)."""
        self.deferred: dict[str, tuple[Any, ...]] | None = None
        """Registrations on command-line events of one service each (the event name's second
        part), made through `_deferred_via` when anything first emits, registers or unregisters
        an event of that service here (see `defer`)."""
        self._deferred_via: Any = None
        self._deferred_calls: list[Any] = []

    def __copy__(self) -> Emitter:
        new: Emitter = super().__copy__()
        new.log = None
        if self.deferred is not None:
            new.deferred = dict(self.deferred)  # a copy makes them for itself, if ever
        return new

    def defer(self, via: Any, by_service: dict[str, tuple[Any, ...]], calls: list[Any]) -> None:
        """Registrations of `via` (the aliaser over this emitter) to make only when this
        emitter first touches an event of their service: each a `(method, args, kwargs)`, or
        its position in `calls`. Each service's are all the registrations of their event nodes
        and sections, so making them later gives those nodes exactly the handlers, in the order,
        they would have had; touching the service first makes them, so nothing can land on
        those nodes before them."""
        self._deferred_via = via
        self._deferred_calls = calls
        self.deferred = by_service

    def _undefer(self, event_name: str) -> None:
        deferred = self.deferred
        if deferred:
            parts = event_name.split(".", 2)
            if len(parts) > 1:
                pending = deferred.pop(parts[1], None)
                if pending:
                    via, calls = self._deferred_via, self._deferred_calls
                    if getattr(via, "_emitter", None) is not self:
                        # A copy (a client's): it registers on itself, with the same aliases.
                        via = self._deferred_via = type(via)(self, via._event_aliases)
                    for step in pending:
                        method, args, kwargs = calls[step] if isinstance(step, int) else step
                        getattr(via, method)(*args, **kwargs)

    def undefer_all(self) -> None:
        """Make every deferred registration now (for checks that read the whole tree)."""
        while self.deferred:
            self._undefer("." + next(iter(self.deferred)))

    def _emit(self, event_name: str, kwargs: Any, stop_on_response: bool = False) -> Any:
        if self.deferred:
            self._undefer(event_name)
        return super()._emit(event_name, kwargs, stop_on_response)

    def _register_section(self, *args: Any, **kwargs: Any) -> None:
        if self.deferred:
            self._undefer(args[0])
        self.pristine = False
        self.adopted = None
        self.changes += 1
        if self.log is not None:
            self.log.append((args[0], args[1]))
        super()._register_section(*args, **kwargs)

    def unregister(self, *args: Any, **kwargs: Any) -> None:
        event_name = args[0] if args else kwargs.get("event_name", "")
        if self.deferred:
            self._undefer(event_name)
        self.adopted = None
        self.changes += 1
        if self.log is not None:
            self.log.append((event_name, None))
        super().unregister(*args, **kwargs)

    # The three public registrations go straight to their section (about 400 per call): the
    # same checks as botocore's chain of helpers, less the `inspect` one (see the class).

    def register(
        self, event_name: str, handler: Any, unique_id: Any = None,
        unique_id_uses_count: bool = False,
    ) -> None:
        self._verify_is_callable(handler)
        self._register_section(event_name, handler, unique_id, unique_id_uses_count, _MIDDLE)

    def register_first(
        self, event_name: str, handler: Any, unique_id: Any = None,
        unique_id_uses_count: bool = False,
    ) -> None:
        self._verify_is_callable(handler)
        self._register_section(event_name, handler, unique_id, unique_id_uses_count, _FIRST)

    def register_last(
        self, event_name: str, handler: Any, unique_id: Any = None,
        unique_id_uses_count: bool = False,
    ) -> None:
        self._verify_is_callable(handler)
        self._register_section(event_name, handler, unique_id, unique_id_uses_count, _LAST)

    def _verify_accept_kwargs(self, func: Any) -> None:
        return None

    def adopt_builtins(self) -> bool:
        """Start from botocore's built-in handlers, registered once per process; False (and
        nothing changed) if something was registered here already."""
        if not self.pristine:
            return False
        self._adopt(builtin_template())
        return True

    def _adopt(self, template: Emitter) -> None:
        """Become a copy-on-write copy of `template`, whatever was registered here before."""
        self._handlers = template._handlers.__copy__()
        self._unique_id_handlers = {
            uid: dict(entry) for uid, entry in template._unique_id_handlers.items()
        }
        self._lookup_cache = {}
        self.pristine = False
        self.adopted = template


class _BuiltinRegistrar:
    """What `Session._register_builtin_handlers` needs of its session: `register` and
    `_events`, both going through an aliaser with the default alias table."""

    def __init__(self, emitter: Emitter) -> None:
        self._events = botocore.hooks.EventAliaser(emitter)

    def register(self, *args: Any, **kwargs: Any) -> None:
        self._events.register(*args, **kwargs)


_template: Emitter | None = None
_template_specs: list[tuple[Any, ...]] = []
_template_lock = threading.Lock()


def builtin_template() -> Emitter:
    """An emitter holding exactly what botocore registers in every new session: built by
    botocore's own `Session._register_builtin_handlers`, never registered on afterwards (calls
    take copies), and built again whenever `BUILTIN_HANDLERS` changed since (a library may
    append to it: moto adds its request stubber when it is imported)."""
    global _template, _template_specs
    current = botocore.handlers.BUILTIN_HANDLERS
    template = _template
    if template is None or not _same(current, _template_specs):
        with _template_lock:
            if _template is None or not _same(current, _template_specs):
                specs = list(current)
                emitter = Emitter()
                registrar = _BuiltinRegistrar(emitter)
                botocore.session.Session._register_builtin_handlers(registrar, registrar._events)
                _template, _template_specs = emitter, specs
            template = _template
    return template


def _same(current: list[tuple[Any, ...]], snapshot: list[tuple[Any, ...]]) -> bool:
    return len(current) == len(snapshot) and all(
        a is b for a, b in zip(current, snapshot, strict=True)
    )


def builtin_handlers_specs() -> list[tuple[Any, ...]]:
    """`botocore.handlers.BUILTIN_HANDLERS`: (event, handler[, first/last]) each."""
    return list(botocore.handlers.BUILTIN_HANDLERS)


def builtin_handlers() -> list[Any]:
    """Every handler object of `botocore.handlers.BUILTIN_HANDLERS` (for the template's test)."""
    return [spec[1] for spec in builtin_handlers_specs()]
