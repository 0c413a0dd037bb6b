"""URL parameter values: awscli v1 fetches them. Pure.

awscli v1 replaces an `http://` or `https://` parameter value with what a GET from this machine
returns (SSRF: cloud metadata, internal services), unless the parameter takes a URL as text
(awscli exempts those; resolution marks their values `url-text`). One predicate, one rule:
`url:fetch`. The same refusal sits in awscli's fetcher itself while a command runs (`patches`).
"""

from __future__ import annotations

from aws_mcp_server.model import ArgValue, Verdict, reject

URL_PREFIXES = ("http://", "https://")
"""Values awscli v1 fetches (awscli.paramfile.REMOTE_PREFIX_MAP) unless the parameter is exempt."""

FIX = "pass the content itself, or save it to a file in the workdir and pass file://PATH"


def fetched(value: ArgValue) -> bool:
    """True when awscli would fetch this value from the network."""
    return value.kind != "url-text" and value.text.lower().startswith(URL_PREFIXES)


def refusal(value: ArgValue, service: str | None) -> Verdict:
    where = f"--{value.option}" if value.option else "a positional argument"
    return reject(
        "url:fetch",
        f"the value of {where} is a URL, and awscli would fetch it from this machine",
        service=service,
        fix=FIX,
    )
