"""Removing credentials from everything that gets printed.

Every value a hub loads from a secret source is registered here. A log-record factory,
installed once per process, scrubs registered values and bearer/api-key header values
from every record however it was logged, because a filter on one logger misses records
that propagate from others (aiohttp, the application's own).
"""

from __future__ import annotations

import logging
import re
import threading
import weakref
from typing import Any

__all__ = ["MASK", "Redactor", "install_log_redaction", "redact_url"]

MASK = "****"
# Header-shaped credentials are masked even when their value was never loaded by us
# (a user passing a raw header through a web connector, say). The optional quote after the
# name lets a logged dict of headers match as well as a raw header line.
_HEADER_VALUE = re.compile(
    r"(?i)(authorization['\"]?\s*[:=]\s*['\"]?(?:bearer|basic|token|dpop)\s+|"
    r"(?:x-api-key|x-goog-api-key|api[-_]?key)\s*['\"]?\s*[:=]\s*['\"]?)([^\s'\",;&]+)"
)
# Credentials in a query string or a form body (token requests carry client_secret and
# assertion), and in JSON (a token response that someone logs). Generic names such as
# ``key`` count only as a query or form parameter, so "cache key=..." in prose survives.
_NAMED = (
    "api_key|apikey|access_token|refresh_token|id_token|client_secret|client_assertion"
    "|assertion|password"
)
_GENERIC = "key|token|sig|signature"
_QUERY_KEY = re.compile(
    rf"(?i)((?:(?:^|[?&;])(?:{_NAMED}|{_GENERIC})|(?<![\w-])(?:{_NAMED}))=)([^&#\s]+)"
)
_JSON_FIELD = re.compile(rf"(?i)([\"'](?:{_NAMED}|private_key)[\"']\s*:\s*[\"'])([^\"']+)")
_MIN_SECRET = 4
# A provider may echo part of a key back ("Incorrect API key provided: sk-abcd1234…").
# Redactor.scrub masks any run of _FRAGMENT characters from a loaded token (one word of
# at least 12 characters: a key, a password), extended to the whole run the text shares
# with it. Structured values (a service-account JSON file, a PEM) are left out: their
# windows would be ordinary text such as "https://".
_FRAGMENT = 8
_TOKEN = re.compile(r"[A-Za-z0-9._~+/=:-]{12,}")


class Redactor:
    """A set of secret values and the text transform that hides them."""

    def __init__(self) -> None:
        self._values: set[str] = set()
        self._pattern: re.Pattern[str] | None = None
        self._windows: frozenset[str] = frozenset()
        self._lock = threading.Lock()
        _REDACTORS.add(self)

    def add(self, value: str) -> None:
        # Very short values would mask ordinary words; such a credential is not a real one.
        if len(value) < _MIN_SECRET or value in self._values:
            return
        with self._lock:
            self._values.add(value)
            ordered = sorted(self._values, key=len, reverse=True)
            self._pattern = re.compile("|".join(re.escape(v) for v in ordered))
            if _TOKEN.fullmatch(value):
                self._windows = self._windows | {
                    value[i : i + _FRAGMENT] for i in range(len(value) - _FRAGMENT + 1)
                }

    def __contains__(self, value: str) -> bool:
        return value in self._values

    def redact(self, text: str) -> str:
        pattern = self._pattern
        if pattern is not None:
            text = pattern.sub(MASK, text)
        text = _HEADER_VALUE.sub(lambda m: m.group(1) + MASK, text)
        text = _JSON_FIELD.sub(lambda m: m.group(1) + MASK, text)
        return _QUERY_KEY.sub(lambda m: m.group(1) + MASK, text)

    def scrub(self, text: str) -> str:
        """:meth:`redact`, and also mask every piece of a loaded token that ``text`` quotes.

        For text that may hold a provider's echo of part of a key: error messages and
        the fields of errors leaving a call. (Logs take :meth:`redact` alone; this costs
        a scan of the text.)
        """
        text = self.redact(text)
        windows, values = self._windows, self._values
        if not windows:
            return text
        pieces: list[str] = []
        done = 0  # text[:done] is already decided
        i = 0
        while i <= len(text) - _FRAGMENT:
            if text[i : i + _FRAGMENT] not in windows:
                i += 1
                continue
            end = i + _FRAGMENT
            while end < len(text) and any(text[i : end + 1] in v for v in values):
                end += 1
            pieces += [text[done:i], MASK]
            done = i = end
        if not pieces:
            return text
        pieces.append(text[done:])
        return "".join(pieces)

    def __repr__(self) -> str:
        return f"Redactor({len(self._values)} values)"


def redact_url(url: str) -> str:
    """A URL with credential-like query parameters masked."""
    return _QUERY_KEY.sub(lambda m: m.group(1) + MASK, url)


_REDACTORS: weakref.WeakSet[Redactor] = weakref.WeakSet()
_installed = False
_install_lock = threading.Lock()


def _scrub(value: Any) -> Any:
    if isinstance(value, str):
        for redactor in list(_REDACTORS):
            value = redactor.redact(value)
        return value
    if isinstance(value, BaseException):
        return _scrub(str(value))
    return value


def install_log_redaction() -> None:
    """Wrap the log-record factory so every record is scrubbed at creation. Idempotent."""
    global _installed
    with _install_lock:
        if _installed:
            return
        previous = logging.getLogRecordFactory()

        def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
            record = previous(*args, **kwargs)
            if not _REDACTORS:
                return record
            record.msg = _scrub(record.msg if isinstance(record.msg, str) else str(record.msg))
            if isinstance(record.args, tuple):
                record.args = tuple(_scrub(a) for a in record.args)
            elif isinstance(record.args, dict):
                record.args = {k: _scrub(v) for k, v in record.args.items()}
            if record.exc_info and record.exc_info[1] is not None:
                # Format the traceback now, scrubbed, so handlers never render the raw one.
                formatter = logging.Formatter()
                record.exc_text = _scrub(formatter.formatException(record.exc_info))
                record.exc_info = None
            return record

        logging.setLogRecordFactory(factory)
        _installed = True
