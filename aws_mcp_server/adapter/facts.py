"""The facts about the installed awscli that the pure guards need, as plain data.

`scripts/gen_awscli_facts.py` writes them to `aws_mcp_server/data/awscli_facts.json`, which the
guards read (they never import awscli); a test fails when the file is stale.
"""

from __future__ import annotations

import inspect
import re
import sys
from collections.abc import Iterable, Sequence
from typing import Any

import awscli
import awscli.clidriver
from awscli.customizations.commands import BasicCommand

from aws_mcp_server.adapter import driver
from aws_mcp_server.adapter.resolution import iter_command_objects, qualname

_GENERIC_CLASSES = frozenset(
    _qualname_of
    for _qualname_of in (
        "awscli.clidriver.ServiceCommand",
        "awscli.clidriver.ServiceOperation",
        "awscli.customizations.commands.BasicCommand",
        "awscli.customizations.waiters.WaitCommand",
        "awscli.customizations.waiters.WaiterStateCommand",
    )
)

# A literal service name passed to one of the ways awscli's customizations build a client:
# `session.create_client('s3', ...)`, `create_nested_client(session, 's3', ...)`,
# `create_client_from_parsed_globals(session, 's3', ...)`.
_CLIENT_CALL = re.compile(
    r"\b(?:create_client|create_nested_client|create_client_from_parsed_globals)\(\s*"
    r"(?:[A-Za-z_][\w.]*\s*,\s*)?['\"]([a-z0-9][a-z0-9.-]*)['\"]"
)


def _client_services(cls: type) -> list[str]:
    """Services whose clients the modules defining `cls` and its customization base classes build
    by name: what a customization may call besides its own service (cloudtrail
    create-subscription: s3, sns, sts...)."""
    found: set[str] = set()
    for base in cls.__mro__:
        if not base.__module__.startswith("awscli.customizations.") or base is BasicCommand:
            continue
        try:
            source = inspect.getsource(sys.modules[base.__module__])
        except (OSError, TypeError, KeyError):
            continue
        found.update(_CLIENT_CALL.findall(source))
    return sorted(found)


def awscli_facts(blocked_paths: Iterable[Sequence[str]]) -> dict[str, Any]:
    """What the pure guards need to know about the installed awscli, as plain data.

    `blocked_classes`: the class of the command object at each blocked path (for a plain API
    operation, `operation:<service>.<Operation>`), so that a blocked command is recognised whatever
    path reaches it (awscli injects CodeDeploy's `register` under every command named `deploy`); `blocked_absent`, the blocked paths this awscli does not have
(v2 commands, blocked by their words in case of an upgrade). `client_services`: per customization class, the services its
    module builds clients for. `cli_names`: botocore service name -> CLI command name. `regions`
    and `region_patterns`: the regions botocore knows and the name pattern of each partition.
    """
    blocked = {" ".join(path) for path in blocked_paths}
    blocked_classes: dict[str, str] = {}
    client_services: dict[str, list[str]] = {}
    cli_names: dict[str, str] = {}
    for path, command in iter_command_objects():
        name = qualname(command)
        joined = " ".join(path)
        if joined in blocked:
            if isinstance(command, awscli.clidriver.ServiceOperation) and name in _GENERIC_CLASSES:
                # A plain API operation: what runs is the operation, whichever path names it.
                model = command._operation_model
                name = f"operation:{model.service_model.service_name}.{model.name}"
            elif name in _GENERIC_CLASSES:
                raise ValueError(f"blocked command {joined!r} has no class of its own ({name})")
            blocked_classes[joined] = name
        if isinstance(command, awscli.clidriver.ServiceCommand) and len(path) == 1:
            cli_names[command._get_service_model().service_name] = path[0]
        if name not in _GENERIC_CLASSES and name not in client_services:
            services = _client_services(type(command))
            if services:
                client_services[name] = services
    regions: set[str] = set()
    patterns: list[str] = []
    for partition in driver.load_data("partitions")["partitions"]:
        regions.update(partition.get("regions", {}))
        patterns.append(partition["regionRegex"])
    return {
        "awscli": awscli.__version__,
        "regions": sorted(regions),
        "region_patterns": patterns,
        "blocked_classes": dict(sorted(blocked_classes.items())),
        "blocked_absent": sorted(blocked - set(blocked_classes)),
        "client_services": dict(sorted(client_services.items())),
        "cli_names": dict(sorted(cli_names.items())),
    }
