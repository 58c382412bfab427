"""Content parts: what a message holds besides plain text.

``Message.content`` is a string, or a sequence of parts written in the order the model
should read them::

    Message("user", ["What is in this picture?", Image.from_path("cat.png")])

Strings in a sequence become :class:`Text`. The parts are:

- :class:`Text`: a piece of text.
- :class:`Image` and :class:`Document`: media, as bytes with a media type (``from_bytes``,
  ``from_path``) or as a URL (``from_url``). Bytes never appear in a repr, a log line or
  an event: only their size, media type and sha256 do. The sha256 is computed once, when
  the part is made, and is what the cache key uses.
- :class:`ToolCall`: a call the model asked for (in an assistant message, and in
  ``Completion.tool_calls``).
- :class:`ToolResultPart`: what the application answers to one call (in a ``user`` or
  ``tool`` message). Not named ``ToolResult``: that name already belongs to the value a
  hub tool returns (``patchwire.ToolResult``), and ``ToolResultPart.from_result`` turns
  one into the other.
- :class:`Reasoning`: the model's reasoning (text or summary) and the provider's opaque
  state (a signature, redacted or encrypted content) that must be sent back unchanged on
  the next turn. A connector replays it only to the provider type that issued it and
  drops it elsewhere, since only the issuer can verify it.

Connectors read parts with ``isinstance`` and refuse the ones they cannot send before
anything is sent (``patchwire.capabilities``).
"""

from __future__ import annotations

import base64
import hashlib
import json
import mimetypes
import os
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, Literal

import attrs

__all__ = [
    "Document",
    "Image",
    "Media",
    "Part",
    "Reasoning",
    "Text",
    "ToolCall",
    "ToolResultPart",
    "as_parts",
    "text_of",
]

ImageDetail = Literal["auto", "low", "high"]

_IMAGE_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})
_DOCUMENT_TYPES = frozenset({"application/pdf", "text/plain"})


@attrs.frozen
class Text:
    """A piece of text."""

    text: str


def _digest_of(data: bytes | None) -> str | None:
    return hashlib.sha256(data).hexdigest() if data is not None else None


@attrs.frozen(repr=False)
class Media:
    """Bytes with a media type, or a URL. Use :class:`Image` or :class:`Document`.

    Exactly one of ``data`` and ``url`` is set. ``filename`` is what a provider that
    wants one is told (OpenAI's file parts); ``sha256`` is the hex digest of ``data``,
    computed once (``None`` for a URL, whose identity is the URL itself).
    """

    kinds: ClassVar[frozenset[str]] = frozenset()
    noun: ClassVar[str] = "media"

    media_type: str
    data: bytes | None = attrs.field(default=None, repr=False)
    url: str | None = None
    filename: str | None = None
    sha256: str | None = attrs.field(init=False, repr=False, eq=False)

    def __attrs_post_init__(self) -> None:
        if (self.data is None) == (self.url is None):
            raise ValueError(f"{self.noun} needs exactly one of data (bytes) or url")
        if self.data is not None and not isinstance(self.data, bytes | bytearray):
            raise TypeError(f"{self.noun} data must be bytes, got {type(self.data).__name__}")
        if self.url is not None and not self.url.startswith(("http://", "https://", "data:")):
            raise ValueError(
                f"{self.noun} url must start with http://, https:// or data:; for a local"
                f" file use {type(self).__name__}.from_path"
            )
        if self.media_type not in self.kinds:
            raise ValueError(
                f"{self.noun} media type {self.media_type!r} is not one of {sorted(self.kinds)}"
            )
        object.__setattr__(self, "sha256", _digest_of(self.data))

    @property
    def size(self) -> int | None:
        """Bytes held, or None for a URL."""
        return None if self.data is None else len(self.data)

    def base64(self) -> str:
        """The bytes as base64 text (what JSON wires carry)."""
        if self.data is None:
            raise ValueError(f"this {self.noun} is a URL and holds no bytes")
        return base64.b64encode(self.data).decode("ascii")

    def data_url(self) -> str:
        """``data:<media type>;base64,...``, or the URL itself."""
        if self.url is not None:
            return self.url
        return f"data:{self.media_type};base64,{self.base64()}"

    def cache_form(self) -> dict[str, Any]:
        """What the cache key reads: the content hash, never the bytes."""
        return {
            "kind": self.noun,
            "media_type": self.media_type,
            "sha256": self.sha256,
            "url": self.url,
            "filename": self.filename,
        }

    def __repr__(self) -> str:
        where = f"url={self.url[:80]!r}" if self.url is not None else f"{self.size} bytes"
        name = f", filename={self.filename!r}" if self.filename else ""
        return f"{type(self).__name__}({self.media_type}, {where}{name})"

    @classmethod
    def _guess(cls, name: str, media_type: str | None) -> str:
        if media_type is not None:
            return media_type
        guessed, _ = mimetypes.guess_type(name)
        if guessed is None or guessed not in cls.kinds:
            raise ValueError(
                f"cannot tell the media type of {name!r}; pass media_type= (one of"
                f" {sorted(cls.kinds)})"
            )
        return guessed


