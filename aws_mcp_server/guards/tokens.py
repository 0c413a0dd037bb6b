"""Command text -> argv. Pure. There is no shell: shell syntax is refused, never passed on.

A model writes commands the way it has seen them written for a shell. Passed on as arguments,
`| grep x` or `$HOME` would mean something other than what the model expects, so every piece of
shell syntax outside quotes is refused with a message that says how to write the command instead.

What is accepted, exactly:

* Words are split on whitespace as a POSIX shell would: single quotes keep everything literal,
  double quotes keep everything literal except that `\\"` and `\\\\` are escapes. A
  backslash-newline outside single quotes is a line continuation and disappears, as in a shell.
* A backslash outside quotes escapes a character only where escaping means something (a space,
  a quote, `$`, an operator, a glob character): `a\\ b` is one word. Before anything else it is
  literal, so Windows paths survive unquoted (`C:\\data\\f.txt`, a trailing `C:\\data\\`).
  Where both readings are plausible (`\\\\` as in `\\\\server\\share`, or `\\ ` after a
  Windows-style backslash in the same word) the command is refused with the fix: single quotes.
* `*`, `?`, `[`, `]`, `{`, `}`, `!`, `=` , `@`, `:` and `,` are literal characters: there is no
  globbing or brace expansion (`Values=web*` reaches awscli as written).
* `$`: inside single quotes it is literal. Outside single quotes, `$NAME`, `${...}`, `$(...)`,
  `$1`, `$?`, `$'...'` and the like are refused, because a shell would have expanded them and we
  cannot; a `$` that no shell would expand (`price$`, `$ `) is literal. Inside double quotes,
  `\\$` and `` \\` `` are refused too: a shell reads them as a literal `$`/backtick, shlex keeps
  the backslash, and the model should use single quotes for a literal `$` instead.
* Backticks outside single quotes are command substitution: refused.
* `;`, `|`, `||`, `&`, `&&`, `<`, `>`, `>>`, `(`, `)` and a newline outside quotes are refused;
  inside quotes they are ordinary characters (`--query 'a || b'`, `'{"k":"a|b"}'`).
* `#` at the start of an unquoted word starts a shell comment: refused rather than guessed at.
* `~` at the start of an unquoted word is the shell's home directory: refused.
* A first word `NAME=value` is an environment assignment: refused (profile and region are tool
  parameters).
* NUL and other control characters except tab and newline, lone surrogates, and Unicode
  bidirectional controls (which make the text display differently from what runs), are refused
  anywhere.
* A leading `aws` is dropped.

Every refusal is a `ParseError` with a stable `rule`: `parse:empty`, `parse:too-long`,
`parse:control-char`, `parse:quotes`, `parse:shell-operator`, `parse:substitution`,
`parse:expansion`, `parse:comment`, `parse:assignment`, `parse:backslash`.
"""

from __future__ import annotations

import re
import shlex
import unicodedata

from aws_mcp_server.errors import ParseError

MAX_LENGTH = 10_000

NO_SHELL = "Commands run without a shell"

_BIDI = frozenset("\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u061c")

# `$` followed by one of these is something a shell would expand.
_EXPANDS_AFTER_DOLLAR = re.compile(r"[A-Za-z_0-9{(@*#?$!\-'\"]")

_OPERATOR_FIX = {
    ";": "run one command per call instead of joining commands with ';'",
    "&&": "run one command per call instead of joining commands with '&&'",
    "||": "run one command per call instead of joining commands with '||'",
    "newline": "run one command per call; to continue a line, end it with a backslash",
    "|": (
        "there is nothing to pipe into: use --query (JMESPath) to filter and --output text "
        "to format instead of '| grep', '| jq' or '| head'"
    ),
    "&": "commands always run to completion; remove the '&'",
    ">": (
        "there is no redirection: the output is returned to you. Shape it with --query and "
        "--output text; to save a file, use s3 cp or the command's outfile argument with a path "
        "in the workdir"
    ),
    "<": (
        "there is no redirection: pass a file's contents as file://PATH (a path in the workdir) "
        "or write the value literally"
    ),
    "(": "quote the value that contains '(' or ')'",
}


