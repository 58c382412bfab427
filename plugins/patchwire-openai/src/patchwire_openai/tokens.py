"""Token estimates with ``tiktoken`` when it is installed, else core's character count.

tiktoken is optional and imported only on first use. Its encodings are data files it
downloads on first load (or reads from ``TIKTOKEN_CACHE_DIR``); when that fails the
connector falls back to core's estimate for good rather than trying on every call.
"""

from __future__ import annotations

import importlib
import logging
from typing import Any, Final

__all__ = ["encoding_for"]

log = logging.getLogger("patchwire.openai")

#: the encoding of models tiktoken does not know (OpenAI's current models use it)
DEFAULT_ENCODING: Final = "o200k_base"
_MODELS_KEPT: Final = 256

_by_model: dict[str, Any] = {}
_by_name: dict[str, Any] = {}


def _load(name: str) -> Any:
    if name not in _by_name:
        try:
            _by_name[name] = importlib.import_module("tiktoken").get_encoding(name)
        except ImportError:
            _by_name[name] = None
        except Exception as exc:
            log.debug("tiktoken encoding %s unavailable, estimating from characters: %s", name, exc)
            _by_name[name] = None
    return _by_name[name]


def _encoding_name(model: str) -> str:
    try:
        name: str = importlib.import_module("tiktoken.model").encoding_name_for_model(model)
        return name
    except (ImportError, AttributeError, KeyError):
        return DEFAULT_ENCODING


def encoding_for(model: str) -> Any:
    """The tiktoken encoding for ``model`` (None without tiktoken or its data)."""
    try:
        return _by_model[model]
    except KeyError:
        pass
    encoding = _load(_encoding_name(model))
    if len(_by_model) >= _MODELS_KEPT:
        # Model names come from callers: keep the memo bounded.
        _by_model.clear()
    _by_model[model] = encoding
    return encoding
