"""Facts about an API operation read from its botocore model: what its output carries and what its
documentation says it does. Pure: it takes botocore's `OperationModel` objects (duck-typed: the
name, the documentation, and the model JSON behind them) and imports neither awscli nor botocore.

    operation_facts(model) -> OperationFacts(credential_members, secret_members, documentation_verb)

The output shape is walked through structures, lists and maps. Each named structure is summarised
once per service and the summary reused wherever the structure appears again (QuickSight's
definitions share thousands of shapes); a structure that contains itself ends the walk there.
Facts are cached per (service, operation): resolution asks for them on every call and a sweep
asks for all ~19,000.
"""

from __future__ import annotations

import html
import re
from functools import cache
from typing import Any

from aws_mcp_server.model import OperationFacts

# --- member names ------------------------------------------------------------------------------

_NAME_WORDS = re.compile(r"[A-Z]+(?![a-z])|[A-Z][a-z]*|[a-z]+|[0-9]+")

_COMPOUNDS = (
    (("secret", "access", "key"), "secretaccesskey"),
    (("private", "key"), "privatekey"),
    (("api", "key"), "apikey"),
    (("secret", "key"), "secretkey"),
)

SECRET_NOUNS = frozenset(
    """
    password passwords passphrase secret secrets token tokens credential credentials
    privatekey apikey secretkey secretaccesskey
    """.split()  # noqa: SIM905 - a word list reads better quoted once
)
"""Words that make a member name say its value is a secret (after joining `private key`...)."""

# A word after the noun turns the member into metadata about the secret: `SecretArn`,
# `PasswordPolicy`, `TokenType`, `SecretStringKey` (a JSON key name), `AuthTokenStatus`.
_QUALIFIERS = frozenset(
    """
    arn arns id ids name names status type types version versions source policy policies length
    expiration expires expiry date time timestamp url urls endpoint header kms configuration config
    enabled required algorithm count location prefix provider scope format validity units xpath
    field param parameter rotation used age reset summary summaries mode method methods issuer
    issuers claim audiences key keys identifier details info options requirements selection only
    lifetime hashing generation filter strength exchange balance balances standard state support
    supported rule reference hint duration level
    """.split()  # noqa: SIM905
)

# Tokens that page, order or deduplicate requests: `NextToken` is marked sensitive in some
# models, and none of these grant anything.
_NOT_SECRET_TOKENS = frozenset(
    """
    next pagination continuation page client request idempotency sync update lock change version
    sequence chunk forward backward previous poll result block upload creation
    """.split()  # noqa: SIM905
)

_REDACTED = re.compile(r"\b(?:redacted|masked)\b", re.IGNORECASE)


