"""The values that flow between resolution, guards and classification. Pure: no awscli import.

    text --guards.tokens--> argv --adapter.resolution--> Resolved --guards / classify--> Verdict
                                              decision.decide --> RunPlan --> engine

`Resolved` is what awscli's own parsers made of a command: which service and operation it names,
its global options and its arguments. `Verdict` is one decision about it, with the stable id of
the rule that made it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal

VerdictKind = Literal["read", "write", "reject"]

_EMPTY: Mapping[str, object] = MappingProxyType({})


ValueKind = Literal["value", "streaming-input", "outfile", "url-text"]
"""What awscli does with a command-line value, from the argument object it belongs to: `value`
(anything: awscli loads it from a file for file://, fetches it for http(s):// in v1),
`streaming-input` (a local path awscli opens and streams: `s3api put-object --body`), `outfile` (a
local path awscli writes: `s3api get-object ... OUTFILE`, `--outfile`), `url-text` (a value awscli
passes on as text even when it is a URL: the parameter is exempt from paramfile loading)."""


@dataclass(frozen=True)
class ArgValue:
    """One value on the command line, where it stands in argv, and whose it is.

    `index` is the position of its word in argv (for `--option=value`, that word; `inline` is
    then True). `option` is the option as awscli names it (`template-file`, `endpoint-url`), None
    for a positional; `dest` is argparse's destination. `scope` says whether a global option
    owns it (`global`) or the command (`command`).
    """

    index: int
    text: str
    option: str | None
    dest: str
    inline: bool = False
    scope: Literal["global", "command"] = "command"
    kind: ValueKind = "value"


@dataclass(frozen=True)
class OperationFacts:
    """What an API operation's botocore model says about it, beyond its name and traits.

    `credential_members` are output member paths that carry AWS credentials (the secret half of
    a key pair, or a session token next to an access key id): `Credentials.SecretAccessKey`.
    `secret_members` are output member paths the model marks `sensitive` whose names say they
    hold a secret, password, token or private key: `SecretString`. `documentation_verb` is the
    verb the operation's documentation opens with, in its base form (`Generate` for
    "Generates a credential report..."), or "" when it opens with something else.
    """

    credential_members: tuple[str, ...] = ()
    secret_members: tuple[str, ...] = ()
    documentation_verb: str = ""


NO_FACTS = OperationFacts()
"""The facts of a command that is not one API operation (customizations, help)."""


@dataclass(frozen=True)
class Resolved:
    """A command as awscli's command table and argument parsers understand it.

    `service` and `operation` are CLI names (`s3api`, `list-buckets`); `botocore_service` and
    `operation_name` are the model names (`s3`, `ListBuckets`), None for custom commands that have
    no single API operation. `command_path` is every command word after `aws`
    (`("ec2", "wait", "instance-running")`). `global_options` and `arguments` are keyed by
    argparse dest (`endpoint_url`, `bucket`): global options hold every option with its parsed
    value (defaults included: `verify_ssl` is False only after `--no-verify-ssl`), arguments hold
    only what the command line gave. `signing_name` is the IAM action prefix of the service
    (`ec2`, `s3`, `elasticloadbalancing`). `output_files` are the local paths that outfile-type
    arguments (`s3api get-object ... OUTFILE`, `--outfile`) would write. `facts` is what the
    operation's model says about its output and documentation (`NO_FACTS` for customizations).
    """

    argv: tuple[str, ...]
    service: str
    botocore_service: str | None = None
    operation: str | None = None
    operation_name: str | None = None
    command_path: tuple[str, ...] = ()
    is_custom: bool = False
    is_help: bool = False
    global_options: Mapping[str, object] = field(default_factory=lambda: _EMPTY)
    arguments: Mapping[str, object] = field(default_factory=lambda: _EMPTY)
    positionals: tuple[str, ...] = ()
    readonly_trait: bool | None = None
    signing_name: str | None = None
    output_files: tuple[str, ...] = ()
    command_classes: tuple[str, ...] = ()
    """The qualified class name of each command object awscli resolved along `command_path`
    (`awscli.clidriver.ServiceCommand`, `awscli.customizations.codedeploy.register.Register`): what
    will run, whatever words reached it."""
    options: frozenset[str] = frozenset()
    """The option names (`no-progress`, `instance-ids`) the resolved command accepts."""
    facts: OperationFacts = NO_FACTS
    values: tuple[ArgValue, ...] = ()
    """Every value argparse took from argv, in argv order: the one model of the command line
    that the guards check and the local-path rewrite edits by index."""

    @property
    def command_name(self) -> str:
        """`s3 cp`, `ec2 wait instance-running`: the command words joined by spaces."""
        return " ".join(self.command_path)


@dataclass(frozen=True)
class Verdict:
    """One decision, read / write / reject, and the stable id of the rule that made it."""

    verdict: VerdictKind
    rule: str
    reason: str
    service: str | None = None
    operation: str | None = None
    sensitive: bool = False
    fix: str = ""

    @property
    def is_reject(self) -> bool:
        return self.verdict == "reject"


def reject(
    rule: str,
    reason: str,
    *,
    service: str | None = None,
    operation: str | None = None,
    fix: str = "",
) -> Verdict:
    """A reject verdict: the shape every guard and every failure takes."""
    return Verdict("reject", rule, reason, service=service, operation=operation, fix=fix)


@dataclass(frozen=True)
class RunPlan:
    """Everything the engine needs to run one decided command, taken from its resolution.

    The engine acts on this and never re-reads the words: `argv` is exactly what awscli gets (local
    paths made absolute inside the workdir; the server-wide `--endpoint-url`, `--no-progress` and the
    tool's `--region` added where they apply); `endpoint_url` is where every client the call creates
    is sent unless it names its own (customizations build clients of their own, credential providers
    call STS); `services` are the services whose clients the command may create besides its own,
    checked again at run time against the server's service lists.
    """

    argv: tuple[str, ...]
    is_help: bool = False
    endpoint_url: str | None = None
    services: tuple[str, ...] = ()
