"""Claims about tokenizing: what survives unchanged, and what is refused with which rule."""

from __future__ import annotations

import pytest

from aws_mcp_server.errors import ParseError
from aws_mcp_server.guards.tokens import tokenize

ACCEPTED = [
    ("aws s3 ls", ["s3", "ls"]),
    ("s3 ls", ["s3", "ls"]),
    ("  aws   s3   ls  ", ["s3", "ls"]),
    ("aws s3 ls\n", ["s3", "ls"]),
    (
        "ec2 describe-instances --filters Name=tag:Name,Values=web*",
        ["ec2", "describe-instances", "--filters", "Name=tag:Name,Values=web*"],
    ),
    ("s3 cp s3://bucket/key ./local/file.txt", ["s3", "cp", "s3://bucket/key", "./local/file.txt"]),
    ("s3 cp s3://bucket/a.txt -", ["s3", "cp", "s3://bucket/a.txt", "-"]),
    (
        "ec2 describe-instances --query 'Reservations[].Instances[?State.Name==`running`]'",
        [
            "ec2",
            "describe-instances",
            "--query",
            "Reservations[].Instances[?State.Name==`running`]",
        ],
    ),
    (
        "ec2 describe-instances --query 'Reservations[?a && b || c] | [0]'",
        ["ec2", "describe-instances", "--query", "Reservations[?a && b || c] | [0]"],
    ),
    (
        'dynamodb put-item --item \'{"Key":"a|b"}\'',
        ["dynamodb", "put-item", "--item", '{"Key":"a|b"}'],
    ),
    (
        'dynamodb put-item --item "{\\"K\\":\\"a;b&c\\"}"',
        ["dynamodb", "put-item", "--item", '{"K":"a;b&c"}'],
    ),
    ("ec2 x --y key@=file://x.json", ["ec2", "x", "--y", "key@=file://x.json"]),
    (
        "iam create-policy --policy-document file://p.json",
        ["iam", "create-policy", "--policy-document", "file://p.json"],
    ),
    (
        "lambda invoke --function-name f out.json",
        ["lambda", "invoke", "--function-name", "f", "out.json"],
    ),
    ("ssm get-parameter --name '$secret'", ["ssm", "get-parameter", "--name", "$secret"]),
    ('ssm put-parameter --value "price$"', ["ssm", "put-parameter", "--value", "price$"]),
    ("ssm put-parameter --value 'a > b < c'", ["ssm", "put-parameter", "--value", "a > b < c"]),
    (
        "logs filter-log-events --filter-pattern '\"ERROR\"'",
        ["logs", "filter-log-events", "--filter-pattern", '"ERROR"'],
    ),
    ("s3 ls s3://b/a\\ b", ["s3", "ls", "s3://b/a b"]),
    (
        "ec2 describe-instances \\\n  --region us-east-1",
        ["ec2", "describe-instances", "--region", "us-east-1"],
    ),
    (
        "ec2 describe-tags --filters Name=key,Values=a~b",
        ["ec2", "describe-tags", "--filters", "Name=key,Values=a~b"],
    ),
    (
        "sns publish --message 'line one\nline two'",
        ["sns", "publish", "--message", "line one\nline two"],
    ),
    (
        "ec2 describe-images --owners self amazon",
        ["ec2", "describe-images", "--owners", "self", "amazon"],
    ),
    (
        "s3api list-objects --bucket b --prefix a/b/c.d-e_f",
        ["s3api", "list-objects", "--bucket", "b", "--prefix", "a/b/c.d-e_f"],
    ),
    (
        "cloudwatch get-metric-data --start-time 2024-01-01T00:00:00Z",
        ["cloudwatch", "get-metric-data", "--start-time", "2024-01-01T00:00:00Z"],
    ),
    ("ec2 create-tags --tags Key=a#b,Value=x", ["ec2", "create-tags", "--tags", "Key=a#b,Value=x"]),
    (
        'ec2 describe-instances --query "Reservations[*].Instances[*].[InstanceId]"',
        ["ec2", "describe-instances", "--query", "Reservations[*].Instances[*].[InstanceId]"],
    ),
    ("s3 ls --query 'Contents[?Size > `100`]'", ["s3", "ls", "--query", "Contents[?Size > `100`]"]),
    (
        "ec2 run-instances --user-data 'echo $HOME; ls | wc'",
        ["ec2", "run-instances", "--user-data", "echo $HOME; ls | wc"],
    ),
    (
        "ec2 describe-instances --filters 'Name=tag:Name,Values=a b'",
        ["ec2", "describe-instances", "--filters", "Name=tag:Name,Values=a b"],
    ),
    (
        "route53 list-hosted-zones --max-items 10 --starting-token abc==",
        ["route53", "list-hosted-zones", "--max-items", "10", "--starting-token", "abc=="],
    ),
    (
        "ec2 describe-instances --instance-ids i-1 i-2",
        ["ec2", "describe-instances", "--instance-ids", "i-1", "i-2"],
    ),
    ("sts get-caller-identity --output=json", ["sts", "get-caller-identity", "--output=json"]),
    (
        "ec2 describe-instances --filters Name=x,Values={a,b}",
        ["ec2", "describe-instances", "--filters", "Name=x,Values={a,b}"],
    ),
    ('s3 ls ""', ["s3", "ls", ""]),
    ("aws aws", ["aws"]),
]


@pytest.mark.parametrize(("text", "argv"), ACCEPTED, ids=[t for t, _ in ACCEPTED])
def test_ordinary_commands_survive_unchanged(text: str, argv: list[str]) -> None:
    assert tokenize(text) == argv


