"""README's shell blocks read as steps: the commands, and the excerpt of their answer that the
README prints under them as comments.

A block is a sequence of steps. A step is one or more command lines followed by comment lines
(``# …``): the comments are an excerpt of what the commands printed. ``…`` in an excerpt stands
for anything (ids, cursors, fields left out); between them, the text must appear in that order.
Whitespace is ignored on both sides, so an excerpt may be spaced for reading where the service
answers compact JSON.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

README = Path(__file__).resolve().parents[3] / "README.md"
_SHELL_BLOCK = re.compile(r"^```sh\n(.*?)^```$", re.MULTILINE | re.DOTALL)
# ``NAME=${NAME:-default}``: a setting the environment may override, with its default.
_OVERRIDABLE = re.compile(r"^([A-Z][A-Z0-9_]*)=\$\{\1:-([^}]*)\}$", re.MULTILINE)


@dataclass(frozen=True)
class Step:
    commands: str
    excerpt: tuple[str, ...]


def section(heading: str, readme: str | None = None) -> str:
    """The text of ``## heading`` up to the next heading of that level."""
    text = README.read_text(encoding="utf-8") if readme is None else readme
    start = text.index(f"\n## {heading}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end >= 0 else len(text)]


def shell_blocks(text: str) -> list[str]:
    return _SHELL_BLOCK.findall(text)


def overridable(block: str) -> dict[str, str]:
    """The variables a block lets the environment set, each with the default it shows."""
    return dict(_OVERRIDABLE.findall(block))


def steps(block: str) -> list[Step]:
    found: list[Step] = []
    commands: list[str] = []
    excerpt: list[str] = []
    for line in block.splitlines():
        if line.startswith("#"):
            if not commands:
                raise ValueError(f"a comment with no command above it: {line!r}")
            excerpt.append(line.removeprefix("#").strip())
            continue
        if excerpt:
            found.append(Step("\n".join(commands), tuple(excerpt)))
            commands, excerpt = [], []
        commands.append(line)
    if commands:
        found.append(Step("\n".join(commands), tuple(excerpt)))
    return found


def unmatched(excerpt: tuple[str, ...], output: str) -> str | None:
    """The first part of ``excerpt`` that ``output`` does not show (in order), or None."""
    squeezed = "".join(output.split())
    position = 0
    for line in excerpt:
        for fragment in line.split("…"):
            wanted = "".join(fragment.split())
            if not wanted:
                continue
            found = squeezed.find(wanted, position)
            if found < 0:
                return fragment.strip()
            position = found + len(wanted)
    return None
