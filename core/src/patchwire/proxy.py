"""Which proxy an outgoing HTTP request goes through: one rule for every path.

For each request URL, in order:

1. ``NO_PROXY`` (environment, as every mainstream client reads it) sends matching hosts
   direct, whatever else is set, as curl does;
2. the ``proxy`` setting of the connector the request is for, when the URL is on one of the
   connector's origins (its ``base_url``, its auth ``token_url``: the hub's session is
   shared, so a connector's setting applies where its own requests go);
3. ``[hub] proxy``;
4. ``HTTPS_PROXY`` / ``HTTP_PROXY`` (either case) from the environment.

``proxy = "direct"`` means no proxy, whatever the environment says. A proxy URL that
carries ``user:password`` is a credential: written in configuration it must be a reference
(``"env:CORP_PROXY"``), a literal one is a ``ConfigError`` that never echoes it. Resolved
credentials are sent as ``Proxy-Authorization`` only; the URL aiohttp sees (and could put
in an error) has none, and the resolver redacts the password from logs and errors.

Model calls, token requests and anything else on the hub's session get the rule through
the session's request class; a plugin with its own client (the web connector's guarded
session, the MCP HTTP transport) asks :meth:`ProxyRules.for_url` or
:func:`proxy_request_class` for the same answer.
"""

from __future__ import annotations

import os
import sys
import urllib.request
import warnings
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import aiohttp
import attrs
from yarl import URL

from patchwire.errors import ConfigError

if TYPE_CHECKING:
    from patchwire.config_values import Where
    from patchwire.secrets import SecretResolver

__all__ = ["DIRECT", "Proxy", "ProxyRules", "check_proxy", "proxy_request_class"]

DIRECT = "direct"


@attrs.frozen(repr=False)
class Proxy:
    """A proxy to send through: its URL without credentials, and the credentials apart."""

    url: URL
    auth: aiohttp.BasicAuth | None = None

    def __repr__(self) -> str:
        return f"Proxy({str(self.url)!r}{', with credentials' if self.auth else ''})"


def _problem(url: str) -> str | None:
    try:
        parts = urlsplit(url)
        _ = parts.port
    except ValueError:
        return "is not a valid URL (check the host and port)"
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "expected an http(s) URL such as 'http://proxy.example.com:3128', or 'direct'"
    return None


def check_proxy(value: Any, key: str, where: Where, schemes: Mapping[str, object]) -> str:
    """A ``proxy`` setting at load: 'direct', a URL without credentials, or a reference."""
    from patchwire.config_values import check_reference
    from patchwire.secrets import split_reference

    if not isinstance(value, str) or not value:
        raise where.error(key, "expected a proxy URL such as 'http://proxy:3128', or 'direct'")
    if value == DIRECT:
        return value
    parts = split_reference(value)
    if parts is not None and parts[0] in schemes:
        return check_reference(value, key, where, schemes)
    problem = _problem(value)
    if problem is None:
        parsed = urlsplit(value)
        if parsed.username is not None or parsed.password is not None:
            # Never echo the value: it holds the password.
            problem = (
                "carries a user name or password ('user:secret@host'), a credential: put the"
                " whole proxy URL in a secret store and reference it, e.g."
                ' proxy = "env:PATCHWIRE_PROXY"'
            )
    if problem is not None:
        raise where.error(key, problem)
    return value


