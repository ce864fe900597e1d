"""Signed callbacks seen recently, so a replayed one is refused (``bulksend listen``).

A signature covers the body and a timestamp the verifier accepts only within
the skew window (15 minutes either way). Inside that window the same signed
request could be sent again and would verify again; ``ReplayGuard`` remembers
each signature until its timestamp leaves the window, after which the
verifier refuses it anyway.

A signature is *claimed* when it verifies and *released* when the request
was not stored (the provider may then retry it with the same signature);
while claimed, the same signature is refused, so two copies racing each other
cannot both be stored. Memory is bounded: beyond ``max_entries`` the oldest
claims are forgotten first (a replayed delivery report is harmless anyway,
the store keeps one status per recipient). The guard reads the clock it is
given; it never reads time itself.
"""

from __future__ import annotations

import hashlib

MAX_ENTRIES = 200_000


class ReplayGuard:
    __slots__ = ("_seen", "max_entries")

    def __init__(self, max_entries: int = MAX_ENTRIES) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        #: digest of (plan, signature) -> epoch seconds until which it is remembered
        self._seen: dict[bytes, float] = {}
        self.max_entries = max_entries

    def __len__(self) -> int:
        return len(self._seen)

    @staticmethod
    def _key(plan: str, signature: str) -> bytes:
        return hashlib.blake2b(f"{plan}\0{signature}".encode("utf-8", "surrogatepass"), digest_size=16).digest()

    def claim(self, plan: str, signature: str, until: float, now: float) -> bool:
        """True, and remembered until ``until``, if ``signature`` was not seen; False for a replay."""
        self._forget_expired(now)
        key = self._key(plan, signature)
        known = self._seen.get(key)
        if known is not None and known > now:
            return False
        self._seen.pop(key, None)
        while len(self._seen) >= self.max_entries:
            del self._seen[next(iter(self._seen))]
        self._seen[key] = until
        return True

    def release(self, plan: str, signature: str) -> None:
        """Forget a claim whose request was not stored, so the provider's retry is taken."""
        self._seen.pop(self._key(plan, signature), None)

    def _forget_expired(self, now: float) -> None:
        # Claims arrive roughly in timestamp order: drop expired ones from the front.
        seen = self._seen
        while seen:
            first = next(iter(seen))
            if seen[first] > now:
                return
            del seen[first]