@attrs.frozen(repr=False)
class Image(Media):
    """An image: PNG, JPEG, GIF or WebP. ``detail`` is OpenAI's fidelity hint (others ignore it)."""

    kinds: ClassVar[frozenset[str]] = _IMAGE_TYPES
    noun: ClassVar[str] = "image"

    detail: ImageDetail | None = None

    @classmethod
    def from_bytes(
        cls, data: bytes, media_type: str, *, detail: ImageDetail | None = None
    ) -> Image:
        return cls(media_type, bytes(data), detail=detail)

    @classmethod
    def from_path(
        cls,
        path: str | os.PathLike[str],
        media_type: str | None = None,
        *,
        detail: ImageDetail | None = None,
    ) -> Image:
        """Read the file now (a missing file fails here, not mid-call); the type comes from its suffix."""
        name = os.fspath(path)
        with open(name, "rb") as f:
            data = f.read()
        return cls(
            cls._guess(name, media_type), data, filename=os.path.basename(name), detail=detail
        )

    @classmethod
    def from_url(
        cls, url: str, media_type: str | None = None, *, detail: ImageDetail | None = None
    ) -> Image:
        """An image the provider fetches itself; the type is guessed from the URL when not given."""
        return cls(cls._guess(url.split("?")[0], media_type), url=url, detail=detail)


@attrs.frozen(repr=False)
class Document(Media):
    """A document for providers that read them: a PDF (or plain text)."""

    kinds: ClassVar[frozenset[str]] = _DOCUMENT_TYPES
    noun: ClassVar[str] = "document"

    @classmethod
    def from_bytes(
        cls, data: bytes, media_type: str = "application/pdf", *, filename: str | None = None
    ) -> Document:
        return cls(media_type, bytes(data), filename=filename)

    @classmethod
    def from_path(cls, path: str | os.PathLike[str], media_type: str | None = None) -> Document:
        name = os.fspath(path)
        with open(name, "rb") as f:
            data = f.read()
        return cls(cls._guess(name, media_type), data, filename=os.path.basename(name))

    @classmethod
    def from_url(cls, url: str, media_type: str = "application/pdf") -> Document:
        return cls(media_type, url=url)


def _frozen_mapping(value: Mapping[str, Any]) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise TypeError(f"tool call arguments must be a mapping, got {type(value).__name__}")
    return dict(value)


@attrs.frozen
class ToolCall:
    """A call the model asked for.

    ``arguments`` is the parsed JSON object; ``raw_arguments`` the text as the provider
    sent it (OpenAI sends a string; for providers that send an object it is that object
    as compact JSON). ``id`` links the call to its :class:`ToolResultPart`; a connector
    whose provider issues no id mints one (``call_<n>``). ``signature`` is opaque
    provider state bound to this very call (Gemini's ``thoughtSignature``) that must be
    sent back on the same call; ``provider`` is the connector type that issued it.
    """

    id: str
    name: str
    # Left out of the hash (a dict is not hashable) but not out of equality.
    arguments: Mapping[str, Any] = attrs.field(factory=dict, converter=_frozen_mapping, hash=False)
    raw_arguments: str = ""
    signature: str | None = attrs.field(default=None, repr=False)
    provider: str = ""

    @classmethod
    def parsed(cls, id: str, name: str, raw_arguments: str, **extra: Any) -> ToolCall:
        """A call from its JSON argument text; bad JSON raises ``ToolArgumentsError``."""
        from patchwire.tools import parse_arguments

        return cls(id, name, parse_arguments(name, raw_arguments), raw_arguments, **extra)


