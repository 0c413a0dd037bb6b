"""What a model reads when output is over the cap: where it was cut and how to ask for less.

    facts = operation_facts(("ec2", "describe-instances"))   # from awscli's command and the models
    note = output_note(facts, shown, total, cut=json_cut(text), total_items=20, command_name=...)
    note = help_note(shown_text, rest_text, shown, total, command_path)
    text = drop_refused_mentions(help_text, refused)          # help never recommends what we refuse

`operation_facts` (in the adapter) reads awscli's command objects and botocore's models;
everything here works on the plain values it returns and on text. The
advice names only options the operation has: awscli's pagination arguments where it has a
paginator, the parameters that select fewer items (filters, prefixes, patterns, id/name lists),
a limit parameter where there is no paginator, and a `--query` over its real output members.
"""

from __future__ import annotations

import json
import logging
import re
import textwrap
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from aws_mcp_server.adapter.output_facts import OutputFacts

log = logging.getLogger(__name__)


# --- which options narrow -------------------------------------------------------------------------

_WORDS = re.compile(r"[A-Z]+(?![a-z])|[A-Z][a-z]*|[a-z]+|[0-9]+")


def name_words(member: str) -> list[str]:
    """`LogStreamNamePrefix` -> ["log", "stream", "name", "prefix"]; `VPCIds` -> ["vpc", "ids"]."""
    return [word.lower() for word in _WORDS.findall(member)]


_SELECTING_WORDS = frozenset({"filter", "filters", "prefix", "pattern", "projection"})
"""A member whose name has one of these words selects part of the result (`Filters`,
`PathPrefix`, `FilterPattern`, `ProjectionExpression`)."""

_LISTED_WORDS = frozenset({"ids", "names", "arns", "identifiers"})
"""A list member whose name ends with one of these asks for particular items (`InstanceIds`)."""


@dataclass(frozen=True)
class Narrowing:
    """The options that ask one operation for less, as `--option` names."""

    paging: bool
    selectors: tuple[str, ...]
    limits: tuple[str, ...]
    """Limit parameters of an operation awscli does not page (`--max-results`, `--limit`)."""


def narrowing(facts: OutputFacts) -> Narrowing:
    selectors: list[str] = []
    limits: list[str] = []
    for parameter in facts.parameters:
        if parameter.required or parameter.member in facts.paging_members:
            continue
        if parameter.option.startswith("no-"):
            continue  # the negative twin of a boolean
        words = name_words(parameter.member)
        if _SELECTING_WORDS & set(words) or (
            parameter.type_name == "list" and words and words[-1] in _LISTED_WORDS
        ):
            selectors.append(f"--{parameter.option}")
        elif (
            not facts.paginated
            and parameter.type_name == "integer"
            and (words[:1] == ["max"] or words == ["limit"])
        ):
            limits.append(f"--{parameter.option}")
    return Narrowing(facts.paginated, tuple(dict.fromkeys(selectors)), tuple(limits))


# --- where a JSON document was cut ----------------------------------------------------------------


@dataclass(frozen=True)
class JsonCut:
    """Where the head of a JSON document stops: the `path` of the innermost object member or
    list item the cut fell in (`("Reservations", 0, "Instances")`), and for a list there, how
    many of its items are complete and the member names of the first one."""

    path: tuple[str | int, ...]
    complete_items: int | None = None
    item_fields: tuple[str, ...] = ()

    @property
    def where(self) -> str:
        """The path as JMESPath reads it: `Reservations[0].Instances`."""
        text = ""
        for step in self.path:
            text += f"[{step}]" if isinstance(step, int) else (f".{step}" if text else step)
        return text or "the top-level list"

    @property
    def query_prefix(self) -> str:
        """The path with every index widened to all items: `Reservations[].Instances[]`."""
        text = ""
        for step in self.path:
            text += "[]" if isinstance(step, int) else (f".{step}" if text else step)
        return text + ("[]" if self.complete_items is not None else "")


_DECODER = json.JSONDecoder()
_SPACE = re.compile(r"\s*")


def _skip(text: str, at: int) -> int:
    match = _SPACE.match(text, at)
    return match.end() if match else at


