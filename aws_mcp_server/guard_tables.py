"""Tables the guards need about the installed awscli, as data. Pure: no awscli import.

The first three are derived from awscli 1.46's own command tables; `tests/test_policy.py`
rebuilds them from the installed awscli and fails when they drift (an upgrade that adds a
streaming operation or a URL exemption must show up here). The curated tables below them are
checked the same way: every command path and option they name must exist.
"""

from __future__ import annotations

STREAMING_INPUTS: frozenset[tuple[str, ...]] = frozenset(
    {
        ("cloudsearchdomain", "upload-documents", "documents"),
        ("codeartifact", "publish-package-version", "asset-content"),
        ("ebs", "put-snapshot-block", "block-data"),
        ("glacier", "upload-archive", "body"),
        ("glacier", "upload-multipart-part", "body"),
        ("lambda", "invoke-async", "invoke-args"),
        ("lex-runtime", "post-content", "input-stream"),
        ("lexv2-runtime", "recognize-utterance", "input-stream"),
        ("mediastore-data", "put-object", "body"),
        ("omics", "upload-read-set-part", "payload"),
        ("s3api", "put-object", "body"),
        ("s3api", "put-object-annotation", "annotation-payload"),
        ("s3api", "upload-part", "body"),
        ("s3api", "write-get-object-response", "body"),
    }
)
"""(service, operation, option): a streaming blob; awscli opens the value as a local file path."""

STREAMING_OUTPUTS: frozenset[tuple[str, ...]] = frozenset(
    {
        ("apigateway", "get-export"),
        ("apigateway", "get-sdk"),
        ("apigatewayv2", "export-api"),
        ("appconfig", "create-hosted-configuration-version"),
        ("appconfig", "get-configuration"),
        ("appconfig", "get-hosted-configuration-version"),
        ("appconfigdata", "get-latest-configuration"),
        ("appsync", "get-introspection-schema"),
        ("bedrock-agentcore", "invoke-agent-runtime"),
        ("bedrock-runtime", "invoke-model"),
        ("cloudfront", "get-connection-function"),
        ("cloudfront", "get-function"),
        ("codeartifact", "get-package-version-asset"),
        ("codeguruprofiler", "get-profile"),
        ("datazone", "get-lineage-event"),
        ("ebs", "get-snapshot-block"),
        ("geo-maps", "get-glyphs"),
        ("geo-maps", "get-sprites"),
        ("geo-maps", "get-static-map"),
        ("geo-maps", "get-style-descriptor"),
        ("geo-maps", "get-tile"),
        ("glacier", "get-job-output"),
        ("iot-data", "delete-thing-shadow"),
        ("iot-data", "get-thing-shadow"),
        ("iot-data", "update-thing-shadow"),
        ("iotwireless", "get-position-estimate"),
        ("iotwireless", "get-resource-position"),
        ("kinesis-video-archived-media", "get-clip"),
        ("kinesis-video-archived-media", "get-media-for-fragment-list"),
        ("kinesis-video-media", "get-media"),
        ("lakeformation", "get-work-unit-results"),
        ("lambda", "invoke"),
        ("lex-runtime", "post-content"),
        ("lex-runtime", "put-session"),
        ("lexv2-runtime", "put-session"),
        ("lexv2-runtime", "recognize-utterance"),
        ("location", "get-map-glyphs"),
        ("location", "get-map-sprites"),
        ("location", "get-map-style-descriptor"),
        ("location", "get-map-tile"),
        ("medialive", "describe-input-device-thumbnail"),
        ("mediastore-data", "get-object"),
        ("medical-imaging", "get-image-frame"),
        ("medical-imaging", "get-image-set-metadata"),
        ("neptune-graph", "execute-query"),
        ("neptunedata", "execute-gremlin-explain-query"),
        ("neptunedata", "execute-gremlin-profile-query"),
        ("neptunedata", "execute-open-cypher-explain-query"),
        ("omics", "get-read-set"),
        ("omics", "get-reference"),
        ("polly", "synthesize-speech"),
        ("runtime.sagemaker", "invoke-endpoint"),
        ("s3api", "get-object"),
        ("s3api", "get-object-annotation"),
        ("s3api", "get-object-torrent"),
        ("sagemaker-geospatial", "get-tile"),
        ("sagemaker-runtime", "invoke-endpoint"),
        ("sagemakerjobruntime", "sample"),
        ("sagemakerjobruntime", "sample-with-response-stream"),
        ("schemas", "get-code-binding-source"),
        ("tnb", "get-sol-function-package-content"),
        ("tnb", "get-sol-function-package-descriptor"),
        ("tnb", "get-sol-network-package-content"),
        ("tnb", "get-sol-network-package-descriptor"),
        ("workmailmessageflow", "get-raw-message-content"),
    }
)
"""(service, operation): the positional `outfile` argument is a local file awscli writes."""