@attrs.frozen
class ToolResultPart:
    """The application's answer to one :class:`ToolCall`.

    ``call_id`` is the call's ``id`` and ``name`` its tool name (Gemini matches results
    by name). ``content`` is text, or text and media parts for providers that take media
    in results (OpenAI Chat sends text only and refuses media there). ``is_error`` marks
    a failed tool: Anthropic's ``is_error``, Gemini's ``{"error": ...}`` response, and an
    ``Error: `` prefix on OpenAI, which has no flag.
    """

    call_id: str
    content: str | tuple[Text | Image | Document, ...] = ""
    name: str = ""
    is_error: bool = False

    @classmethod
    def for_call(cls, call: ToolCall, content: Any, *, is_error: bool = False) -> ToolResultPart:
        """The result of ``call``: a string, media parts, or any JSON value (sent as JSON text)."""
        if isinstance(content, str):
            body: str | tuple[Text | Image | Document, ...] = content
        elif isinstance(content, Text | Image | Document):
            body = (content,)
        elif isinstance(content, list | tuple) and all(
            isinstance(c, str | Text | Image | Document) for c in content
        ):
            body = tuple(Text(c) if isinstance(c, str) else c for c in content)
        else:
            body = json.dumps(content, ensure_ascii=False, default=str)
        return cls(call.id, body, call.name, is_error)

    @classmethod
    def from_result(cls, call: ToolCall, result: Any) -> ToolResultPart:
        """From what a hub tool returned (``patchwire.ToolResult``): its text, or its output as JSON."""
        text = getattr(result, "text", "")
        if not text and getattr(result, "output", None) is not None:
            text = json.dumps(result.output, ensure_ascii=False, default=str)
        return cls(call.id, text, call.name)

    @property
    def text(self) -> str:
        return self.content if isinstance(self.content, str) else text_of(self.content)


@attrs.frozen
class Reasoning:
    """The model's reasoning, and the opaque state a provider needs back on the next turn.

    ``text`` is the reasoning text, or its summary when ``summary`` is true (OpenAI
    Responses and Gemini give summaries; Anthropic gives thinking text, possibly empty).
    ``signature`` is Anthropic's thinking ``signature`` or a Gemini ``thoughtSignature``
    that came on a text part; ``encrypted`` is Anthropic's ``redacted_thinking`` data or
    OpenAI's ``encrypted_content``; ``id`` the provider's item id (OpenAI ``rs_...``).
    ``provider`` is the connector type that produced it and ``model`` the model: a
    connector sends a Reasoning part back only to the same provider type and drops it
    elsewhere. Keep these parts in the assistant message, in the order they came
    (``Completion.message`` does this).
    """

    text: str = ""
    summary: bool = False
    signature: str | None = attrs.field(default=None, repr=False)
    encrypted: str | None = attrs.field(default=None, repr=False)
    id: str | None = None
    provider: str = ""
    model: str = ""


Part = Text | Image | Document | ToolCall | ToolResultPart | Reasoning
_PART_TYPES = (Text, Image, Document, ToolCall, ToolResultPart, Reasoning)


def as_parts(content: Sequence[Part | str]) -> tuple[Part, ...]:
    """A message's parts: strings become :class:`Text`; anything else is a ``TypeError`` naming it."""
    out: list[Part] = []
    for index, item in enumerate(content):
        if isinstance(item, str):
            out.append(Text(item))
        elif isinstance(item, _PART_TYPES):
            out.append(item)
        else:
            raise TypeError(
                f"message content item {index} is a {type(item).__name__}; expected a string or"
                " a part (Text, Image, Document, ToolCall, ToolResultPart, Reasoning)"
            )
    return tuple(out)


def text_of(parts: Sequence[object]) -> str:
    """The text of a part sequence: its Text parts joined, in order."""
    return "".join(p.text for p in parts if isinstance(p, Text))