def json_cut(text: str) -> JsonCut | None:
    """Where `text`, the head of a JSON document, was cut; None if it is not one or is whole."""
    at = _skip(text, 0)
    if not text.startswith(("{", "[")):
        return None
    try:
        _DECODER.raw_decode(text, at)
        return None
    except ValueError:
        pass
    return _descend(text, at, ())


def _descend(text: str, at: int, path: tuple[str | int, ...]) -> JsonCut | None:
    """The cut inside the value at `at`, which does not decode (it runs to the end of `text`)."""
    if text.startswith("{", at):
        at += 1
        while True:
            at = _skip(text, at)
            try:
                key, at = _DECODER.raw_decode(text, at)
            except ValueError:
                return JsonCut(path) if path else None
            at = _skip(text, at)
            if not isinstance(key, str) or not text.startswith(":", at):
                return None
            at = _skip(text, at + 1)
            try:
                _, at = _DECODER.raw_decode(text, at)
            except ValueError:
                return _descend(text, at, (*path, key))
            at = _skip(text, at)
            if not text.startswith(",", at):
                return JsonCut(path) if path else None
            at += 1
    if text.startswith("[", at):
        at += 1
        count = 0
        first: tuple[str, ...] = ()
        while True:
            at = _skip(text, at)
            start = at
            try:
                item, at = _DECODER.raw_decode(text, at)
            except ValueError:
                inner = _descend(text, start, (*path, count)) if count == 0 else None
                if inner is not None and inner.complete_items is not None:
                    return inner  # one item too big to show: the cut is inside it
                return JsonCut(path, count, first)
            if count == 0 and isinstance(item, dict):
                first = tuple(item)
            count += 1
            at = _skip(text, at)
            if not text.startswith(",", at):
                return JsonCut(path, count, first)
            at += 1
    return JsonCut(path) if path else None


def item_count(document: str, path: Sequence[str | int]) -> int | None:
    """How many items the complete JSON `document` has in the list at `path`."""
    try:
        value: Any = json.loads(document)
    except ValueError:
        return None
    for step in path:
        try:
            value = value[step]
        except (KeyError, IndexError, TypeError):
            return None
    return len(value) if isinstance(value, list) else None


# --- the notes ------------------------------------------------------------------------------------

MAX_NAMED = 12
"""Names listed in one note line (fields, options) before the rest are counted."""

MAX_OPTIONS = 60
"""Option names a help note lists: on an operation's page they are what a model came for."""

_ID_SUFFIXES = ("Id", "Name", "Arn", "Key")


def _names(names: Sequence[str], limit: int = MAX_NAMED) -> str:
    shown = ", ".join(names[:limit])
    return shown if len(names) <= limit else f"{shown} and {len(names) - limit} more"


def _count(number: int, noun: str) -> str:
    if number == 1:
        return f"1 {noun}"
    return f"{number:,} " + (noun[:-1] + "ies" if noun.endswith("y") else noun + "s")


def _either(options: Sequence[str]) -> str:
    if len(options) == 1:
        return options[0]
    return ", ".join(options[:-1]) + " or " + options[-1]


def _example_field(fields: Sequence[str]) -> str | None:
    for suffix in _ID_SUFFIXES:
        for field in fields:
            if field.endswith(suffix):
                return field
    return fields[0] if fields else None


