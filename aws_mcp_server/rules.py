"""Every rule id, in one place. They are public: in refusals, `classify` output and audit lines.

One scheme: `family:name`, lower case, words joined by `-`. `classify:*` rules decide read or
write; every other family refuses (a reject verdict, a refused call, or a setting the server will
not start with). docs/classification.md lists them from here; a test checks that every id the
code uses is listed and every listed id is used.
"""

from __future__ import annotations

RULES: dict[str, str] = {
    # what decides read or write (classify.py)
    "classify:help": "help only renders documentation: a read",
    "classify:custom-table": "an awscli customization, decided by data/custom_commands.json",
    "classify:override": "a curated verdict for an API operation (data/overrides.json)",
    "classify:local-output": "the operation writes a local file (an outfile): a write",
    "classify:output-credentials": "a read whose output carries AWS credentials mints them: a write",
    "classify:side-effect-verb": "a read whose name or documentation says it starts, delivers, "
    "detects, tests, invokes, generates, sends or publishes something: a write",
    "classify:readonly-trait": "botocore's readonly trait",
    "classify:iam-access-level": "the IAM access level of the action (List/Read: read)",
    "classify:verb-guard": "a read by trait or IAM level whose name starts with a mutating verb: "
    "a write",
    "classify:verb": "the operation's verb (describe-, list-, get-...): a read",
    "classify:default-write": "nothing says it only reads: a write",
    # the command text (guards/tokens.py)
    "parse:empty": "the command is empty or names no service",
    "parse:too-long": "the command is over the length limit",
    "parse:control-char": "a control or bidirectional character",
    "parse:quotes": "a quote that is never closed",
    "parse:shell-operator": "a shell operator (|, &&, ;, >, ...) outside quotes",
    "parse:substitution": "command substitution (`...`, $(...))",
    "parse:expansion": "a $VARIABLE or ~ a shell would expand",
    "parse:comment": "a # that would start a shell comment",
    "parse:assignment": "a NAME=value environment assignment before the command",
    "parse:backslash": "a backslash that could be an escape or part of a Windows path",
    # what awscli and botocore would not accept (adapter/resolution.py, adapter/validation.py)
    "validation:empty": "no command",
    "validation:unknown-service": "not an AWS CLI service",
    "validation:missing-service": "no service named",
    "validation:unknown-operation": "not an operation (or sub-command) of the service",
    "validation:missing-operation": "the service needs an operation",
    "validation:unknown-option": "an option the command does not have",
    "validation:missing-argument": "a required argument is missing",
    "validation:missing-value": "an option given without a value",
    "validation:bad-choice": "a value that is not one of the option's choices",
    "validation:query": "a --query that is not JMESPath",
    "validation:arguments": "arguments argparse refused",
    "validation:parameters": "botocore's request validation refused a value",
    "validation:region": "a region no AWS partition has",
    # guards (guards/)
    "path:outside-workdir": "a local file outside the workdir",
    "path:expansion": "a local path with $ or ~ that awscli would expand",
    "path:stdin": "standard input (the server has none: on stdio it is the protocol)",
    "path:invalid": "an empty local path",
    "url:fetch": "a URL parameter value awscli v1 would fetch from this machine",
    "endpoint:not-allowed": "an endpoint that is not this machine, the server's, or allow-listed",
    "endpoint:invalid": "an endpoint that is not a plain http(s) URL",
    "option:debug": "--debug (logs credentials and signed requests)",
    "option:no-verify-ssl": "--no-verify-ssl",
    "option:profile": "--profile in the command (the tool's profile parameter is the way)",
    "option:version": "--version",
    "blocked:configure": "configure (prints and writes the AWS config and credentials)",
    "blocked:history": "history (the local record of past commands)",
    "blocked:login": "browser sign-in or sign-out",
    "blocked:subprocess": "a command that runs a subprocess or a shell",
    "blocked:stdin": "a command that reads standard input",
    "blocked:cwd-write": "a command that writes credentials into the working directory",
    "blocked:package-artifacts": "cloudformation package (uploads any path its template names)",
    "blocked:user-config": "a command that writes user configuration outside the workdir",
    "mode:read-only": "a write on a read-only server",
    "mode:service-denied": "a service the server denies (or one the command calls)",
    "mode:operation-denied": "an operation the server denies",
    "mode:not-allowed": "outside the server's allow lists",
    "mode:sensitive-refused": "a sensitive read with --sensitive-reads refuse",
    # the call (server.py, profiles.py, adapter/credentials.py, engine.py)
    "input:arguments": "tool arguments that do not fit the tool's schema (a missing or "
    "mistyped name, a wrong type)",
    "input:too-long": "a tool argument over its length limit",
    "input:control-char": "control characters in a profile or region name",
    "profile:unknown": "a profile in neither the config nor the credentials file",
    "profile:not-allowed": "a profile outside the server's profile allow-list",
    "profile:config-file": "a config or credentials file the AWS CLI cannot read",
    "credentials:sso-login": "the SSO sign-in is missing or expired",
    "credentials:mfa": "the role needs an MFA code, which cannot be typed here",
    "credentials:process": "the profile's credential_process failed",
    "credentials:missing": "no credentials for the profile",
    "credentials:no-region": "no region for the profile",
    "engine:max-concurrency": "too many commands running",
    "audit:unwritable": "the --audit-log cannot be written: nothing runs unaudited",
    "internal:bug": "a bug in aws-mcp-server (the command is refused, never run)",
    "internal:awscli": "the installed awscli could not be loaded (every command is refused)",
    # start-up (settings.py, http.py, sandbox.py): `settings:<setting>` for each setting
    "settings:unknown": "a setting the server does not have",
    "http:remote-bind": "a non-loopback HTTP bind without a token or --allow-remote",
    "http:bind": "the HTTP port cannot be listened on (in use, or not this machine's address)",
    "sandbox:missing": "--sandbox without the emulator installed",
}


def setting_rules() -> dict[str, str]:
    """`settings:<setting>`: a value of that setting the server cannot use."""
    from aws_mcp_server.settings import OPTIONS

    return {option.rule: f"a value of {option.flag} the server cannot use" for option in OPTIONS}


def all_rules() -> dict[str, str]:
    return {**RULES, **setting_rules()}


def markdown_table() -> str:
    """The rule table of docs/classification.md."""
    lines = ["| rule | what it means |", "|---|---|"]
    for rule, meaning in sorted(all_rules().items()):
        lines.append(f"| `{rule}` | {meaning} |")
    return "\n".join(lines) + "\n"