REFUSED = [
    ("", "parse:empty"),
    ("   \t ", "parse:empty"),
    ("aws", "parse:empty"),
    ("aws   ", "parse:empty"),
    ("s3 ls; rm -rf /", "parse:shell-operator"),
    ("s3 ls;rm", "parse:shell-operator"),
    ("s3 ls | grep x", "parse:shell-operator"),
    ("s3 ls|grep x", "parse:shell-operator"),
    ("s3 ls || true", "parse:shell-operator"),
    ("s3 ls && s3 ls", "parse:shell-operator"),
    ("s3 ls &", "parse:shell-operator"),
    ("s3 ls > out.txt", "parse:shell-operator"),
    ("s3 ls >> out.txt", "parse:shell-operator"),
    ("s3 ls 2>&1", "parse:shell-operator"),
    ("s3 cp - s3://b/k < /etc/passwd", "parse:shell-operator"),
    ("s3 ls <(cat x)", "parse:shell-operator"),
    ("(s3 ls)", "parse:shell-operator"),
    ("s3 ls\ns3 ls", "parse:shell-operator"),
    ("ec2 describe-instances --query Reservations[?a||b]", "parse:shell-operator"),
    ("s3 ls $(whoami)", "parse:substitution"),
    ('s3 ls "$(whoami)"', "parse:substitution"),
    ("s3 ls `whoami`", "parse:substitution"),
    ('ec2 describe-instances --query "Reservations[?State==`running`]"', "parse:substitution"),
    ("s3 ls $BUCKET", "parse:expansion"),
    ("s3 ls ${BUCKET}", "parse:expansion"),
    ('s3 ls "s3://$BUCKET/"', "parse:expansion"),
    ("s3 ls s3://x/$1", "parse:expansion"),
    ("s3 ls $?", "parse:expansion"),
    ("s3 ls $'\\x41'", "parse:expansion"),
    ('s3 ls "\\$HOME"', "parse:expansion"),
    ("s3 cp ~/x s3://b/k", "parse:expansion"),
    ("s3 ls # list buckets", "parse:comment"),
    ("AWS_PROFILE=prod aws s3 ls", "parse:assignment"),
    ("s3 ls 'unclosed", "parse:quotes"),
    ('s3 ls "unclosed', "parse:quotes"),
    # Both readings plausible: a shell escape, or a Windows UNC path / directory.
    ("s3 cp \\\\server\\share\\f.txt s3://b/f.txt", "parse:backslash"),
    ("s3 sync C:\\data\\ s3://b", "parse:backslash"),
    ("s3 ls\x00", "parse:control-char"),
    ("s3 ls '\x00'", "parse:control-char"),
    ("s3 ls\x1b[2J", "parse:control-char"),
    ("s3 ls\r", "parse:control-char"),
    ("s3 ls '\u202eabc'", "parse:control-char"),
    ("s3 ls \x7f", "parse:control-char"),
    ("s3 ls " + "a" * 10_001, "parse:too-long"),
]


@pytest.mark.parametrize(("text", "rule"), REFUSED, ids=[repr(t)[:60] for t, _ in REFUSED])
def test_shell_syntax_and_bad_input_are_refused_with_a_rule(text: str, rule: str) -> None:
    with pytest.raises(ParseError) as info:
        tokenize(text)
    assert info.value.rule == rule
    assert "without a shell" in info.value.message
    assert info.value.fix


def test_refusals_say_how_to_write_the_command_instead() -> None:
    cases = {
        "s3 ls | grep x": "--query",
        "s3 ls; s3 ls": "one command per call",
        "s3 ls > out": "workdir",
        "s3 ls $HOME": "literally",
        "s3 ls `id`": "single quotes",
    }
    for text, hint in cases.items():
        with pytest.raises(ParseError) as info:
            tokenize(text)
        assert hint in str(info.value), text


def test_the_length_limit_is_a_parameter() -> None:
    assert tokenize("s3 ls", max_length=5) == ["s3", "ls"]
    with pytest.raises(ParseError) as info:
        tokenize("s3 ls ", max_length=5)
    assert info.value.rule == "parse:too-long"


# --- backslashes: Windows paths survive, POSIX escapes still work ---------------------------


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("s3 cp C:\\data\\f.txt s3://b/f.txt", ["s3", "cp", "C:\\data\\f.txt", "s3://b/f.txt"]),
        ("s3 sync s3://b C:\\data\\", ["s3", "sync", "s3://b", "C:\\data\\"]),
        ("s3 cp 'C:\\data\\f.txt' s3://b", ["s3", "cp", "C:\\data\\f.txt", "s3://b"]),
        ('s3 cp "C:\\data\\f.txt" s3://b', ["s3", "cp", "C:\\data\\f.txt", "s3://b"]),
        ("s3 cp '\\\\server\\share\\f' s3://b", ["s3", "cp", "\\\\server\\share\\f", "s3://b"]),
        ("s3 cp file://C:/data/f.txt s3://b", ["s3", "cp", "file://C:/data/f.txt", "s3://b"]),
        # POSIX escapes of characters that mean something to a shell still apply
        ("s3 cp my\\ file.txt s3://b", ["s3", "cp", "my file.txt", "s3://b"]),
        ("s3 ls s3://b/a\\*b", ["s3", "ls", "s3://b/a*b"]),
        ("ec2 describe-instances --filters Name=x,Values=a\\'b", ["ec2", "describe-instances", "--filters", "Name=x,Values=a'b"]),
    ],
)
def test_a_backslash_never_vanishes_silently(text: str, words: list[str]) -> None:
    assert tokenize(text) == words
