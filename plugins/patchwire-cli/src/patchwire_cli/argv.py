"""argv templates: ``["pandoc", "-f", "{from}", "-t", "{to}"]``.

No shell ever runs, and each argument's value lands inside the one argv item its
placeholder stands in, so no value can add, remove or split items: quotes, spaces,
semicolons and ``$(...)`` reach the program as plain text. One thing a value could still
do is look like an option (``--output=/etc/passwd`` where a file name was meant). The rule
applies to each item as assembled, not to each value alone: an item that begins with ``-``
must begin with a literal ``-`` in its template, so ``"{x}.txt"`` with
``x = "--output=pwned"``, or ``"{a}{b}"`` with ``a = "-"`` and ``b = "-output=..."``, is
refused like ``"{x}"`` with ``x = "--output"``, unless the item comes after a literal ``--``
or the command allows options explicitly.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import attrs
from patchwire.errors import InvalidRequestError
from patchwire.placeholders import Field, Part, TemplateError, parse_placeholders

__all__ = ["ArgvTemplate", "Field", "TemplateError", "parse_item"]

parse_item = parse_placeholders


@attrs.frozen
class ArgvTemplate:
    """A parsed argv template. Item 0, the program, is always literal."""

    items: tuple[tuple[Part, ...], ...]
    #: the items as written in the configuration, for messages
    source: tuple[str, ...]
    #: index of the first literal ``--`` item, after which values may start with ``-``
    end_of_options: int | None

    @classmethod
    def parse(cls, argv: Sequence[str]) -> ArgvTemplate:
        if not argv:
            raise TemplateError("argv is empty; give the program and its arguments")
        items = tuple(parse_item(item) for item in argv)
        if any(isinstance(part, Field) for part in items[0]) or not items[0]:
            raise TemplateError(
                f"the program (argv[0] = {argv[0]!r}) must be a literal name or path, not a placeholder"
            )
        end = next((i for i, item in enumerate(items) if item == ("--",)), None)
        return cls(items, tuple(argv), end)

    @property
    def program(self) -> str:
        first = self.items[0][0]
        assert isinstance(first, str)
        return first

    @property
    def fields(self) -> frozenset[str]:
        return frozenset(p.name for item in self.items for p in item if isinstance(p, Field))

    def render(
        self, values: Mapping[str, str], *, allow_options: bool = False, command: str = ""
    ) -> list[str]:
        """One argv item per template item; ``values`` must hold every field."""
        out: list[str] = []
        for index, item in enumerate(self.items):
            text = "".join(p if isinstance(p, str) else values[p.name] for p in item)
            if (
                text.startswith("-")
                and not allow_options
                and not (isinstance(item[0], str) and item[0].startswith("-"))
                and (self.end_of_options is None or index < self.end_of_options)
            ):
                where = f"command '{command}': " if command else ""
                raise InvalidRequestError(
                    f"{where}argv item {self.source[index]!r} would start with '-'"
                    f" {_culprit(item, values)}, and would be read as an option; put a literal"
                    " '--' before it in argv, or set allow_options = true for this command"
                )
            out.append(text)
        return out


def _culprit(item: tuple[Part, ...], values: Mapping[str, str]) -> str:
    """Which argument made an item start with '-' (its template does not)."""
    first = item[0]
    assert isinstance(first, Field)
    for part in item:
        if isinstance(part, str):
            break
        if values[part.name]:
            return f"because of argument '{part.name}'"
    return f"because argument '{first.name}' is empty"
