"""The server's modes: read-only, the service and operation lists, sensitive reads. Pure.

Deny lists win over allow lists. With any allow list set, a command must match one of them (a
listed service, or a listed SERVICE:OPERATION; entries are case-insensitive globs, and a service
matches its CLI name, its botocore name and its IAM prefix, so `s3` covers `s3api`). A
customization that builds clients of other services (an IAM role, an S3 bucket) is covered by the
lists for each of them, before it runs (`check_verdict`) and as each client is built
(`client_refusal`, called by the adapter).
"""

from __future__ import annotations

import fnmatch
from collections.abc import Sequence

from aws_mcp_server.errors import PolicyError
from aws_mcp_server.guards.facts import awscli_facts
from aws_mcp_server.model import Resolved, Verdict, reject
from aws_mcp_server.settings import Settings


def _service_names(resolved: Resolved) -> set[str]:
    names = {resolved.service}
    names.update(n for n in (resolved.botocore_service, resolved.signing_name) if n)
    return {n.lower() for n in names}


def _operation_names(resolved: Resolved) -> set[str]:
    names = {n for n in (resolved.operation, resolved.operation_name) if n}
    if len(resolved.command_path) > 1:
        names.add(" ".join(resolved.command_path[1:]))
    return {n.lower() for n in names}


def _service_listed(entries: Sequence[str], resolved: Resolved) -> bool:
    names = _service_names(resolved)
    return any(fnmatch.fnmatchcase(n, entry.lower()) for entry in entries for n in names)


def _operation_listed(entries: Sequence[str], resolved: Resolved) -> bool:
    services = _service_names(resolved)
    operations = _operation_names(resolved)
    for entry in entries:
        service, _, operation = entry.lower().partition(":")
        if any(fnmatch.fnmatchcase(s, service) for s in services) and any(
            fnmatch.fnmatchcase(o, operation) for o in operations
        ):
            return True
    return False


def client_services(resolved: Resolved) -> tuple[str, ...]:
    """Services (botocore names) whose clients the resolved command may build besides its own:
    what a customization calls (`cloudtrail create-subscription`: s3, sns, sts)."""
    table = awscli_facts()["client_services"]
    found: set[str] = set()
    for name in resolved.command_classes:
        found.update(table.get(name, ()))
    found.discard(resolved.botocore_service or "")
    return tuple(sorted(found))


def _client_names(service: str) -> set[str]:
    names = {service.lower()}
    cli = awscli_facts()["cli_names"].get(service)
    if cli:
        names.add(cli.lower())
    return names


def _client_listed(entries: Sequence[str], service: str, *, operations: bool = False) -> bool:
    names = _client_names(service)
    for entry in entries:
        pattern = entry.lower()
        if operations:
            # A SERVICE:OPERATION entry covers a client only when it allows every operation.
            pattern, _, operation = pattern.partition(":")
            if operation != "*":
                continue
        if any(fnmatch.fnmatchcase(name, pattern) for name in names):
            return True
    return False


def client_refusal(service: str, settings: Settings) -> Verdict | None:
    """The server's service lists applied to one client a command builds (botocore name): the
    same rule `check_verdict` applies before the command runs, checked again as it runs."""
    if _client_listed(settings.deny_services, service):
        return reject(
            "mode:service-denied",
            f"the server denies the {service} service, which this command calls",
            fix="the server's deny list (AWS_MCP_DENY_SERVICES) is set by its operator",
        )
    if (settings.allow_services or settings.allow_operations) and not (
        _client_listed(settings.allow_services, service)
        or _client_listed(settings.allow_operations, service, operations=True)
    ):
        allowed = ", ".join((*settings.allow_services, *settings.allow_operations))
        return reject(
            "mode:not-allowed",
            f"this command calls the {service} service, which is not in the server's allow list "
            f"({allowed})",
            fix=f"the server's operator can add {service} to --allow-services",
        )
    return None


def check_verdict(verdict: Verdict, resolved: Resolved, settings: Settings) -> Verdict:
    """Apply the server's modes to a classifier verdict; returns it, or a reject in its place.

    Deny lists win over allow lists. With any allow list set, a command must match one of them
    (a listed service, or a listed SERVICE:OPERATION; entries are case-insensitive globs, and a
    service matches its CLI name, its botocore name and its IAM prefix, so `s3` covers `s3api`).
    In read-only mode every write is refused. Help is never refused by the lists: it runs nothing.
    """
    if verdict.is_reject:
        return verdict
    where = {"service": verdict.service or resolved.service, "operation": verdict.operation}
    if not resolved.is_help:
        if _service_listed(settings.deny_services, resolved):
            return reject(
                "mode:service-denied",
                f"the server denies the {resolved.service} service",
                fix="the server's deny list (AWS_MCP_DENY_SERVICES) is set by its operator",
                **where,
            )
        if _operation_listed(settings.deny_operations, resolved):
            return reject(
                "mode:operation-denied",
                f"the server denies '{resolved.command_name}'",
                fix="the server's deny list (AWS_MCP_DENY_OPERATIONS) is set by its operator",
                **where,
            )
        if (settings.allow_services or settings.allow_operations) and not (
            _service_listed(settings.allow_services, resolved)
            or _operation_listed(settings.allow_operations, resolved)
        ):
            allowed = ", ".join((*settings.allow_services, *settings.allow_operations))
            return reject(
                "mode:not-allowed",
                f"'{resolved.command_name}' is not in the server's allow list ({allowed})",
                fix="use one of the allowed services or operations",
                **where,
            )
        for service in client_services(resolved):
            # A customization that builds clients of other services (an IAM role, an S3 bucket)
            # is covered by the lists for each of them.
            refusal = client_refusal(service, settings)
            if refusal is not None:
                return reject(
                    refusal.rule,
                    f"`{resolved.command_name}` calls the {service} service, which the server "
                    + ("denies" if refusal.rule == "mode:service-denied" else "does not allow"),
                    fix=refusal.fix,
                    **where,
                )
    if verdict.sensitive and verdict.verdict == "read" and settings.sensitive_reads == "refuse":
        return reject(
            "mode:sensitive-refused",
            f"the server refuses reads that return secrets or credentials-derived values "
            f"({verdict.reason})",
            fix="the server's operator set --sensitive-reads refuse (AWS_MCP_SENSITIVE_READS); "
            "read the secret outside this server",
            **where,
        )
    if settings.read_only and verdict.verdict == "write":
        return reject(
            "mode:read-only",
            f"the server is read-only, and this command is a write ({verdict.reason})",
            fix="only read commands run on this server (AWS_MCP_READ_ONLY)",
            **where,
        )
    return verdict


def as_error(verdict: Verdict) -> PolicyError:
    """A reject verdict as the error the tools raise."""
    return PolicyError(verdict.reason, rule=verdict.rule, fix=verdict.fix)
