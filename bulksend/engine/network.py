"""How a plan's requests reach its provider: TLS trust and proxies.

Decided once per plan when its transport is made, never per request:

- **trust**: the default context of Python's ``ssl`` (the system store, or
  ``SSL_CERT_FILE`` / ``SSL_CERT_DIR`` when set: OpenSSL reads them when the
  context is built), or the plan's ``ca_file`` alone (as curl's
  ``--cacert``). One context per distinct ``ca_file``, built once per
  ``Network``. Verification is always on: nothing here can turn it off.
- **proxy**: the plan's ``proxy`` (credentials from the variable its
  ``proxy_auth_env`` names), else ``HTTPS_PROXY`` / ``HTTP_PROXY`` (by the
  URL's scheme, lower-case names first) unless ``NO_PROXY`` covers the host:
  the rules of ``urllib.request`` that aiohttp's ``trust_env`` applies, read
  from the engine's environment. Plain http goes to loopback only (config
  rule), so an http:// sandbox plan is always reached directly. bulksend does not use ``trust_env`` itself:
  it would look both up again in a thread for every request, and would take
  ``~/.netrc`` credentials that clash with a provider's own Authorization.

Proxy credentials never appear in a message: ``Route.describe`` names the
proxy's host and port only.
"""

from __future__ import annotations

import base64
import ssl
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlsplit

from bulksend.config import PlanConfig
from bulksend.errors import ConfigError


@dataclass(frozen=True, slots=True)
class Route:
    """The extra arguments every request of one plan carries."""

    #: the context that verifies the provider's certificate
    ssl: ssl.SSLContext
    #: an http:// proxy URL without credentials, or None (direct)
    proxy: str | None = None
    #: the ``Proxy-Authorization`` value, or None
    proxy_auth: str | None = field(default=None, repr=False)

    def request_kwargs(self) -> dict[str, Any]:
        """What ``session.request`` takes for this route."""
        kwargs: dict[str, Any] = {"ssl": self.ssl}
        if self.proxy is not None:
            kwargs["proxy"] = self.proxy
            if self.proxy_auth is not None:
                kwargs["proxy_headers"] = {"Proxy-Authorization": self.proxy_auth}
        return kwargs

    def describe(self) -> str:
        if self.proxy is None:
            return "direct"
        return f"through the proxy {urlsplit(self.proxy).netloc}"


class Network:
    """Builds each plan's ``Route`` from its config and the environment."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self.env = env
        self._contexts: dict[str | None, ssl.SSLContext] = {}

    def context(self, ca_file: str | None = None) -> ssl.SSLContext:
        """The verifying context for ``ca_file`` (None: the default trust), built once."""
        made = self._contexts.get(ca_file)
        if made is None:
            try:
                made = ssl.create_default_context(cafile=ca_file)
            except (ssl.SSLError, OSError, ValueError) as exc:
                why = getattr(exc, "reason", None) or getattr(exc, "strerror", None) or type(exc).__name__
                raise ConfigError(f"ca_file {ca_file}: not a usable PEM certificate bundle ({why})") from None
            self._contexts[ca_file] = made
        return made

    def route(self, plan: PlanConfig) -> Route:
        net = plan.network
        try:
            context = self.context(net.ca_file)
        except ConfigError as exc:
            raise ConfigError(f"plans.{plan.name}.{exc}") from None
        if net.proxy is not None:
            return Route(context, net.proxy, self._proxy_auth(plan))
        # Plain http is allowed to loopback only (the sandbox): a corporate HTTP_PROXY
        # could not reach it, so it is always reached directly.
        found = None if plan.base_url.startswith("http://") else env_proxy(self.env, plan.base_url)
        if found is None:
            return Route(context)
        proxy, auth = found
        return Route(context, proxy, auth)

    def _proxy_auth(self, plan: PlanConfig) -> str | None:
        var = plan.network.proxy_auth_env
        if var is None:
            return None
        value = self.env.get(var)
        if not value:
            raise ConfigError(f"plans.{plan.name}: the proxy credentials are read from the "
                              f"environment variable {var}, which is not set")
        user, colon, password = value.partition(":")
        if not colon or not user:
            raise ConfigError(f"plans.{plan.name}: {var} must hold user:password for the proxy")
        return basic_auth(user, password)


def basic_auth(user: str, password: str) -> str:
    """A ``Proxy-Authorization`` value (RFC 7617)."""
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode("ascii")


def env_proxy(env: Mapping[str, str], url: str) -> tuple[str, str | None] | None:
    """The proxy ``*_PROXY`` in ``env`` gives for ``url`` (None: go direct), as urllib reads them."""
    proxies = _proxies(env)
    parts = urlsplit(url)
    chosen = proxies.get(parts.scheme)
    if not chosen or parts.hostname is None:
        return None
    if _bypass(parts.hostname, proxies):  # NO_PROXY
        return None
    proxy = urlsplit(chosen if "://" in chosen else "http://" + chosen)
    if proxy.scheme != "http" or not proxy.hostname:
        raise ConfigError(f"{parts.scheme.upper()}_PROXY: only http:// proxies are supported "
                          f"(https targets are tunnelled through them), not {proxy.scheme}://")
    auth = None
    if proxy.username is not None:
        auth = basic_auth(unquote(proxy.username), unquote(proxy.password or ""))
    host = f"[{proxy.hostname}]" if ":" in proxy.hostname else proxy.hostname
    port = f":{proxy.port}" if proxy.port else ""
    return f"http://{host}{port}", auth


#: urllib's NO_PROXY matching (the one aiohttp's trust_env uses); absent from typeshed
_bypass: Callable[[str, dict[str, str]], bool] = urllib.request.proxy_bypass_environment  # type: ignore[attr-defined]


def _proxies(env: Mapping[str, str]) -> dict[str, str]:
    """``{scheme: proxy}`` plus ``no``, as ``urllib.request.getproxies_environment`` (lower case wins)."""
    found: dict[str, str] = {}
    for name, value in env.items():
        if value and name.lower().endswith("_proxy") and name.isupper():
            found[name.lower()[:-6]] = value
    if "REQUEST_METHOD" in env:  # a CGI request may set HTTP_PROXY (httpoxy): not ours
        found.pop("http", None)
    for name, value in env.items():
        if name.lower().endswith("_proxy") and not name.isupper():
            if value:
                found[name.lower()[:-6]] = value
            else:
                found.pop(name.lower()[:-6], None)
    return found