URL_NOT_FETCHED: frozenset[tuple[str, ...]] = frozenset(
    {
        ("cloudformation", "create-change-set", "template-url"),
        ("cloudformation", "create-stack", "stack-policy-url"),
        ("cloudformation", "create-stack", "template-url"),
        ("cloudformation", "create-stack-set", "template-url"),
        ("cloudformation", "deploy", "template-file"),
        ("cloudformation", "estimate-template-cost", "template-url"),
        ("cloudformation", "get-template-summary", "template-url"),
        ("cloudformation", "package", "template-file"),
        ("cloudformation", "register-type", "schema-handler-package"),
        ("cloudformation", "set-stack-policy", "stack-policy-url"),
        ("cloudformation", "update-stack", "stack-policy-during-update-url"),
        ("cloudformation", "update-stack", "stack-policy-url"),
        ("cloudformation", "update-stack", "template-url"),
        ("cloudformation", "update-stack-set", "template-url"),
        ("cloudformation", "validate-template", "template-url"),
        ("cloudfront", "sign", "url"),
        ("comprehend", "batch-detect-dominant-language", "text-list"),
        ("comprehend", "batch-detect-entities", "text-list"),
        ("comprehend", "batch-detect-key-phrases", "text-list"),
        ("comprehend", "batch-detect-sentiment", "text-list"),
        ("comprehend", "detect-dominant-language", "text"),
        ("comprehend", "detect-entities", "text"),
        ("comprehend", "detect-key-phrases", "text"),
        ("comprehend", "detect-sentiment", "text"),
        ("configure", "set", "value"),
        ("dlm", "create-default-role", "iam-endpoint"),
        ("docdb", "copy-db-cluster-snapshot", "pre-signed-url"),
        ("docdb", "create-db-cluster", "pre-signed-url"),
        ("emr", "create-default-roles", "iam-endpoint"),
        ("emr-containers", "update-role-trust-policy", "iam-endpoint"),
        ("guardduty", "create-ip-set", "location"),
        ("guardduty", "create-threat-intel-set", "location"),
        ("guardduty", "update-ip-set", "location"),
        ("guardduty", "update-threat-intel-set", "location"),
        ("iam", "create-open-id-connect-provider", "url"),
        ("iot", "create-job", "document-source"),
        ("neptune", "copy-db-cluster-snapshot", "pre-signed-url"),
        ("neptune", "create-db-cluster", "pre-signed-url"),
        ("rds", "copy-db-cluster-snapshot", "pre-signed-url"),
        ("rds", "copy-db-snapshot", "pre-signed-url"),
        ("rds", "create-db-cluster", "pre-signed-url"),
        ("rds", "create-db-instance-read-replica", "pre-signed-url"),
        ("s3", "cp", "website-redirect"),
        ("s3", "mv", "website-redirect"),
        ("s3", "sync", "website-redirect"),
        ("s3api", "copy-object", "website-redirect-location"),
        ("s3api", "create-multipart-upload", "website-redirect-location"),
        ("s3api", "put-object", "website-redirect-location"),
        ("sns", "subscribe", "notification-endpoint"),
        ("sqs", "add-permission", "queue-url"),
        ("sqs", "change-message-visibility", "queue-url"),
        ("sqs", "change-message-visibility-batch", "queue-url"),
        ("sqs", "delete-message", "queue-url"),
        ("sqs", "delete-message-batch", "queue-url"),
        ("sqs", "delete-queue", "queue-url"),
        ("sqs", "get-queue-attributes", "queue-url"),
        ("sqs", "list-dead-letter-source-queues", "queue-url"),
        ("sqs", "list-queue-tags", "queue-url"),
        ("sqs", "purge-queue", "queue-url"),
        ("sqs", "receive-message", "queue-url"),
        ("sqs", "remove-permission", "queue-url"),
        ("sqs", "send-message", "queue-url"),
        ("sqs", "send-message-batch", "queue-url"),
        ("sqs", "set-queue-attributes", "queue-url"),
        ("sqs", "tag-queue", "queue-url"),
        ("sqs", "untag-queue", "queue-url"),
        ("translate", "translate-text", "text"),
        ("workdocs", "create-notification-subscription", "notification-endpoint"),
    }
)
"""(command words..., option): http(s) values awscli passes on as text instead of fetching."""

