"""The ``patchwire_request_headers`` hook's answers for each request, without pluggy's
dispatch while nothing needs it (issue 19: ~11k instructions on every request)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

import pluggy
from yarl import URL

try:
    from pluggy._callers import _multicall
except ImportError:
    _multicall = None  # type: ignore[assignment]

__all__ = ["request_headers"]

# pluggy's own hook execution, which _RequestHeaders stands in for while nothing replaces
# it; with a pluggy whose internals differ, pluggy dispatches every request itself.
_PLUGGY_HOOKEXEC = getattr(pluggy.PluginManager, "_hookexec", None)
_NONE: tuple[Any, ...] = ()


def request_headers(
    hook: pluggy.HookCaller, manager: pluggy.PluginManager
) -> Callable[[URL], Sequence[Any]]:
    """The hook's answers for a URL: :meth:`_RequestHeaders.answers` where pluggy's
    internals are the ones it knows, else pluggy itself."""
    if (
        _multicall is None
        or _PLUGGY_HOOKEXEC is None
        or not isinstance(getattr(hook, "_hookimpls", None), list)
        or not hasattr(manager, "_inner_hookexec")
    ):
        return partial(_ask_pluggy, hook)
    # The bound method, not the instance: calling an instance goes through its type's
    # __call__ slot, a method object built and a frame the interpreter cannot inline, on
    # every request (issue 19).
    return _RequestHeaders(hook, manager).answers


def _ask_pluggy(hook: pluggy.HookCaller, url: URL) -> list[Any]:
    return hook(url=str(url))  # type: ignore[no-any-return]


class _RequestHeaders:
    """The patchwire_request_headers hook's answers for one URL, as pluggy gives them.

    pluggy's dispatch (``HookCaller.__call__``, ``_hookexec``, ``_multicall``: a copy of
    the implementation list, each implementation's arguments gathered by name, a results
    list) cost ~11k instructions on every request, for one implementation that mostly
    answers None (issue 19). While every implementation is a plain one that takes ``url``
    without a default (no hookwrapper or new-style wrapper; pluggy calls such a function
    with ``url`` alone, whatever other defaulted arguments it has) and the plugin
    manager runs hooks with pluggy's own ``_multicall`` (no hook-call monitoring or
    tracing installed), the implementations are called here directly, in pluggy's
    order (last registered first, tryfirst/trylast honoured by the list's order), and
    the non-None answers returned in a list (an empty tuple when there is none, the usual
    answer: no list is built for it); an exception propagates unchanged, as from pluggy. The list they were taken from is compared with the hook's on every request
    (identity of each entry, one comparison in C), so a plugin registered or
    unregistered between two requests applies from the second. Anything else is handed
    to pluggy as before.
    """

    __slots__ = ("_functions", "_hook", "_manager", "_seen", "_text")

    def __init__(self, hook: pluggy.HookCaller, manager: pluggy.PluginManager) -> None:
        self._hook = hook
        self._manager = manager
        self._seen: list[pluggy.HookImpl] | None = None
        #: the implementations in calling order, or None: ask pluggy
        self._functions: tuple[Callable[[str], Any], ...] | None = None
        # The last URL and its text: yarl keeps one URL object per address it parses, so a
        # connector's requests to one endpoint share it, and a URL's text never changes;
        # str() rebuilds the text on every call (~4k instructions).
        self._text: tuple[URL | None, str] = (None, "")

    def answers(self, target: URL) -> Sequence[Any]:
        last, url = self._text
        if target is not last:
            url = str(target)
            self._text = (target, url)
        hook = self._hook
        if hook._hookimpls != self._seen:
            self._take(hook._hookimpls)
        functions = self._functions
        if functions is None or self._manager._inner_hookexec is not _multicall:
            return hook(url=url)  # type: ignore[no-any-return]
        answers: list[Any] | None = None
        for function in functions:
            answer = function(url)
            if answer is not None:
                if answers is None:
                    answers = [answer]
                else:
                    answers.append(answer)
        return _NONE if answers is None else answers

    def _take(self, impls: list[pluggy.HookImpl]) -> None:
        self._seen = list(impls)
        plain = getattr(self._hook._hookexec, "__func__", None) is _PLUGGY_HOOKEXEC and all(
            not impl.hookwrapper and not impl.wrapper and impl.argnames == ("url",)
            for impl in impls
        )
        self._functions = tuple(impl.function for impl in reversed(impls)) if plain else None
