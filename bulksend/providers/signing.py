"""Request signing and verification, pure functions.

Sinch Classic ("application signed request"), exactly as documented::

    Content-MD5   = Base64(MD5(UTF8(body)))
    StringToSign  = VERB "\\n" Content-MD5 "\\n" Content-Type "\\n" "x-timestamp:" ts "\\n" path
    Signature     = Base64(HMAC-SHA256(Base64Decode(secret), UTF8(StringToSign)))
    Authorization = "Application " key ":" Signature      (and header x-timestamp: ts)

A request without a body signs empty Content-MD5 and Content-Type lines. The
same scheme signs the callbacks Sinch Classic sends, so ``verify_classic``
serves both the sandbox (checking requests) and ``bulksend listen``
(checking callbacks).

``webhook_hmac_headers`` is the shared-secret HMAC bulksend uses for XMS
callbacks when a plan configures ``callback_secret_env``: modelled on Sinch's
webhook signing headers, ``Base64(HMAC-SHA256(UTF8(secret), body "." nonce "."
timestamp))``. Every comparison is constant-time; nothing here logs.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Mapping
from datetime import datetime, timezone

#: how far a signed request's timestamp may be from our clock (Sinch: 15 minutes)
MAX_SKEW = 15 * 60.0

SIG_TIMESTAMP = "x-sinch-webhook-signature-timestamp"
SIG_NONCE = "x-sinch-webhook-signature-nonce"
SIG_ALGORITHM = "x-sinch-webhook-signature-algorithm"
SIG = "x-sinch-webhook-signature"

#: the headers a callback check reads, and the longest value each may have
CALLBACK_HEADERS = {"authorization": 1024, "x-timestamp": 40, "content-type": 256,
                    SIG_TIMESTAMP: 12, SIG_NONCE: 256, SIG: 256}


def clean_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """The ``CALLBACK_HEADERS`` of a request (keys lower-cased), each only when it is short
    printable ASCII: header values are the caller's text, and a check never sees another."""
    found: dict[str, str] = {}
    for name, value in headers.items():
        key = name.lower()
        limit = CALLBACK_HEADERS.get(key)
        if limit is None or not isinstance(value, str) or len(value) > limit:
            continue
        if value.isascii() and value.isprintable():
            found[key] = value
    return found


def decode_secret(secret: str) -> bytes:
    """The key bytes of a Base64 application secret (missing padding tolerated)."""
    text = secret.strip()
    text += "=" * (-len(text) % 4)
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("the application secret is not Base64") from None


def content_md5(body: bytes) -> str:
    return base64.b64encode(hashlib.md5(body).digest()).decode("ascii") if body else ""


def iso_timestamp(epoch: float) -> str:
    """``2014-06-04T13:41:58Z``: UTC, whole seconds, as Sinch's examples write it."""
    return datetime.fromtimestamp(epoch, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def string_to_sign(method: str, body: bytes, content_type: str, timestamp: str, path: str) -> str:
    md5 = content_md5(body)
    ctype = content_type if body else ""
    return f"{method.upper()}\n{md5}\n{ctype}\nx-timestamp:{timestamp}\n{path}"


def classic_signature(secret: str, text: str) -> str:
    digest = hmac.new(decode_secret(secret), text.encode("utf-8"), hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def sign_classic(
    method: str, path: str, body: bytes, content_type: str, key: str, secret: str, timestamp: str,
) -> dict[str, str]:
    """The headers of a signed Sinch Classic request."""
    signature = classic_signature(secret, string_to_sign(method, body, content_type, timestamp, path))
    headers = {"Authorization": f"Application {key}:{signature}", "x-timestamp": timestamp}
    if body:
        headers["Content-Type"] = content_type
    return headers


def basic_classic(key: str, secret: str) -> str:
    """``Basic base64("application\\{key}:{secret}")``."""
    raw = f"application\\{key}:{secret}".encode()
    return "Basic " + base64.b64encode(raw).decode("ascii")


def header(headers: Mapping[str, str], name: str) -> str | None:
    value = headers.get(name)
    if value is not None:
        return value
    lowered = name.lower()
    for key, val in headers.items():
        if key.lower() == lowered:
            return val
    return None


def parse_timestamp(value: str) -> float | None:
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed.timestamp()


def verify_classic(
    method: str, path: str, body: bytes, headers: Mapping[str, str],
    key: str | None, secret: str, now: float, max_skew: float = MAX_SKEW,
) -> bool:
    """True when ``headers`` carry a valid, fresh Classic signature.

    ``key`` None accepts any application key (the sandbox's open plans).
    """
    auth = header(headers, "Authorization") or ""
    scheme, _, rest = auth.partition(" ")
    if scheme.lower() != "application" or ":" not in rest:
        return False
    got_key, _, got_sig = rest.strip().partition(":")
    if key is not None and not hmac.compare_digest(got_key.encode(), key.encode()):
        return False
    stamp = header(headers, "x-timestamp")
    when = parse_timestamp(stamp) if stamp else None
    if stamp is None or when is None or abs(now - when) > max_skew:
        return False
    ctype = header(headers, "Content-Type") or ""
    try:
        expected = classic_signature(secret, string_to_sign(method, body, ctype, stamp, path))
    except ValueError:
        return False
    return hmac.compare_digest(expected.encode(), got_sig.encode())


def basic_credentials(headers: Mapping[str, str]) -> tuple[str, str] | None:
    """``(user, password)`` from an HTTP Basic ``Authorization`` header, if well formed."""
    auth = header(headers, "Authorization") or ""
    scheme, _, encoded = auth.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        return None
    user, sep, password = decoded.partition(":")
    return (user, password) if sep else None


def verify_basic_classic(headers: Mapping[str, str], key: str | None, secret: str) -> bool:
    found = basic_credentials(headers)
    if found is None:
        return False
    user, password = found
    prefix = "application\\"
    if not user.lower().startswith(prefix):
        return False
    if key is not None and not hmac.compare_digest(user[len(prefix):].encode(), key.encode()):
        return False
    return hmac.compare_digest(password.encode(), secret.encode())


def webhook_hmac_headers(secret: str, body: bytes, nonce: str, timestamp: int) -> dict[str, str]:
    """Headers signing a callback body with a shared secret."""
    signed = body + f".{nonce}.{timestamp}".encode()
    mac = hmac.new(secret.encode("utf-8"), signed, hashlib.sha256).digest()
    return {
        SIG_TIMESTAMP: str(timestamp),
        SIG_NONCE: nonce,
        SIG_ALGORITHM: "HmacSHA256",
        SIG: base64.b64encode(mac).decode("ascii"),
    }


def verify_webhook_hmac(
    secret: str, body: bytes, headers: Mapping[str, str], now: float, max_skew: float = MAX_SKEW,
) -> bool:
    stamp, nonce, got = header(headers, SIG_TIMESTAMP), header(headers, SIG_NONCE), header(headers, SIG)
    if not (stamp and nonce and got):
        return False
    try:
        when = int(stamp)
    except ValueError:
        return False
    if abs(now - when) > max_skew:
        return False
    expected = webhook_hmac_headers(secret, body, nonce, when)[SIG]
    return hmac.compare_digest(expected.encode(), got.encode())


def basic_auth(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode("ascii")


def verify_basic_password(headers: Mapping[str, str], password: str) -> bool:
    """True when HTTP Basic credentials carry ``password`` (any user name)."""
    found = basic_credentials(headers)
    return found is not None and hmac.compare_digest(found[1].encode(), password.encode())
