"""Declared fields of a JSON answer: dotted paths such as ``items``, ``meta.total``, ``items.0.id``.

A segment indexes an object by key, or a list by position when it is a whole number.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

__all__ = ["has_path", "missing_fields"]


def has_path(data: Any, path: str) -> bool:
    node = data
    for segment in path.split("."):
        if isinstance(node, Mapping):
            if segment not in node:
                return False
            node = node[segment]
        elif isinstance(node, Sequence) and not isinstance(node, str | bytes):
            if not segment.isdigit() or int(segment) >= len(node):
                return False
            node = node[int(segment)]
        else:
            return False
    return True


def missing_fields(data: Any, paths: Iterable[str]) -> list[str]:
    return [path for path in paths if not has_path(data, path)]
