"""What narrows an API operation's output, from its awscli command and botocore model.

`narrowing` turns these facts into advice when output is over the cap.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from aws_mcp_server.adapter import resolution

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Parameter:
    """One input member as the CLI offers it: `--instance-ids` for `InstanceIds` (a list)."""

    option: str
    member: str
    type_name: str
    required: bool


@dataclass(frozen=True)
class OutputFacts:
    """What narrows one API operation's output, read from its awscli command and botocore model.

    `paginated`: awscli pages it (`--max-items`, `--starting-token`, `--page-size`).
    `paging_members`: the model's own token and limit members the paginator drives.
    `result_keys`: top-level output members holding the listed items (the paginator's result
    keys, else every list-typed member), each with the member names of one item (empty when an
    item is not a structure).
    """

    parameters: tuple[Parameter, ...]
    paginated: bool
    paging_members: frozenset[str]
    result_keys: tuple[tuple[str, tuple[str, ...]], ...]


@lru_cache(maxsize=256)
def operation_facts(command_path: tuple[str, ...]) -> OutputFacts | None:
    """The facts of the API operation at `command_path` (`("ec2", "describe-instances")`), or None
    for a command that is not one operation (customizations, help, unknown paths)."""
    if len(command_path) < 2:
        return None
    try:
        command = resolution.command_table(command_path[:-1]).get(command_path[-1])
        model = getattr(command, "_operation_model", None)
        if command is None or model is None:
            return None
        table = command.arg_table
        parameters = tuple(
            Parameter(
                option=name,
                member=argument._serialized_name,
                type_name=argument.argument_model.type_name,
                required=bool(argument.required),
            )
            for name, argument in table.items()
            if getattr(argument, "_serialized_name", None)
            and getattr(argument, "argument_model", None) is not None
        )
        config: dict[str, Any] = {}
        try:
            paginators = command._session.get_paginator_model(model.service_model.service_name)
            config = dict(paginators.get_paginator(model.name))
        except Exception:  # no paginators file, or none for this operation
            config = {}
        paginated = bool(config) and {"max-items", "starting-token"} <= set(table)
        paging: set[str] = set()
        for key in ("input_token", "limit_key"):
            value = config.get(key)
            paging.update([value] if isinstance(value, str) else value or [])
        output = model.output_shape.members if model.output_shape is not None else {}
        keys = config.get("result_key") if paginated else None
        names = ([keys] if isinstance(keys, str) else list(keys)) if keys else list(output)
        results = []
        for name in names:
            shape = output.get(name)
            if shape is None or shape.type_name != "list":
                continue
            item = shape.member
            fields = tuple(item.members) if item.type_name == "structure" else ()
            results.append((name, fields))
        return OutputFacts(parameters, paginated, frozenset(paging), tuple(results))
    except Exception:  # advice is best effort: a model we cannot read gives a plainer note
        log.debug("no output facts for %s", command_path, exc_info=True)
        return None