def _refuse(rule: str, message: str, fix: str) -> ParseError:
    return ParseError(f"{NO_SHELL}: {message}", rule=rule, fix=fix)


def _operator_at(text: str, i: int) -> str:
    """The shell operator that starts at text[i] (one of the characters `;|&<>()`)."""
    pair = text[i : i + 2]
    if pair in ("&&", "||", ">>"):
        return pair
    return text[i]


def _check_characters(text: str) -> None:
    for index, char in enumerate(text):
        if char in "\t\n":
            continue
        # A lone surrogate (Cs) is not a character at all: no file name or value can hold it.
        if unicodedata.category(char) in ("Cc", "Cs") or char in _BIDI:
            # NUL truncates strings in C code below us, and control or bidirectional characters
            # make the command display differently from what would run (a confirm prompt lies).
            name = unicodedata.name(char, f"U+{ord(char):04X}")
            raise _refuse(
                "parse:control-char",
                f"the command contains a control character ({name}) at position {index}",
                "remove it; write the command as plain text on one line",
            )


def _scan(text: str) -> str:
    """Walk the text with the shell's quoting rules; refuse shell syntax; drop continuations.

    Returns the text with backslash-newline continuations removed (outside single quotes).
    """
    out: list[str] = []
    quote = ""  # "", "'" or '"'
    word_start = True  # the next character starts a word (outside quotes)
    first_word = True
    i = 0
    n = len(text)
    while i < n:
        char = text[i]
        if quote == "'":
            out.append(char)
            if char == "'":
                quote = ""
            i += 1
            continue
        if char == "\\":
            nxt = text[i + 1] if i + 1 < n else ""
            if nxt == "\n":
                i += 2  # a line continuation, as in a shell
                continue
            if not quote:
                # Outside quotes a shell drops every backslash, and Windows paths are full of
                # them (C:\data\f.txt would become C:dataf.txt). A backslash is an escape here
                # only where escaping means something; where it cannot, it stays literal; and
                # where both readings are plausible the command is refused, never guessed at.
                word = _current_word(out)
                if nxt == "" or nxt not in _SHELL_SPECIAL:
                    out.append("\\\\")  # shlex turns this back into one literal backslash
                    i += 1
                    word_start = False
                    continue
                if nxt == "\\" or (nxt in " \t" and "\\" in word):
                    raise _refuse(
                        "parse:backslash",
                        f"a backslash before {_NAMES.get(nxt, repr(nxt))} outside quotes could be "
                        "a shell escape or part of a Windows path",
                        "put the value in single quotes, where every backslash is literal: "
                        "'C:\\data\\' or '\\\\server\\share\\f.txt'",
                    )
            if quote == '"' and nxt in "$`":
                raise _refuse(
                    "parse:expansion",
                    f"'\\{nxt}' inside double quotes",
                    f"for a literal {nxt!r}, put the value in single quotes instead",
                )
            out.append(char)
            out.append(nxt)
            i += 2
            word_start = False
            continue
        if char == "`":
            # A shell runs the text between backticks as a command.
            raise _refuse(
                "parse:substitution",
                "backticks (command substitution) cannot be run",
                "write the value literally; inside a JMESPath --query, put the whole query in "
                "single quotes: --query 'Items[?State==`running`]'",
            )
        if char == "$":
            nxt = text[i + 1] if i + 1 < n else ""
            if nxt in ("(",):
                raise _refuse(
                    "parse:substitution",
                    "'$(...)' (command substitution) cannot be run",
                    "run that command in its own call and write its result literally",
                )
            if nxt and _EXPANDS_AFTER_DOLLAR.match(nxt) and not (quote == '"' and nxt in "'\""):
                end = i + 2
                while end < n and (text[end].isalnum() or text[end] == "_"):
                    end += 1
                shown = text[i : min(end, i + 40)]
                raise _refuse(
                    "parse:expansion",
                    f"'{shown}' would be expanded by a shell, and there is no shell or environment "
                    "here",
                    "write the value literally instead of a $VARIABLE; for a literal '$', put the "
                    "value in single quotes",
                )
            out.append(char)
            i += 1
            word_start = False
            continue
        if quote == '"':
            out.append(char)
            if char == '"':
                quote = ""
            i += 1
            continue
        # Outside quotes.
        if char in "'\"":
            quote = char
            out.append(char)
            i += 1
            word_start = False
            continue
        if char == "\n":
            raise _refuse(
                "parse:shell-operator",
                "the command spans several lines (a newline outside quotes ends a command)",
                _OPERATOR_FIX["newline"],
            )
        if char in ";|&<>()":
            op = _operator_at(text, i)
            raise _refuse(
                "parse:shell-operator",
                f"'{op}' outside quotes is shell syntax",
                _OPERATOR_FIX.get(op, _OPERATOR_FIX.get(op[0], _OPERATOR_FIX["("]))
                + ("" if op in ("(", ")") else "; inside a quoted value it is fine"),
            )
        if char in " \t":
            if not word_start:
                first_word = False
            word_start = True
            out.append(char)
            i += 1
            continue
        if word_start and char == "#":
            raise _refuse(
                "parse:comment",
                "'#' at the start of a word begins a shell comment",
                "remove the comment, or quote the value if '#' belongs to it",
            )
        if word_start and char == "~":
            raise _refuse(
                "parse:expansion",
                "'~' at the start of a word is the shell's home directory",
                "write the path relative to the workdir (local files are read and written there), "
                "or quote the value if '~' belongs to it",
            )
        if char == "=" and first_word and not word_start and _is_assignment(out):
            raise _refuse(
                "parse:assignment",
                "the command starts with an environment assignment (NAME=value)",
                "drop it: pass the profile and region as the tool's parameters, and everything "
                "else as command options",
            )
        word_start = False
        out.append(char)
        i += 1
    if quote:
        kind = "single" if quote == "'" else "double"
        raise _refuse(
            "parse:quotes",
            f"a {kind} quote is never closed",
            f"close the {kind} quote (to put a {kind} quote inside a value, use the other kind "
            "of quotes around it)",
        )
    return "".join(out)


