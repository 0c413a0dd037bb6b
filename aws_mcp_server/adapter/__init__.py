"""The one owner of awscli and botocore: nothing outside this package imports or patches them.

    import aws_mcp_server.adapter      # first, before anything imports botocore or boto3

Importing the package installs the per-call stream proxies (they must be in place before awscli
binds any stream), imports awscli *before* botocore (awscli 1.46 ships its own botocore and
aliases `import botocore` to it; whichever copy loads first wins for the whole process), checks
which copy won, and applies every patch (`patches`), each checked against the shape it expects.

    capture         per-call stdout/stderr/stdin, cancel tokens, routed by thread
    patches         every patch of awscli/botocore, each naming what it replaces, checked at import
    driver          a fresh CLIDriver and botocore session per call, and the shared caches
    events          the copy-on-write handler tree; botocore's built-ins registered once
    cli_handlers    awscli's stateless handlers registered once, its stateful ones per call
    credentials     credentials resolved once per profile, failures explained
    resolution      argv -> Resolved through awscli's own command tables and parsers
    validation      the unsigned dry run that lets botocore validate a request
    runtime_guards  the local-file guards on the values awscli opens itself while a command runs
    helptext        awscli's reStructuredText help rendered to plain text in-process
    shapes          what an operation's output shape and documentation say (OperationFacts)
    facts           the awscli facts the pure guards need, for the generated data file
"""

from __future__ import annotations

import os

from aws_mcp_server.adapter import capture

capture.install()

import awscli  # noqa: E402  (must come before botocore: see the module docstring)
import botocore  # noqa: E402

AWSCLI_VERSION: str = awscli.__version__
BOTOCORE_VERSION: str = botocore.__version__

_AWSCLI_DIR = os.path.dirname(os.path.abspath(awscli.__file__))
if not os.path.abspath(botocore.__file__).startswith(_AWSCLI_DIR):
    raise ImportError(
        f"botocore was imported from {botocore.__file__} before awscli could install its own copy; "
        "import aws_mcp_server.adapter before anything imports botocore or boto3"
    )

from aws_mcp_server.adapter import patches  # noqa: E402

patches.apply()