def output_note(
    facts: OutputFacts | None,
    shown: int,
    total: int,
    *,
    cut: JsonCut | None,
    total_items: int | None,
    command_name: str,
    queried: bool = False,
) -> str:
    """The note under output cut at the cap: bytes shown of the total, where a JSON document was
    cut, and the options of this operation that ask for less. `queried`: the command already has
    a `--query`, so the output's shape is the query's, not the operation's."""
    head = f"[output truncated: showing the first {shown:,} of {total:,} bytes"
    if cut is not None:
        head += f"; the JSON is cut inside {cut.where}"
        if cut.complete_items is not None:
            head += f" after {cut.complete_items:,}"
            head += f" of its {total_items:,} items" if total_items else " complete items"
        head += " and does not parse"
    if facts is None:
        return head + f". `{command_name} help` lists the options that narrow this command.]"
    options = narrowing(facts)
    lines = [head + ". Ask for less:"]
    if options.paging:
        # awscli counts --max-items in the paginator's result key: a count that fits is known
        # only when the cut fell in that list itself.
        keys = {key for key, _ in facts.result_keys}
        fits = (
            cut is not None
            and len(cut.path) == 1
            and cut.path[0] in keys
            and bool(cut.complete_items)
        )
        count = f"{cut.complete_items}" if fits and cut is not None else "N"
        lines.append(
            f"- --max-items {count} prints at most {count} items and a NextToken; pass it as "
            "--starting-token for the next ones (--page-size only sets how many each request "
            "fetches)."
        )
    if options.selectors:
        verb = "selects" if len(options.selectors) == 1 else "select"
        lines.append(f"- {_either(options.selectors)} {verb} fewer items.")
    if options.limits:
        verb = "limits" if len(options.limits) == 1 else "limit"
        lines.append(f"- {_either(options.limits)} {verb} how many items come back.")
    if queried:
        lines.append("- --query: keep fewer fields in yours, or only the first items (`[:10]`).")
        return "\n".join(lines) + "]"
    if cut is not None and cut.item_fields:
        prefix, fields = cut.query_prefix, cut.item_fields
    else:
        listed = [(f"{key}[]", fields) for key, fields in facts.result_keys if fields]
        prefix, fields = listed[0] if listed else ("", ())
    example = _example_field(fields)
    if example is not None:
        lines.append(
            f"- --query keeps only the fields you need: each {prefix} item has "
            f"{_names(fields)}; e.g. --query '{prefix}.{example}'."
        )
    else:
        lines.append("- --query (JMESPath) keeps only the parts of the output you need.")
    return "\n".join(lines) + "]"


_TITLE_RULE = re.compile(r"^=+$")
_OPTION_ENTRY = re.compile(r"^--([a-z0-9][a-z0-9-]*)")
_COMMAND_ENTRY = re.compile(r"^\* ([a-z0-9][a-z0-9-]*)$")


def _sections(text: str) -> list[tuple[str, int]]:
    """The top-level section titles of rendered help (a line underlined with `=`), with the
    index of the title line."""
    lines = text.splitlines()
    return [
        (lines[i].strip(), i)
        for i in range(len(lines) - 1)
        if lines[i].strip()
        and _TITLE_RULE.match(lines[i + 1].strip())
        and len(lines[i + 1].strip()) == len(lines[i].strip())
    ]


def help_note(
    shown_text: str, rest_text: str, shown: int, total: int, command_path: Sequence[str]
) -> str:
    """The note under a help page cut at the cap: the section it was cut in, what is left out
    (options, commands, section titles), and for a page that lists commands, how to ask for one
    command's own page."""
    shown_sections = _sections(shown_text)
    cut_in = shown_sections[-1][0] if shown_sections else None
    # The first line of the rest may finish a line cut in the middle; a title there still counts.
    rest_lines = rest_text.splitlines()
    later = _sections(rest_text)
    first_title = later[0][1] if later else len(rest_lines)
    unfinished = rest_lines[:first_title]
    options: list[str] = []
    commands: list[str] = []
    if cut_in == "Options":
        options = [m.group(1) for line in unfinished if (m := _OPTION_ENTRY.match(line))]
    listing = bool(cut_in and cut_in.startswith("Available"))
    noun = (cut_in or "entries").split()[-1].lower().removesuffix("s")
    if listing:
        commands = [m.group(1) for line in unfinished if (m := _COMMAND_ENTRY.match(line))]
    head = f"[help truncated: showing the first {shown:,} of {total:,} bytes"
    if cut_in:
        head += f', cut in the "{cut_in}" section'
    left_out: list[str] = []
    if options:
        left_out.append(
            f"{_count(len(options), 'more option')} "
            f"({_names([f'--{o}' for o in options], MAX_OPTIONS)})"
        )
    if commands:
        left_out.append(
            f"{_count(len(commands), 'more ' + noun)} ({commands[0]} to {commands[-1]})"
        )
    titles = [title for title, _ in later]
    if titles:
        left_out.append(
            ("the section " if len(titles) == 1 else "the sections ") + ", ".join(titles)
        )
    text = head + (". Not shown: " + "; ".join(left_out) if left_out else "") + "."
    listed = [m.group(1) for line in shown_text.splitlines() if (m := _COMMAND_ENTRY.match(line))]
    example = (commands or listed[-1:] or [None])[0] if listing else None
    if example is not None:
        path = " ".join(word for word in command_path if word != "help")
        text += f" Each {noun} has its own page: `{(path + ' ') if path else ''}{example} help`."
    return text + "]"