_SHELL_SPECIAL = frozenset(" \t'\"\\$`|&;<>()*?[]#~=%!{}^")
"""Characters a backslash outside quotes can meaningfully escape in a POSIX shell."""

_NAMES = {" ": "a space", "\t": "a tab", "\\": "another backslash"}


def _current_word(out: list[str]) -> str:
    """The unquoted word being built (what follows the last space or tab)."""
    text = "".join(out)
    cut = max(text.rfind(" "), text.rfind("\t"))
    return text[cut + 1 :]


def _is_assignment(out: list[str]) -> bool:
    """The first word so far is an unquoted shell NAME (as in `AWS_PROFILE=x aws ...`)."""
    word = "".join(out).lstrip(" \t")
    return bool(re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", word))


def tokenize(text: str, *, max_length: int = MAX_LENGTH) -> list[str]:
    """Split a command into argv the way a POSIX shell would, refusing all shell syntax.

    Returns the words after a leading `aws`. Raises `ParseError` (see the module docstring for
    what is refused and the rule ids).
    """
    if len(text) > max_length:
        raise _refuse(
            "parse:too-long",
            f"the command is {len(text):,} characters long; the limit is {max_length:,}",
            "put long values (policies, templates, JSON input) in a file in the workdir and pass "
            "file://PATH, or use --cli-input-json file://PATH",
        )
    _check_characters(text)
    stripped = text.strip(" \t\n")
    if not stripped:
        raise _refuse(
            "parse:empty", "the command is empty", "write an AWS CLI command, e.g. 's3 ls'"
        )
    cleaned = _scan(stripped)
    lexer = shlex.shlex(cleaned, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    lexer.commenters = ""
    try:
        words = list(lexer)
    except ValueError as exc:  # pragma: no cover - _scan refuses what shlex would
        raise _refuse("parse:quotes", str(exc), "balance the quotes") from None
    if words and words[0] == "aws":
        words = words[1:]
    if not words:
        raise _refuse(
            "parse:empty",
            "the command names no service",
            "write the service and operation after 'aws', e.g. 'aws s3 ls'",
        )
    return words
