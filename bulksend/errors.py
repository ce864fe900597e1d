"""The one error tree of bulksend.

::

    BulksendError
    ├── InputError              their fault (the user's input); never retried, exit 2
    │   ├── ConfigError         a bad config file, key or value
    │   ├── RecipientError      one bad recipient line: reported and skipped
    │   └── TemplateError       a placeholder with no value and no default
    ├── MachineFailure          this machine failed the run (the journal's disk is
    │                           full, an I/O error): it stops, exit 75, resumable
    └── ProviderError           what the provider said (or did not say)
        ├── BatchRejected       400/403 and the like: that batch fails, not retried
        ├── CampaignRefused     401, no credit: the whole campaign stops, exit 3
        ├── TransientError      429, 5xx, timeouts, refused connections: retried
        │   ├── RateLimited     429, with the provider's Retry-After if it sent one
        │   └── Unreachable     no connection could be made: nothing was sent; a
        │                       batch that never got through stops the campaign
        │                       (resumable) instead of failing
        └── AmbiguousOutcome    the request may or may not have been accepted:
                                reconciled with the provider before any resend,
                                so that no recipient is messaged twice

Messages never contain secrets: codecs build them from status codes and the
provider's own error code and text, never from request headers.
"""

from __future__ import annotations


class BulksendError(Exception):
    """Base of every error bulksend raises on purpose."""


class InputError(BulksendError):
    """The user's input is wrong; retrying cannot help."""


class ConfigError(InputError):
    """A config file, key or value is wrong. The message names the key."""


class RecipientError(InputError):
    """One recipient line is unusable. Carries where it was and why."""

    def __init__(self, reason: str, value: str = "", line: int = 0, source: str = "") -> None:
        self.reason = reason
        self.value = value
        self.line = line
        self.source = source
        where = f"{source}:{line}: " if source else ""
        super().__init__(f"{where}{reason}: {value!r}")


class TemplateError(InputError):
    """A message template cannot be filled for a recipient."""


class MachineFailure(BulksendError):
    """The machine, not the input or the provider, failed: a full disk, an I/O error.

    The run stops with what it recorded so far (exit 75); once the cause is
    fixed, ``resume`` goes on where it stopped.
    """


class ProviderError(BulksendError):
    """Something the provider answered, or failed to answer."""

    def __init__(self, message: str, *, status: int = 0, code: str = "", text: str = "") -> None:
        self.status = status
        self.code = code
        self.text = text
        super().__init__(message)


class BatchRejected(ProviderError):
    """The provider refused this batch (bad request); retrying cannot help."""


class CampaignRefused(ProviderError):
    """The provider refuses the whole campaign: bad credentials, no credit."""


class TransientError(ProviderError):
    """A failure that may pass: server errors, timeouts, refused connections.

    The request was certainly not accepted, so resending is safe.
    """

    def __init__(self, message: str, *, retry_after: float | None = None, **kw: object) -> None:
        self.retry_after = retry_after
        super().__init__(message, **kw)  # type: ignore[arg-type]


class RateLimited(TransientError):
    """The provider said 429."""


class Unreachable(TransientError):
    """No connection to the provider could be made, so nothing was sent.

    Retried like any transient error; a batch that never got through stops
    its campaign (exit 75, resumable) rather than failing its recipients:
    the provider is down or out of reach, and the rest of the list would
    only fail the same way.
    """


class AmbiguousOutcome(ProviderError):
    """The request left, but no answer came back: it may have been accepted.

    Never resent blindly; the engine asks the provider first (reconcile).
    """
