"""Reading the documentation's Markdown: tables under headings, and fenced code blocks."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import attrs

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"

_HEADING = re.compile(r"^#{2,3} `([^`]+)`")
_FENCE = re.compile(r"^```(\w*)\s*$")


def tables(page: Path) -> dict[str, dict[str, list[str]]]:
    """``{heading: {first cell: [cells...]}}`` for every table under a ``## `name` `` heading."""
    out: dict[str, dict[str, list[str]]] = {}
    current: dict[str, list[str]] | None = None
    for line in page.read_text().splitlines():
        match = _HEADING.match(line)
        if match:
            current = out.setdefault(match.group(1), {})
            continue
        if current is None or not line.startswith("|") or line.startswith("|---"):
            continue
        cells = [c.strip() for c in line.strip().strip("|").split(" | ")]
        key = cells[0].strip("`")
        if key in ("key", "kind", "category", "field", "argument"):
            continue  # the header row
        current[key] = cells[1:]
    return out


@attrs.frozen
class Block:
    page: Path
    line: int
    language: str
    code: str

    @property
    def where(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}"


def blocks(page: Path) -> Iterator[Block]:
    """Every fenced block of a page, with the line its code starts on."""
    language: str | None = None
    start = 0
    body: list[str] = []
    for number, line in enumerate(page.read_text().splitlines(), 1):
        match = _FENCE.match(line.strip()) if not line.startswith("    ") else None
        if language is None and match:
            language, start, body = match.group(1), number + 1, []
        elif language is not None and line.strip() == "```":
            yield Block(page, start, language, "\n".join(body) + "\n")
            language = None
        elif language is not None:
            body.append(line)


def pages() -> list[Path]:
    """Every documentation page, and the README (its snippets run too)."""
    return [*sorted(DOCS.rglob("*.md")), ROOT / "README.md"]


def hook_signature(fn: object) -> str:
    """``name(arg: Type, ...) -> Return`` as written in hookspecs.py (annotations are text)."""
    import inspect

    sig = inspect.signature(fn)  # type: ignore[arg-type]
    params = ", ".join(
        f"{p.name}: {p.annotation}" if p.annotation is not p.empty else p.name
        for p in sig.parameters.values()
    )
    return f"{fn.__name__}({params}) -> {sig.return_annotation}"  # type: ignore[attr-defined]
