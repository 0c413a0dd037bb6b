"""Properties, checked on generated input: the tokenizer and `decide` are total, fast, and never
let shell syntax through."""

from __future__ import annotations

import shlex
import unicodedata
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aws_mcp_server.decision import decide
from aws_mcp_server.errors import ParseError
from aws_mcp_server.guards.tokens import tokenize
from aws_mcp_server.settings import Settings

FAST = settings(
    deadline=200, max_examples=400, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
SLOW = settings(
    deadline=2000, max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture]
)

OPERATORS = [";", "|", "||", "&&", "&", ">", ">>", "<", "2>&1", "\n", "(", ")", "<<<"]

GOOD = [
    "s3 ls",
    "ec2 describe-instances --filters Name=tag:Name,Values=web*",
    "s3 cp s3://bucket/key out.txt",
    "iam list-users --max-items 5",
    "sts get-caller-identity --output text",
    "lambda invoke --function-name f out.json",
    "dynamodb scan --table-name t --select COUNT",
    "s3api list-objects-v2 --bucket b --prefix logs/2024",
]

QUOTED_GOOD = [
    "ec2 describe-instances --query 'Reservations[?a && b || c] | [0]'",
    'dynamodb put-item --table-name t --item \'{"k": {"S": "a|b;c&d>e<f"}}\'',
    'sns publish --topic-arn arn:aws:sns:us-east-1:1:t --message "a && b; c | d"',
]


def _printable(char: str) -> bool:
    return char in "\t\n" or unicodedata.category(char) not in ("Cc", "Cs")


text_chars = st.characters(blacklist_categories=("Cs",))
shellish = st.sampled_from([*"abc -=/:.,*'\"\\$`;|&<>(){}[]#~\n\t\x00\x1b", "$(", "${", "&&", "||"])


@pytest.fixture
def config(tmp_path: Path) -> Settings:
    return Settings(workdir=tmp_path)


def _position(base: str, op: str, data: st.DataObject) -> int:
    inner = op == "\n"
    return data.draw(st.integers(min_value=int(inner), max_value=len(base) - int(inner)))


def _tokenize_or_parse_error(text: str) -> list[str] | None:
    try:
        words = tokenize(text)
    except ParseError as err:
        assert err.rule.startswith("parse:") and err.fix
        return None
    assert isinstance(words, list) and all(isinstance(w, str) for w in words)
    return words


@FAST
@given(st.text(text_chars, max_size=300))
def test_random_text_tokenizes_or_raises_parse_error(text: str) -> None:
    _tokenize_or_parse_error(text)


@FAST
@given(st.lists(shellish, max_size=40).map("".join))
def test_shell_like_text_tokenizes_or_raises_parse_error(text: str) -> None:
    _tokenize_or_parse_error(text)


@FAST
@given(
    st.sampled_from(GOOD),
    st.data(),
    st.sampled_from(OPERATORS),
)
def test_an_operator_outside_quotes_is_never_accepted(
    base: str, data: st.DataObject, op: str
) -> None:
    # GOOD commands contain no quotes, so every position in them is outside quotes. A newline
    # at either end is surrounding whitespace, not a second command.
    at = _position(base, op, data)
    text = base[:at] + op + base[at:]
    with pytest.raises(ParseError):
        tokenize(text)


@FAST
@given(st.sampled_from(QUOTED_GOOD), st.sampled_from(OPERATORS))
def test_an_operator_after_quoted_text_is_still_refused(base: str, op: str) -> None:
    with pytest.raises(ParseError):
        tokenize(base + " " + op + " s3 ls")


@FAST
@given(
    st.lists(
        st.text(st.characters(blacklist_categories=("Cs",)).filter(_printable), max_size=30),
        max_size=8,
    )
)
def test_quoted_words_round_trip_unchanged(words: list[str]) -> None:
    # Whatever a word contains, quoting it the shell's way makes it one literal argument.
    words = [
        w
        for w in words
        if not any(
            c in w
            for c in "\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u061c"
        )
    ]
    argv = ["s3", *words]
    assert tokenize(shlex.join(argv)) == argv


def _mutate(base: str, data: st.DataObject) -> str:
    text = base
    for _ in range(data.draw(st.integers(min_value=1, max_value=4))):
        at = data.draw(st.integers(min_value=0, max_value=len(text)))
        kind = data.draw(st.sampled_from(["insert", "delete", "duplicate"]))
        if kind == "insert":
            text = text[:at] + data.draw(shellish) + text[at:]
        elif kind == "delete" and text:
            text = text[:at] + text[at + 1 :]
        else:
            text = text[:at] + text[at : at + 5] + text[at:]
    return text


@SLOW
@given(base=st.sampled_from(GOOD + QUOTED_GOOD), data=st.data())
def test_decide_answers_every_mutated_command(
    base: str, data: st.DataObject, config: Settings
) -> None:
    text = _mutate(base, data)
    decision = decide(text, config, validate=False)
    assert decision.verdict in ("read", "write", "reject")
    assert decision.rule
    if decision.verdict != "reject":
        assert _tokenize_or_parse_error(text) is not None  # decide accepts only what tokenizes


@SLOW
@given(base=st.sampled_from(GOOD), data=st.data(), op=st.sampled_from(OPERATORS))
def test_decide_never_reads_or_writes_a_command_with_a_shell_operator(
    base: str, data: st.DataObject, op: str, config: Settings
) -> None:
    at = _position(base, op, data)
    decision = decide(base[:at] + op + base[at:], config, validate=False)
    assert decision.verdict == "reject"
    assert decision.rule.startswith("parse:")


@settings(
    deadline=5000, max_examples=25, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(base=st.sampled_from(GOOD + QUOTED_GOOD), data=st.data())
def test_decide_with_validation_answers_mutated_commands(
    base: str, data: st.DataObject, config: Settings
) -> None:
    decision = decide(_mutate(base, data), config)
    assert decision.verdict in ("read", "write", "reject")


@FAST
@given(
    chunk=st.text(text_chars, min_size=1, max_size=50),
    extra=st.integers(min_value=1, max_value=500),
)
def test_over_long_input_is_refused_quickly(chunk: str, extra: int) -> None:
    text = (chunk * (10_001 // len(chunk) + 1))[: 10_000 + extra]
    with pytest.raises(ParseError) as info:
        tokenize(text)
    assert info.value.rule == "parse:too-long"


@FAST
@given(st.text(text_chars, max_size=50))
def test_input_near_the_limit_is_tokenized_within_the_deadline(chunk: str) -> None:
    # The longest accepted input, full of quotes and operators, still answers within 200 ms.
    text = ("s3 ls '" + chunk.replace("'", "") + "' ") * 200
    _tokenize_or_parse_error(text[:10_000])