class _Environment:
    """urllib's reading of the proxy variables, redone only when the environment changed.

    ``urllib.request.getproxies()`` and ``proxy_bypass()`` walk and decode every environment
    variable on each call (about 65 µs each with 35 variables), and every request asks both:
    a third of patchwire's client CPU per call in benchmarks/compare_clients.py W2. So each
    request checks, instead, whether anything urllib reads could have changed since the
    last reading, and a variable set or removed between two requests still applies to the
    second. Where urllib also reads system settings (macOS, Windows), or the environment
    mapping is not the usual one, nothing is cached.

    The check (issue 19: comparing the whole environment with a copy cost ~5.8k
    instructions a request) relies on how ``os.environ`` keeps its variables: a dict of
    bytes, each key and value a new bytes object made when the variable is set (only empty
    and one-byte ones are shared). urllib reads the variables named ``*_proxy`` (any case)
    and ``REQUEST_METHOD``; a change to one of them is a different value object under its
    key (or no key), and a variable added (even one removed and set again) is the dict's
    last key in insertion order, a new object, unless one as old was removed since, which
    leaves the dict smaller. So: the same dict, of the same size, with the same last key
    object, and each watched key holding the same value object means nothing urllib reads
    changed. When the last key is one byte long it could come back as the same object, and
    the whole environment is compared with a copy, as before.
    """

    _HOSTS = 1024  # bypass answers kept per reading; a web crawler reaches many hosts

    def __init__(self) -> None:
        self._data: dict[Any, Any] | None = None  # os.environ's mapping at the last reading
        self._size = -1
        self._last: object = None  # its last key then
        # (key, value) of each variable urllib reads, as they were then
        self._watched: tuple[tuple[object, object], ...] = ()
        self._whole: dict[Any, Any] | None = None  # a copy, when the last key is too short
        self._reading: object | None = None
        self._proxies: dict[str, str] = {}
        self._bypass: dict[str, bool] = {}

    def reading(self) -> object | None:
        """The current reading (the same object until the environment changes, reading it
        again first if it did), or None where nothing is cached."""
        data = getattr(os.environ, "_data", None)
        if not isinstance(data, dict) or _SYSTEM_SETTINGS:
            return None
        if (
            data is self._data
            and len(data) == self._size
            and next(reversed(data), None) is self._last
        ):
            whole = self._whole
            if whole is not None:
                if data == whole:
                    return self._reading
            else:
                for key, value in self._watched:
                    if data.get(key) is not value:
                        break
                else:
                    return self._reading
        self._read(data)
        return self._reading

    def _current(self) -> bool:
        """True when the cached reading still holds (rereading first if it did not)."""
        return self.reading() is not None

    def _read(self, data: dict[Any, Any]) -> None:
        self._proxies = urllib.request.getproxies()
        self._bypass = {}
        self._reading = object()
        decode = getattr(os.environ, "decodekey", _as_text)
        self._watched = tuple(
            (key, value) for key, value in data.items() if _read_by_urllib(decode(key))
        )
        last = next(reversed(data), None)
        self._whole = dict(data) if last is not None and len(last) < 2 else None
        self._data, self._size, self._last = data, len(data), last

    def proxies(self) -> dict[str, str]:
        return self._proxies if self._current() else urllib.request.getproxies()

    def bypassed(self, host: str) -> bool:
        if not self._current():
            return _bypass(host)
        known = self._bypass.get(host)
        if known is None:
            if len(self._bypass) >= self._HOSTS:
                self._bypass.clear()
            known = self._bypass[host] = _bypass(host)
        return known


# urllib reads system settings as well as the environment there: nothing is cached.
_SYSTEM_SETTINGS = sys.platform in ("darwin", "win32")


def _read_by_urllib(name: str) -> bool:
    """Whether urllib's getproxies() reads the variable ``name``."""
    return name == "REQUEST_METHOD" or name.lower()[-6:] == "_proxy"


def _as_text(key: object) -> str:
    return os.fsdecode(key) if isinstance(key, bytes) else str(key)


def _bypass(host: str) -> bool:
    try:
        return bool(urllib.request.proxy_bypass(host))
    except OSError:
        return False


_environment = _Environment()


def _env_proxy(url: URL) -> str | None:
    proxies = _environment.proxies()
    return proxies.get(url.scheme) or proxies.get("all")


def _bypassed(url: URL) -> bool:
    host = url.host
    return _environment.bypassed(host) if host else False


