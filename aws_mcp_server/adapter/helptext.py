"""awscli's help, rendered to plain text in-process.

awscli renders its reStructuredText help through groff and a pager: two subprocesses writing to
file descriptor 1 (on stdio, the protocol channel), and only from the main thread. We parse the
same reST with docutils and walk the tree into wrapped plain text, written to `sys.stdout`, which
the engine captures per call like any other output.
"""

from __future__ import annotations

import sys
import textwrap
from typing import Any

WIDTH = 88

# docutils' reST parser (about 12 ms to import) is imported by the first help rendered, not by
# every process: most never render help.


def _settings() -> Any:
    """Parser settings from docutils' defaults alone.

    `publish_doctree` would read `./docutils.conf` (the workdir, which the write tool may write),
    `~/.docutils`, `/etc/docutils.conf` and `$DOCUTILSCONFIG`, and a `warning_stream` there makes
    rendering help open and truncate any file the server can write. These settings never look at
    a file, and nothing rendering help does opens one: no includes, no raw files, no warnings.
    """
    import docutils.frontend
    import docutils.parsers.rst
    import docutils.utils

    settings = docutils.frontend.get_default_settings(docutils.parsers.rst.Parser)
    settings.report_level = docutils.utils.Reporter.SEVERE_LEVEL + 1
    settings.halt_level = docutils.utils.Reporter.SEVERE_LEVEL + 1
    settings.warning_stream = False
    settings.file_insertion_enabled = False
    settings.raw_enabled = False
    settings._disable_config = True
    return settings


def render_rst(source: str) -> str:
    """reST -> plain text: titles underlined, paragraphs wrapped, lists and literals indented."""
    import docutils.parsers.rst
    import docutils.utils

    document = docutils.utils.new_document("<help>", _settings())
    docutils.parsers.rst.Parser().parse(source, document)
    lines: list[str] = []
    # Without publish's transforms the first title stays in its section: one level deeper.
    _walk(document, lines, indent=0, depth=-1)
    text = "\n".join(lines)
    while "\n\n\n" in text:
        text = text.replace("\n\n\n", "\n\n")
    return text.strip() + "\n"


def _blank(lines: list[str]) -> None:
    if lines and lines[-1] != "":
        lines.append("")


def _wrap(text: str, indent: int, first: str = "") -> list[str]:
    prefix = " " * indent
    words = " ".join(text.split())
    if not words:
        return []
    return textwrap.wrap(
        words,
        width=max(40, WIDTH - indent),
        initial_indent=prefix + first,
        subsequent_indent=prefix + " " * len(first),
        break_on_hyphens=False,
        break_long_words=False,
    )


def _walk(node: Any, lines: list[str], indent: int, depth: int) -> None:
    import docutils.nodes

    nodes = docutils.nodes
    for child in node.children:
        if isinstance(child, nodes.title):
            _blank(lines)
            title = child.astext().strip()
            lines.append(" " * indent + title)
            lines.append(" " * indent + ("=" if depth <= 1 else "-") * len(title))
            lines.append("")
        elif isinstance(child, nodes.section):
            _walk(child, lines, indent, depth + 1)
        elif isinstance(child, (nodes.paragraph, nodes.line)):
            lines.extend(_wrap(child.astext(), indent))
            _blank(lines)
        elif isinstance(child, (nodes.literal_block, nodes.doctest_block)):
            for line in child.astext().splitlines():
                lines.append(" " * (indent + 4) + line)
            _blank(lines)
        elif isinstance(child, (nodes.bullet_list, nodes.enumerated_list)):
            for number, item in enumerate(child.children, start=1):
                marker = f"{number}. " if isinstance(child, nodes.enumerated_list) else "* "
                sub: list[str] = []
                _walk(item, sub, 0, depth)
                while sub and sub[-1] == "":
                    sub.pop()
                for index, line in enumerate(sub):
                    pad = marker if index == 0 else " " * len(marker)
                    lines.append(" " * indent + pad + line if line else "")
            _blank(lines)
        elif isinstance(child, nodes.definition_list):
            for item in child.children:
                term = " ".join(t.astext() for t in item.children if isinstance(t, nodes.term))
                classifiers = [c.astext() for c in item.children if isinstance(c, nodes.classifier)]
                if classifiers:
                    term = f"{term} ({', '.join(classifiers)})"
                lines.extend(_wrap(term, indent))
                for part in item.children:
                    if isinstance(part, nodes.definition):
                        _walk(part, lines, indent + 4, depth)
                _blank(lines)
        elif isinstance(child, nodes.field_list):
            for field in child.children:
                name = field.children[0].astext()
                lines.extend(_wrap(name + ":", indent))
                _walk(field.children[1], lines, indent + 4, depth)
        elif isinstance(child, (nodes.block_quote, nodes.admonition, nodes.note, nodes.warning)):
            _walk(child, lines, indent + 4, depth)
        elif isinstance(child, (nodes.comment, nodes.system_message, nodes.target, nodes.raw)):
            continue
        elif isinstance(child, nodes.Text):
            lines.extend(_wrap(child.astext(), indent))
        elif isinstance(child, nodes.Element):
            if child.children and all(isinstance(c, nodes.Element) for c in child.children):
                _walk(child, lines, indent, depth)
            else:
                lines.extend(_wrap(child.astext(), indent))
                _blank(lines)


class PlainTextRenderer:
    """Drop-in for awscli's help renderers: `render(contents)` prints plain text to sys.stdout."""

    def render(self, contents: bytes | str) -> None:
        source = contents.decode("utf-8", "replace") if isinstance(contents, bytes) else contents
        sys.stdout.write(render_rst(source))