@cache
def _normal(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def name_words(name: str) -> list[str]:
    """`SecretAccessKey` -> ["secretaccesskey"]; `HECToken` -> ["hec", "token"]: lower-case words,
    with the compound nouns of `SECRET_NOUNS` joined."""
    words = [w.lower() for w in _NAME_WORDS.findall(name)]
    joined: list[str] = []
    i = 0
    while i < len(words):
        for parts, compound in _COMPOUNDS:
            if tuple(words[i : i + len(parts)]) == parts:
                joined.append(compound)
                i += len(parts)
                break
        else:
            joined.append(words[i])
            i += 1
    return joined


@cache
def secret_noun(name: str) -> str | None:
    """The word in a member name that says its value is a secret, or None.

    `ClientSecret` -> "secret", `MasterUserPassword` -> "password", `JoinToken` -> "token";
    `SecretArn`, `PasswordPolicy` and `NextToken` -> None (metadata about a secret, or a token that
    only pages through results).
    """
    words = name_words(name)
    for at, word in enumerate(words):
        if word not in SECRET_NOUNS:
            continue
        if any(after in _QUALIFIERS for after in words[at + 1 :]):
            continue
        if word in ("token", "tokens") and at > 0 and words[at - 1] in _NOT_SECRET_TOKENS:
            continue
        return word
    return None


# --- output shapes -----------------------------------------------------------------------------


def _credential_member(members: dict[str, Any]) -> str | None:
    """The member of one structure that makes it AWS credentials, or None.

    A secret access key is enough on its own. Cognito calls its secret `SecretKey`, and a
    session token is credentials only next to an access key id (Cognito Sync's
    `SyncSessionToken` is a sync cursor).
    """
    by_normal = {_normal(name): name for name in members}
    if "secretaccesskey" in by_normal:
        return by_normal["secretaccesskey"]
    if "accesskeyid" in by_normal:
        for other in ("secretkey", "sessiontoken"):
            if other in by_normal:
                return by_normal[other]
    return None


def _is_secret_leaf(name: str, ref: dict[str, Any], target: dict[str, Any]) -> bool:
    if target.get("type") not in ("string", "blob") or secret_noun(name) is None:
        return False
    if not (target.get("sensitive") or ref.get("sensitive")):
        return False
    # "The password value is always redacted in the response." (FSx `FsxAdminPassword`)
    return not _REDACTED.search(str(ref.get("documentation") or target.get("documentation") or ""))


_EXAMPLES = 3
"""Member paths kept per fact and shape: enough to name the member in a reason, and the number
of paths stays bounded however often a shape is shared."""

_Paths = tuple[tuple[str, ...], tuple[str, ...]]
_NOTHING: _Paths = ((), ())


def _shortest(paths: list[str]) -> tuple[str, ...]:
    unique = sorted(set(paths), key=lambda p: (p.count(".") + p.count("["), p))
    return tuple(unique[:_EXAMPLES])


class _Walk:
    """One walk down one output shape, sharing its service's finished structure summaries.

    Works on the service model's JSON (`shapes`: name -> {"type", "members", "sensitive"...}).
    A structure's summary (the credential and secret member paths under it, each starting with
    `.`) is kept by shape name for every later walk of the service, unless its walk met a
    structure still being walked above it (a recursive shape): such a summary lacks what the
    cycle leads back to, and only the structure the cycle returns to is complete and kept.
    """

    def __init__(self, shapes: dict[str, Any], done: dict[str, _Paths]) -> None:
        self.shapes = shapes
        self.done = done
        self.depth: dict[str, int] = {}  # structures on the current path, by name

    def summary(self, name: str) -> tuple[_Paths, int]:
        """(paths under shape `name`, the shallowest depth on the current path a cycle under it
        returned to)."""
        shape: dict[str, Any] = self.shapes.get(name) or {}
        kind = shape.get("type")
        here = len(self.depth)
        if kind in ("list", "map"):
            ref = shape["member"] if kind == "list" else shape["value"]
            (inner_credentials, inner_secrets), low = self.summary(ref["shape"])
            mark = "[]" if kind == "list" else "{}"
            marked = (
                tuple(mark + p for p in inner_credentials),
                tuple(mark + p for p in inner_secrets),
            )
            return marked, low
        if kind != "structure":
            return _NOTHING, here
        if name in self.done:
            return self.done[name], here
        if name in self.depth:
            return _NOTHING, self.depth[name]
        self.depth[name] = here
        low = here
        members: dict[str, Any] = shape.get("members") or {}
        credentials: list[str] = []
        secrets: list[str] = []
        credential = _credential_member(members)
        if credential is not None:
            credentials.append("." + credential)
        for member_name, ref in members.items():
            target: dict[str, Any] = self.shapes.get(ref["shape"]) or {}
            if _is_secret_leaf(member_name, ref, target):
                secrets.append("." + member_name)
            elif target.get("type") in ("structure", "list", "map"):
                (below_credentials, below_secrets), below_low = self.summary(ref["shape"])
                low = min(low, below_low)
                credentials.extend(f".{member_name}{p}" for p in below_credentials)
                secrets.extend(f".{member_name}{p}" for p in below_secrets)
        del self.depth[name]
        paths = (_shortest(credentials), _shortest(secrets))
        if low >= here:
            self.done[name] = paths
        return paths, low


# service -> structure name -> summary. Summaries are immutable and complete, so threads that race
# to add the same one add equal values.
_summaries: dict[str, dict[str, _Paths]] = {}


def output_members(service: str, shapes: dict[str, Any], output: str | None) -> _Paths:
    """(credential member paths, secret member paths) under the output shape named `output` of
    a service whose model JSON has `shapes`: at most three of each, shortest first.

    Paths join member names with dots and mark lists with `[]` and maps with `{}`:
    `jobs[].data.artifactCredentials.secretAccessKey`.
    """
    if output is None:
        return _NOTHING
    done = _summaries.setdefault(service, {})
    (credentials, secrets), _ = _Walk(shapes, done).summary(output)
    return tuple(p[1:] for p in credentials), tuple(p[1:] for p in secrets)


# --- documentation -----------------------------------------------------------------------------

_TAG = re.compile(r"<[^>]+>")
_SENTENCE = re.compile(r"(.+?[.!?:])(?:\s|$)")
_LEADS = (
    # "(Deprecated) Returns ...", "Deprecated. Use ..."
    re.compile(r"^\(?deprecated\)?[.:]?\s+", re.IGNORECASE),
    re.compile(r"^(?:asynchronously|synchronously|programmatically)\s+", re.IGNORECASE),
    # "This operation generates ...", "The GetFileUploadURL operation generates ..."
    re.compile(
        r"^(?:this|the)(?:\s+\S+)?\s+(?:operation|action|api|request|call)\s+", re.IGNORECASE
    ),
    # "Use this operation to test a log transformer."
    re.compile(
        r"^use\s+(?:this|the)(?:\s+\S+)?\s+(?:operation|action|api|request)\s+to\s+", re.IGNORECASE
    ),
    # "Given an attribute name, sends a user attribute verification code ..."
    re.compile(r"^given\s+[^,]{1,80},\s+", re.IGNORECASE),
)
_FIRST_WORD = re.compile(r"[A-Za-z][A-Za-z0-9-]*")


def first_sentence(documentation: str) -> str:
    """The first sentence of an operation's documentation, HTML stripped, whitespace collapsed."""
    text = " ".join(html.unescape(_TAG.sub(" ", documentation or "")).split())
    match = _SENTENCE.match(text)
    return (match.group(1) if match else text).strip()


def base_form(word: str) -> str:
    """`Generates` -> `Generate`, `Publishes` -> `Publish`, `Queries` -> `Query`; capitalized."""
    lower = word.lower()
    if lower.endswith("ies") and len(lower) > 4:
        lower = lower[:-3] + "y"
    elif lower.endswith(("ches", "shes", "sses", "xes", "zes")):
        lower = lower[:-2]
    elif lower.endswith("s") and not lower.endswith("ss"):
        lower = lower[:-1]
    return lower.capitalize()


def documentation_verb(operation_name: str, documentation: str) -> str:
    """The verb an operation's documentation opens with, in its base form, or "".

    "Generates a credential report" -> `Generate`; "InferRxNorm detects medications" -> `Detect`
    (the operation's own name is skipped); "This operation generates a label" -> `Generate`.
    """
    sentence = first_sentence(documentation)
    changed = True
    while changed:
        changed = False
        for lead in _LEADS:
            stripped = lead.sub("", sentence, count=1)
            if stripped != sentence:
                sentence, changed = stripped, True
        word = _FIRST_WORD.match(sentence)
        if word and word.group(0).lower() == operation_name.lower():
            sentence, changed = sentence[word.end() :].lstrip(), True
    word = _FIRST_WORD.match(sentence)
    return base_form(word.group(0)) if word else ""


# --- the facts, cached -------------------------------------------------------------------------

# Two threads may compute the same facts at once; both get equal values and one is kept.
_cache: dict[tuple[str, str], OperationFacts] = {}


def _model_json(operation: Any) -> tuple[dict[str, Any], str | None]:
    """The service's shapes and the operation's output shape name, as the model JSON has them.

    botocore's `Shape` objects copy every member's traits on each access (5 s for a sweep of every
    operation); its shape map is the same JSON, read in 0.3 s.
    """
    shapes: dict[str, Any] = operation.service_model._shape_resolver._shape_map
    output = operation._operation_model.get("output")
    return shapes, (str(output["shape"]) if output else None)


def operation_facts(operation: Any) -> OperationFacts:
    """What `operation` (a botocore `OperationModel`) returns and what its documentation says."""
    service = str(operation.service_model.service_name)
    key = (service, str(operation.name))
    facts = _cache.get(key)
    if facts is not None:
        return facts
    shapes, output = _model_json(operation)
    credentials, secrets = output_members(service, shapes, output)
    facts = OperationFacts(
        credential_members=credentials,
        secret_members=secrets,
        documentation_verb=documentation_verb(operation.name, operation.documentation or ""),
    )
    return _cache.setdefault(key, facts)