LOCAL_PATH_OPTIONS: dict[tuple[str, ...], dict[str, str]] = {
    # command path -> {option: "read" | "write"}: options whose value is a local path that a
    # customization opens itself (no file:// prefix, so the paramfile handler never sees it).
    ("cloudformation", "deploy"): {"template-file": "read"},
    ("cloudformation", "package"): {"template-file": "read", "output-template-file": "write"},
    ("ec2", "get-password-data"): {"priv-launch-key": "read"},
    ("ecs", "deploy"): {"task-definition": "read", "codedeploy-appspec": "read"},
    ("deploy", "push"): {"source": "read"},
    ("gamelift", "upload-build"): {"build-root": "read"},
    ("gamelift", "get-game-session-log"): {"save-as": "write"},
    ("servicecatalog", "generate", "product"): {"file-path": "read"},
    ("servicecatalog", "generate", "provisioning-artifact"): {"file-path": "read"},
    ("iam", "create-virtual-mfa-device"): {"outfile": "write"},
    ("iot", "create-keys-and-certificate"): {
        "certificate-pem-outfile": "write",
        "public-key-outfile": "write",
        "private-key-outfile": "write",
    },
    ("iot", "create-certificate-from-csr"): {"certificate-pem-outfile": "write"},
    ("eks", "update-kubeconfig"): {"kubeconfig": "write"},
}

ENDPOINT_OPTIONS: dict[tuple[str, ...], str] = {
    # command path -> option: a URL these customizations send signed IAM requests to.
    ("dlm", "create-default-role"): "iam-endpoint",
    ("emr", "create-default-roles"): "iam-endpoint",
    ("emr-containers", "update-role-trust-policy"): "iam-endpoint",
}

S3_TRANSFER_COMMANDS = frozenset({"cp", "mv", "sync"})
"""`aws s3 <cmd> SRC DEST`: a side that does not start with s3:// is a local path."""

GLOBAL_OPTIONS: dict[str, bool] = {
    # awscli's global options (awscli/data/cli.json) -> whether the option takes a value.
    "debug": False,
    "endpoint-url": True,
    "no-verify-ssl": False,
    "no-paginate": False,
    "output": True,
    "query": True,
    "profile": True,
    "region": True,
    "version": False,
    "color": True,
    "no-sign-request": False,
    "ca-bundle": True,
    "cli-read-timeout": True,
    "cli-connect-timeout": True,
    "v2-debug": False,
}

S3_FLAGS = frozenset(
    {
        # `aws s3` options that take no value (store_true / store_false in awscli's s3 tables).
        "dryrun",
        "follow-symlinks",
        "force-glacier-transfer",
        "human-readable",
        "ignore-glacier-warnings",
        "no-follow-symlinks",
        "no-guess-mime-type",
        "no-progress",
        "only-show-errors",
        "quiet",
        "recursive",
        "summarize",
        "validate-same-s3-paths",
        # added to `s3 sync` by the sync strategies (awscli.customizations.s3.syncstrategy)
        "delete",
        "exact-timestamps",
        "size-only",
    }
)

STREAMING_OUTFILE_OPERATIONS = STREAMING_OUTPUTS | {("s3api", "select-object-content")}
"""Operations whose positional `outfile` is a local file awscli writes."""