# --- help that recommends what the server refuses -------------------------------------------------

_TOKEN = r"(?:--[a-z0-9][a-z0-9-]*|\[[^\]\s]+\]|<[^>\s]+>|[a-z0-9][a-z0-9._:/=@-]*)"
_MENTION = re.compile(rf"\baws\s+({_TOKEN}(?:\s+{_TOKEN})*)")
_STOP_WORDS = frozenset(
    """
    a an and are as at be by do does for from if in into is it of on or see so than that the then
    to when where which while with you your
    """.split()  # noqa: SIM905 - a word list reads better quoted once
)
"""English words that end a command named in prose ("run aws help topics to view a list")."""

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z(\[*\"'`])")
_ITEM = re.compile(r"^(\s*)(\* |\d+\. )")


def mentions(text: str) -> list[str]:
    """The commands `text` names as `aws ...`, without the `aws` (`help topics`), placeholders
    and prose words left out. One that starts with a placeholder (`aws [options] ...`) is none."""
    found = []
    for match in _MENTION.finditer(" ".join(text.split())):
        words: list[str] = []
        for word in match.group(1).split():
            if word in _STOP_WORDS:
                break
            trimmed = word.rstrip(".:;")
            if trimmed:
                words.append(trimmed)
            if trimmed != word:
                break
        if words and not words[0].startswith(("[", "<", "--")):
            found.append(" ".join(words))
    return found


def drop_refused_mentions(text: str, refused: Callable[[str], bool]) -> str:
    """Rendered help without the sentences, list items and then empty sections that recommend a
    command `refused` says the server will not run (`aws help topics`, `aws configure set ...`).

    The Examples section is left alone: its commands show the page's own command with example
    values, not advice. Paragraphs that lose a sentence are re-wrapped to their old width.
    """
    out: list[str] = []
    title_at: int | None = None  # index in `out` of the current section's title
    section = ""
    emptied: list[int] = []  # titles whose section had content and lost all of it
    had = kept_any = False
    for block in text.split("\n\n"):
        titles = _sections(block)
        if titles:
            if title_at is not None and had and not kept_any:
                emptied.append(title_at)
            section, title_at, had, kept_any = titles[-1][0], len(out), False, False
            out.append(block)
            continue
        had = had or bool(block.strip())
        if section != "Examples" and "aws" in block and any(refused(m) for m in mentions(block)):
            block = _without_refused(block, refused)
            if not block.strip():
                continue
        kept_any = kept_any or bool(block.strip())
        out.append(block)
    if title_at is not None and had and not kept_any:
        emptied.append(title_at)
    kept = "\n\n".join(block for index, block in enumerate(out) if index not in emptied)
    return kept.rstrip("\n") + "\n" if text.endswith("\n") else kept


def _without_refused(block: str, refused: Callable[[str], bool]) -> str:
    lines = block.split("\n")
    if any(line.rstrip().endswith("\\") or line.lstrip().startswith("$ ") for line in lines):
        # A literal command listing: drop its lines that name a refused command.
        return "\n".join(line for line in lines if not any(refused(m) for m in mentions(line)))
    width = max(len(line) for line in lines)
    items: list[tuple[str, str, list[str]]] = []  # (first-line prefix, continuation prefix, lines)
    for line in lines:
        match = _ITEM.match(line)
        if match or not items:
            indent = match.group(1) if match else line[: len(line) - len(line.lstrip())]
            marker = match.group(2) if match else ""
            items.append(
                (indent + marker, indent + " " * len(marker), [line[len(indent + marker) :]])
            )
        else:
            items[-1][2].append(line.strip())
    result: list[str] = []
    for first, rest, parts in items:
        sentences = _SENTENCE_END.split(" ".join(part.strip() for part in parts))
        kept = [s for s in sentences if not any(refused(m) for m in mentions(s))]
        if not kept:
            continue
        if len(kept) == len(sentences):
            result.append("\n".join([first + parts[0].strip(), *(rest + p for p in parts[1:])]))
            continue
        result.extend(
            textwrap.wrap(
                " ".join(kept),
                width=max(width, 40),
                initial_indent=first,
                subsequent_indent=rest,
                break_on_hyphens=False,
                break_long_words=False,
            )
        )
    return "\n".join(result)
