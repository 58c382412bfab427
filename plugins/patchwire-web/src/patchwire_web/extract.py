"""What a page says: title, main text, links and CSS-selected elements (selectolax/lexbor).

The parser is imported here and nowhere else, and this module only when a page is
extracted or a selector checked, so loading the plugin never pays for it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urljoin, urlsplit

from selectolax.lexbor import LexborHTMLParser, SelectolaxError

__all__ = ["Page", "selector_error"]

# Never part of what a page says.
_NOISE = ["script", "style", "noscript", "template", "svg", "iframe", "nav", "aside", "form"]
# Site chrome, dropped only when the page has no main container to go by.
_CHROME = ["header", "footer"]
_MAIN = ("main", "article", "[role=main]")
_BLOCKS = (
    "p, h1, h2, h3, h4, h5, h6, li, dt, dd, div, section, article, header, footer, br, tr,"
    " pre, blockquote, figcaption, table"
)


def selector_error(selector: str) -> str | None:
    """Why ``selector`` is not valid CSS, or None when it is."""
    try:
        LexborHTMLParser("<html></html>").css(selector)
    except SelectolaxError as exc:
        return str(exc)
    return None


def _clean(text: str) -> str:
    lines = (" ".join(line.split()) for line in text.splitlines())
    return "\n".join(line for line in lines if line)


class Page:
    """One parsed HTML document."""

    def __init__(self, html: str) -> None:
        self._tree = LexborHTMLParser(html)

    def title(self) -> str | None:
        node = self._tree.css_first("title")
        text = node.text(strip=True) if node is not None else ""
        return text or None

    def main_text(self) -> str:
        """The readable text of the main content, one line per block."""
        tree = self._tree.clone()
        tree.strip_tags(_NOISE)
        container = next((n for sel in _MAIN if (n := tree.css_first(sel)) is not None), None)
        if container is None:
            tree.strip_tags(_CHROME)
            container = tree.body or tree.root
        if container is None:
            return ""
        # Block boundaries become line breaks, so paragraphs stay apart and inline
        # elements (links, emphasis) stay inside their sentence.
        for block in container.css(_BLOCKS):
            block.insert_after("\n")
        return _clean(container.text(separator=""))

    def links(self, base_url: str) -> list[dict[str, str]]:
        """Every http(s) link, absolute, once, in document order, with its text."""
        seen: set[str] = set()
        out = []
        for node in self._tree.css("a[href]"):
            href = (node.attributes.get("href") or "").strip()
            url = urljoin(base_url, href).split("#", 1)[0]
            if urlsplit(url).scheme not in ("http", "https") or url in seen:
                continue
            seen.add(url)
            out.append({"url": url, "text": _clean(node.text(separator=""))})
        return out

    def select(
        self, first: Mapping[str, str], every: Mapping[str, str]
    ) -> tuple[dict[str, Any], list[str]]:
        """Text of the first match per ``first`` name and of every match per ``every`` name,
        and the ``name (selector)`` of each selector that matched nothing."""
        found: dict[str, Any] = {}
        missing: list[str] = []
        for name, selector in first.items():
            node = self._tree.css_first(selector)
            if node is None:
                missing.append(f"{name} ({selector})")
            else:
                found[name] = _clean(node.text(separator=""))
        for name, selector in every.items():
            nodes = self._tree.css(selector)
            if not nodes:
                missing.append(f"{name} ({selector})")
            else:
                found[name] = [_clean(n.text(separator="")) for n in nodes]
        return found, missing