class ProxyRules:
    """The hub's proxy rule (module docstring): settings, by origin, and the environment."""

    def __init__(self, hub: str | None, secrets: SecretResolver | None, source: str) -> None:
        self._hub = hub
        self._secrets = secrets
        self._source = source
        self._by_origin: dict[str, tuple[str, str]] = {}  # origin -> (setting, connector)
        # Answers that depend on nothing but the settings and the environment, by (scheme,
        # host, port), for the environment reading they were made under: every request
        # asks, and a connector sends to the same origin over and over.
        self._answers: dict[tuple[str, str | None, int | None], Proxy | None] = {}
        self._answered: object | None = None
        # The last URL answered from there, and its answer: a connector's requests share
        # one URL object (yarl keeps one per address), and a URL never changes, so this
        # skips building the key from three of its properties (issue 19).
        self._recent: tuple[URL | None, Proxy | None] = (None, None)

    def add(self, connector: str, setting: str | None, urls: list[str | None]) -> None:
        """Apply ``connector``'s ``proxy`` setting to requests on the origins of ``urls``."""
        if setting is None:
            return
        for url in urls:
            if not url:
                continue
            origin = _origin(URL(url))
            held = self._by_origin.get(origin)
            if held is not None and held[0] != setting and held[1] != connector:
                raise ConfigError(
                    f"connectors '{held[1]}' and '{connector}' reach {origin} through different"
                    " proxy settings; give them the same proxy (or set it in [hub])",
                    source=self._source,
                )
            self._by_origin[origin] = (setting, connector)
        self._answers = {}
        self._recent = (None, None)

    def scoped(self, setting: str | None) -> ProxyRules:
        """The rule for a client that belongs to one connector (its own session): the
        connector's ``setting`` for every URL, else the hub's, else the environment."""
        return ProxyRules(
            setting if setting is not None else self._hub, self._secrets, self._source
        )

    def uses_environment(self, url: URL | str) -> bool:
        """True when no setting decides for ``url``: the environment's variables do."""
        target = url if isinstance(url, URL) else URL(url)
        return self._by_origin.get(_origin(target)) is None and self._hub is None

    def is_proxy_host(self, host: str) -> bool:
        """True when ``host`` is a proxy this rule can send through (configured or from the
        environment): an SSRF guard lets the client connect to it, and checks targets."""
        settings = [self._hub, *(held[0] for held in self._by_origin.values())]
        candidates = [*_environment.proxies().values()]
        for setting in settings:
            if setting is not None and setting != DIRECT:
                candidates.append(self._resolve(setting, "proxy"))
        return any(URL(value).host == host for value in candidates if _problem(value) is None)

    def for_url(self, url: URL | str) -> Proxy | None:
        """The proxy for a request to ``url``, or None to connect directly."""
        target = url if isinstance(url, URL) else URL(url)
        reading = _environment.reading()
        if reading is None:
            return self._decide(target)[0]
        if reading is not self._answered:
            self._answers = {}
            self._answered = reading
            self._recent = (None, None)
        recent, proxy = self._recent
        if target is recent:
            return proxy
        key = (target.scheme, target.raw_host, target.port)
        try:
            proxy = self._answers[key]
        except KeyError:
            proxy, fixed = self._decide(target)
            if not fixed:
                return proxy
            if len(self._answers) >= _Environment._HOSTS:
                self._answers.clear()
            self._answers[key] = proxy
        self._recent = (target, proxy)
        return proxy

    def _decide(self, target: URL) -> tuple[Proxy | None, bool]:
        """The proxy for ``target``, and whether that answer holds until the environment
        changes (not when it comes from a secret reference, which may rotate)."""
        if _bypassed(target):
            return None, True
        held = self._by_origin.get(_origin(target))
        setting = held[0] if held is not None else self._hub
        if setting is None:
            env = _env_proxy(target)
            return (self._proxy(env, "the environment's proxy variable") if env else None), True
        if setting == DIRECT:
            return None, True
        where = f"proxy of connector '{held[1]}'" if held is not None else "[hub] proxy"
        resolved = self._resolve(setting, where)
        return self._proxy(resolved, where), resolved is setting

    def _resolve(self, setting: str, where: str) -> str:
        if self._secrets is None or _problem(setting) is None:
            return setting
        return self._secrets.resolve(setting, where=where).reveal()

    def _proxy(self, value: str, where: str) -> Proxy:
        problem = _problem(value)
        if problem is not None:
            raise ConfigError(f"{where} {problem}", source=self._source)
        url = URL(value)
        auth = None
        if url.user is not None or url.password is not None:
            user, password = url.user or "", url.password or ""
            if self._secrets is not None and password:
                self._secrets.protect(password)
            # aiohttp 3.x takes proxy credentials as a BasicAuth (deprecated for 4.0, when
            # a Proxy-Authorization header replaces it).
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)
                auth = aiohttp.BasicAuth(user, password)
            url = url.with_user(None)
        return Proxy(url, auth)


def _origin(url: URL) -> str:
    return f"{url.scheme}://{url.host}:{url.port}"


def proxy_request_class(
    rules: ProxyRules, base: type[aiohttp.ClientRequest] = aiohttp.ClientRequest
) -> type[aiohttp.ClientRequest]:
    """A request class for an aiohttp session that applies ``rules`` to every request,
    redirects included (aiohttp builds a new request for each hop)."""

    # The rule is applied where the request takes its proxy (``update_proxy``, which the
    # constructor calls once ``self.url`` is set) rather than around the constructor: a
    # constructor override packs and unpacks aiohttp's twenty-odd keyword arguments on
    # every request. base's update_proxy is called as a plain function: super() builds a
    # proxy object on every request to find the same method.
    update_proxy = base.update_proxy

    class ProxiedRequest(base):  # type: ignore[valid-type,misc]
        def update_proxy(
            self,
            proxy: URL | None,
            proxy_auth: aiohttp.BasicAuth | None,
            proxy_headers: Any,
        ) -> None:
            if proxy is None:
                chosen = rules.for_url(self.url)
                if chosen is not None:
                    proxy, proxy_auth = chosen.url, chosen.auth
            update_proxy(self, proxy, proxy_auth, proxy_headers)

    return ProxiedRequest
