"""Hostile command text: mutations of real commands, random tokens, and every guard's edge.

Each generated command carries a unique marker (`mk` + hex + `z`) in one of its values, so the
harness can later prove that a command the server refused never reached the emulator: the
marker must not appear in any byte the emulator (or the SSRF canary) received.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass

# Real commands, `{m}` where a value goes. `long` ones (waiters, live tail) run until the
# deadline when they are allowed; they are decided in-process but not sent over stdio.
TEMPLATES: tuple[str, ...] = (
    "s3 ls", "s3 ls s3://{m}", "s3 ls s3://{m}/prefix/ --recursive --human-readable",
    "s3 cp s3://{m}/k -", "s3 cp s3://{m}/k local-{m}.txt", "s3 cp seed.txt s3://{m}/k",
    "s3 sync . s3://{m}", "s3 sync s3://{m} ./down-{m}", "s3 mb s3://{m}", "s3 rb s3://{m} --force",
    "s3 rm s3://{m}/k --recursive", "s3 mv s3://{m}/a s3://{m}/b",
    "s3 presign s3://{m}/k --expires-in 60", "s3 website s3://{m} --index-document index.html",
    "s3api list-objects-v2 --bucket {m} --max-items 5",
    "s3api get-object --bucket {m} --key k out-{m}.bin", "s3api put-object --bucket {m} --key k --body seed.txt",
    "s3api head-bucket --bucket {m}", "s3api get-bucket-policy --bucket {m}",
    "s3api put-bucket-policy --bucket {m} --policy file://policy.json",
    "s3api create-bucket --bucket {m} --create-bucket-configuration LocationConstraint=eu-west-1",
    "s3api list-buckets --query \"Buckets[?Name=='{m}'].Name\"",
    "s3api put-bucket-tagging --bucket {m} --tagging 'TagSet=[{{Key=k,Value={m}}}]'",
    "s3api get-bucket-location --bucket {m} --output text",
    "ec2 describe-instances --instance-ids i-{m}", "ec2 describe-instances --filters Name=tag:Name,Values={m}",
    "ec2 run-instances --image-id ami-{m} --count 1 --instance-type t2.micro",
    "ec2 describe-security-groups --group-names {m}", "ec2 create-tags --resources i-123 --tags Key=n,Value={m}",
    "ec2 describe-regions --region-names {m}", "ec2 get-password-data --instance-id i-{m}",
    "ec2 describe-instances --dry-run --instance-ids i-{m}", "ec2 describe-vpcs --vpc-ids vpc-{m}",
    "ec2 import-key-pair --key-name {m} --public-key-material fileb://id.pub",
    "ec2 describe-instances --query 'Reservations[].Instances[?Tags[?Value==`{m}`]]'",
    "iam get-user --user-name {m}", "iam create-user --user-name {m}", "iam create-access-key --user-name {m}",
    "iam list-attached-user-policies --user-name {m}", "iam delete-user --user-name {m}",
    "iam put-user-policy --user-name {m} --policy-name p --policy-document file://policy.json",
    "iam create-login-profile --user-name {m} --password Pw-{m}-1",
    "sts get-caller-identity", "sts get-caller-identity --query Arn --output text",
    "sts assume-role --role-arn arn:aws:iam::123456789012:role/{m} --role-session-name s",
    "sts get-session-token", "sts decode-authorization-message --encoded-message {m}",
    "dynamodb get-item --table-name {m} --key '{{\"id\":{{\"S\":\"{m}\"}}}}'",
    "dynamodb scan --table-name {m}", "dynamodb put-item --table-name {m} --item '{{\"id\":{{\"S\":\"x\"}}}}'",
    "dynamodb query --table-name {m} --key-condition-expression 'id = :v' --expression-attribute-values '{{\":v\":{{\"S\":\"{m}\"}}}}'",
    "dynamodb batch-get-item --request-items file://items.json", "dynamodb list-tables",
    "sqs list-queues --queue-name-prefix {m}", "sqs get-queue-url --queue-name {m}",
    "sqs receive-message --queue-url http://127.0.0.1:1/123456789012/{m}",
    "sqs send-message --queue-url http://127.0.0.1:1/123456789012/q --message-body {m}",
    "sqs create-queue --queue-name {m}",
    "sns publish --topic-arn arn:aws:sns:us-east-1:123456789012:{m} --message {m}", "sns list-topics",
    "lambda invoke --function-name {m} out-{m}.json", "lambda get-function --function-name {m}",
    "lambda list-functions --max-items 3",
    "lambda create-function --function-name {m} --runtime python3.12 --role arn:aws:iam::123456789012:role/r --handler h --zip-file fileb://code.zip",
    "logs filter-log-events --log-group-name {m}", "logs describe-log-groups --log-group-name-prefix {m}",
    "logs put-log-events --log-group-name {m} --log-stream-name s --log-events timestamp=1,message={m}",
    "ssm get-parameter --name /{m} --with-decryption", "ssm put-parameter --name /{m} --value v --type String",
    "ssm start-session --target i-{m}",
    "ssm send-command --document-name AWS-RunShellScript --parameters commands={m} --instance-ids i-1",
    "kms encrypt --key-id alias/{m} --plaintext {m}", "kms decrypt --ciphertext-blob fileb://blob.bin",
    "kms list-keys", "kms describe-key --key-id alias/{m}",
    "secretsmanager get-secret-value --secret-id {m}", "secretsmanager create-secret --name {m} --secret-string x",
    "cloudformation describe-stacks --stack-name {m}",
    "cloudformation deploy --template-file t.yaml --stack-name {m}",
    "cloudformation package --template-file t.yaml --s3-bucket {m}",
    "cloudformation create-stack --stack-name {m} --template-url https://example.com/{m}",
    "cloudformation validate-template --template-body file://t.yaml",
    "ecr get-login-password", "ecr describe-repositories --repository-names {m}",
    "eks get-token --cluster-name {m}", "eks update-kubeconfig --name {m}", "eks describe-cluster --name {m}",
    "configure list", "configure get aws_secret_access_key", "configure set region {m}",
    "configure export-credentials", "history list", "sso login", "login",
    "ecs execute-command --cluster {m} --task t --command sh --interactive",
    "emr ssh --cluster-id j-{m} --key-pair-file k.pem",
    "codeartifact login --tool npm --domain {m} --repository r",
    "deploy install --config-file c --override-config", "codecommit credential-helper get",
    "help", "s3 help", "ec2 describe-instances help", "--version",
    "kinesis put-record --stream-name {m} --data {m} --partition-key p",
    "route53 list-hosted-zones", "cloudwatch get-metric-data --cli-input-json file://input.json",
    "sts get-caller-identity --cli-input-json '{{\"x\":\"{m}\"}}'",
    "ec2 describe-instances --generate-cli-skeleton", "iam create-user --cli-input-yaml file://{m}.yaml",
    "rds generate-db-auth-token --hostname {m} --port 5432 --username u",
    "rds describe-db-instances --db-instance-identifier {m}",
    "glue get-connection --name {m}", "apigateway get-rest-apis",
    "cognito-identity get-credentials-for-identity --identity-id us-east-1:{m}",
    "sso get-role-credentials --role-name {m} --account-id 123456789012 --access-token t",
    "events put-events --entries Source={m},DetailType=d,Detail='{{}}'",
    "stepfunctions start-execution --state-machine-arn arn:aws:states:us-east-1:123456789012:stateMachine:{m}",
)

LONG_TEMPLATES: tuple[str, ...] = (
    "dynamodb wait table-exists --table-name {m}",
    "logs start-live-tail --log-group-identifiers {m}", "logs tail {m} --follow",
    "ec2 wait instance-running --instance-ids i-{m}",
)

EDGES: tuple[str, ...] = (
    "file://{m}.json", "file://../{m}.json", "file:///etc/passwd", "file:///tmp/{m}", "fileb://{m}.bin",
    "fileb:///dev/zero", "file://~/.aws/credentials", "file://C:\\{m}", "file://\\\\host\\share\\{m}",
    "file://./sub/../../{m}", "FILE://{m}", "fileb://seed.txt", "file://seed.txt",
    "../{m}", "../../{m}", "/etc/{m}", "~/{m}", "{m}/../../../etc/passwd", "./{m}", "sub/../../{m}",
    "http://{canary}/{m}", "https://{canary}/{m}", "http://169.254.169.254/latest/{m}",
    "https://example.com/{m}", "HTTP://{canary}/{m}", "http://[::1]:1/{m}", "ftp://{canary}/{m}",
    "s3://{m}/../x", "$HOME/{m}", "${m}", "${{{m}}}", "$({m})", "`{m}`", "{m};id", "{m}|cat",
    "{m}&&x", "{m}&", ">{m}", "<{m}", "{m}>out", "2>{m}", "'quoted {m}'", "\"dq {m}\"", "'{m}",
    "\"{m}", "\\{m}", "C:\\Users\\{m}", "\\\\?\\C:\\{m}", "\\\\srv\\share\\{m}", "-{m}", "--{m}",
    "-", "key@=file://{m}", "Key={m},Value@=file:///etc/passwd", "Key=k,Value=file://{m}",
    "[{{Key=k,Value@=file://../{m}}}]", "'{{\"a\":\"file://{m}\"}}'", "'{{\"a\":\"http://{canary}/{m}\"}}'",
    "[{m}]", "{m}\x00", "{m}\n", "{m}\r\nX-Injected: 1", "{m}\u202e", "{m}\u200b", "\uff04HOME{m}",
    "{m}\u0301", "\U0001f600{m}", "\ud800{m}", "{m}\x1b[31m", "{m}\x7f", "'*'", "''", "' '",
    "\u00e9{m}\u00e9", "{m}\ufeff", "{m}%00", "{m}%2e%2e%2f", "%2e%2e/{m}", "{m}\\", "'{m}\\'",
)

GLOBALS: tuple[str, ...] = (
    "--profile p1", "--profile default", "--profile nonexistent-{m}", "--profile ../{m}",
    "--profile ''", "--profile 'a b'", "--region us-east-1", "--region eu-west-1", "--region {m}",
    "--region xx-fake-1", "--region ''", "--endpoint-url {relay}", "--endpoint-url http://localhost:{relay_port}",
    "--endpoint-url http://{canary}/{m}", "--endpoint-url http://10.1.2.3/{m}",
    "--endpoint-url https://{m}.example.com", "--endpoint-url file:///{m}",
    "--endpoint-url http://[::1]:{relay_port}", "--endpoint-url http://0x7f000001:{relay_port}",
    "--endpoint-url http://2130706433:{relay_port}", "--endpoint-url http://127.1:{relay_port}",
    "--endpoint-url http://127.0.0.1.nip.io:{relay_port}/{m}", "--endpoint-url http://user@{canary}/{m}",
    "--debug", "--no-verify-ssl", "--ca-bundle file://{m}.pem", "--ca-bundle /etc/ssl/certs/{m}.pem",
    "--ca-bundle {m}.pem", "--output json", "--output text", "--output table", "--output yaml",
    "--output {m}", "--query '[0]'", "--query '{m}[[['", "--query 'x|y'", "--no-paginate",
    "--page-size 1", "--max-items -1", "--max-items 0", "--max-items 99999999999999999999",
    "--color on", "--no-sign-request", "--cli-read-timeout 0", "--cli-connect-timeout 1",
    "--cli-binary-format raw-in-base64-out", "--version", "help", "--cli-auto-prompt",
    "--no-cli-pager", "--cli-input-json file://../{m}.json", "--generate-cli-skeleton output",
    "--no-cli-auto-prompt", "--ca-bundle ../{m}",
)

HOSTILE_CHARS = (
    "\x00", "\x01", "\x07", "\x08", "\t", "\n", "\r", "\x0b", "\x0c", "\x1b", "\x7f", "\u0085",
    "\u00a0", "\u2028", "\u2029", "\u202e", "\u200b", "\u200d", "\ufeff", "\ufffd", "\ud800",
    "\udfff", "\U0001f600", "\u0301", "\uff1b", "\uff5c", "|", "&", ";", ">", "<", "`", "$",
    "(", ")", "{", "}", "[", "]", "'", '"', "\\", "*", "?", "~", "#", "!", "=", ",", "@", " ",
    "%", "\u00e9", "\u4e2d", "\u0627", "\u05d0",
)

RANDOM_WORDS = (
    "s3", "s3api", "ec2", "iam", "sts", "lambda", "dynamodb", "sqs", "sns", "kms", "logs", "ssm",
    "configure", "help", "wait", "ls", "cp", "sync", "rm", "mb", "describe-instances",
    "list-buckets", "get-object", "put-object", "--bucket", "--key", "--body", "--query", "--output",
    "--region", "--profile", "--endpoint-url", "--debug", "--cli-input-json", "--dry-run",
    "--recursive", "--force", "--include", "--exclude", "-", "--", "s3://x", "file://x", "x", "1",
    "true", "--no-paginate", "--generate-cli-skeleton", "create-user", "delete-bucket",
    "get-caller-identity", "assume-role", "invoke", "start-session", "execute-command", "deploy",
    "package", "tail", "--follow", "get-login-password", "get-token", "update-kubeconfig",
)


@dataclass(frozen=True)
class Case:
    text: str
    marker: str
    profile: str | None = None
    """A tool `profile` parameter (over stdio only), fuzzed too."""
    region: str | None = None
    """A tool `region` parameter."""
    kind: str = ""
    """What made it: the template family and the mutations applied, for the report."""

    @property
    def marked(self) -> bool:
        return self.marker in self.text


class Generator:
    """Deterministic (seeded) stream of hostile commands."""

    def __init__(self, seed: int, relay_url: str, canary: str, *, long_ok: bool = True,
                 overlong_max: int = 1_000_000) -> None:
        self.rng = random.Random(seed)
        self.relay_url = relay_url
        self.relay_port = relay_url.rsplit(":", 1)[1]
        self.canary = canary
        self.templates = TEMPLATES + (LONG_TEMPLATES if long_ok else ())
        self.overlong_max = overlong_max
        self.count = 0

    def _fill(self, text: str, marker: str) -> str:
        return (text.replace("{relay}", self.relay_url).replace("{relay_port}", self.relay_port)
                .replace("{canary}", self.canary).replace("{m}", marker)
                .replace("{{", "{").replace("}}", "}"))

    def _edge(self, marker: str) -> str:
        return self._fill(self.rng.choice(EDGES), marker)

    def _global(self, marker: str) -> str:
        return self._fill(self.rng.choice(GLOBALS), marker)

    def __iter__(self) -> Iterator[Case]:
        while True:
            yield self.next()

    def next(self) -> Case:
        self.count += 1
        rng = self.rng
        marker = f"mk{rng.getrandbits(40):010x}z"
        roll = rng.random()
        applied: list[str] = []
        if roll < 0.08:
            # Random tokens: words the parser knows, in an order it does not expect.
            words = [rng.choice(RANDOM_WORDS) for _ in range(rng.randint(1, 8))]
            words.insert(rng.randint(0, len(words)), marker)
            text = " ".join(words)
            applied.append("random-tokens")
        else:
            template = rng.choice(self.templates)
            # Template slots use `{m}`; literal braces are doubled, as in a format string.
            text = self._fill(template, marker)
            applied.append(template.split(" --")[0][:30])
            # One in ten stays unmutated: a real command, as a control.
            mutations = 0 if roll > 0.92 else rng.choice((1, 1, 1, 2, 2, 3))
            for _ in range(mutations):
                text, name = self._mutate(text, marker)
                applied.append(name)
        profile = region = None
        if rng.random() < 0.08:
            profile = rng.choice(("p1", "default", "nope", f"../{marker}", "", "\x00",
                                  "a" * 200, "\u202e", f"{marker}\n"))
        if rng.random() < 0.08:
            region = rng.choice(("us-east-1", "eu-west-1", "xx-nowhere-1", marker, "",
                                 "us-east-1\r\n", "../", "a" * 300))
        return Case(text, marker, profile, region, "+".join(applied))

    def _mutate(self, text: str, marker: str) -> tuple[str, str]:
        rng = self.rng
        tokens = text.split(" ")
        op = rng.randrange(12)
        if op == 0 and len(tokens) > 2:
            # Replace a value (not the service/operation) by a guard's edge value.
            index = rng.randrange(2, len(tokens))
            tokens[index] = self._edge(marker)
            return " ".join(tokens), "edge-value"
        if op == 1:
            tokens.insert(rng.randint(min(1, len(tokens)), len(tokens)), self._global(marker))
            return " ".join(tokens), "global-option"
        if op == 2:
            tokens.insert(rng.randint(0, len(tokens)), self._edge(marker))
            return " ".join(tokens), "edge-token"
        if op == 3 and len(tokens) > 1:
            del tokens[rng.randrange(len(tokens))]
            return " ".join(tokens), "drop"
        if op == 4 and len(tokens) > 1:
            i = rng.randrange(len(tokens) - 1)
            tokens[i], tokens[i + 1] = tokens[i + 1], tokens[i]
            return " ".join(tokens), "swap"
        if op == 5:
            i = rng.randrange(len(tokens))
            tokens.insert(i, tokens[i])
            return " ".join(tokens), "duplicate"
        if op == 6:
            pos = rng.randint(0, len(text))
            chars = "".join(rng.choice(HOSTILE_CHARS) for _ in range(rng.randint(1, 3)))
            return text[:pos] + chars + text[pos:], "hostile-char"
        if op == 7 and text:
            pos = rng.randrange(len(text))
            return text[:pos] + rng.choice(HOSTILE_CHARS) + text[pos + 1:], "replace-char"
        if op == 8 and len(text) > 4:
            return text[: rng.randint(1, len(text) - 1)], "truncate"
        if op == 9:
            # Over-long: just under and over the limits a server might have, rarely huge.
            size = rng.choice((127, 129, 255, 1000, 4096, 9_990, 10_001, 65_536))
            if rng.random() < 0.02:
                size = self.overlong_max
            value = (marker + "x" * size)[:size] if size > len(marker) else marker
            tokens.insert(rng.randint(min(2, len(tokens)), len(tokens)), value)
            return " ".join(tokens), f"overlong-{size}"
        if op == 10:
            quote = rng.choice(("'", '"', "\\", "$'", '"""'))
            pos = rng.randint(0, len(text))
            return text[:pos] + quote + text[pos:], "quote"
        return rng.choice(("aws ", "  ", "\t", "aws  aws ", "-- ")) + text, "prefix"
