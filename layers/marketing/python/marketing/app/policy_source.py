"""The contact policy in force, live without a redeploy: the operator's copy in the settings table
when there is one, else the policy file shipped with the functions; read through a short cache.

A stored document that no longer validates never stops decisions: the last good policy stays in
force and the problem is reported (`on_invalid`).
"""
from __future__ import annotations

import time
from typing import Any, Callable

from pydantic import ValidationError

from marketing.domain.contact_policy import ContactPolicy
from marketing.ports import PolicyStore


class PolicySource:
    def __init__(self, default: ContactPolicy, store: PolicyStore | None = None, ttl_seconds: float = 30.0,
                 monotonic: Callable[[], float] = time.monotonic,
                 on_invalid: Callable[[str], None] | None = None):
        self._default, self._store, self._ttl, self._monotonic = default, store, ttl_seconds, monotonic
        self._on_invalid = on_invalid or (lambda message: None)
        self._policy, self._loaded_at = default, float("-inf")
        self._document: dict[str, Any] | None = None

    def __call__(self) -> ContactPolicy:
        if self._store is None or self._monotonic() - self._loaded_at < self._ttl:
            return self._policy
        self._loaded_at = self._monotonic()
        document = self._store.get_policy()
        if document is None:
            self._policy, self._document = self._default, None
        elif document != self._document:
            try:
                self._policy = ContactPolicy.model_validate(document)
                self._document = document
            except ValidationError as exc:
                self._on_invalid(f"the stored contact policy is invalid, keeping the one in force: {exc}")
        return self._policy
