"""A real store whose transactions fail part-way: the Nth write inside a transaction raises
``StoreUnavailable`` (as a full disk or a lost server would), after the writes before it
really happened inside that transaction. What the transaction wrote must then be rolled back
by the real backend — nothing here fakes the rollback."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from store.base import WRITES, Store, StoreUnavailable

# Writes as the services call them: the store's own write methods and the conveniences built
# on them (each counted once, as the service sees it).
COUNTED = (*WRITES, "update_many", "audit", "revoke_logins")


class FaultyStore:
    def __init__(self, store: Store, fail_at: int | None = None) -> None:
        self.real = store
        self.fail_at = fail_at  # the write (1-based, over all transactions) that fails
        self.writes = 0
        self.transactions = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[Any]:
        self.transactions += 1
        async with self.real.transaction() as tx:
            yield _Handle(tx, self)


class _Handle:
    def __init__(self, tx: Store, owner: FaultyStore) -> None:
        self._tx = tx
        self._owner = owner

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._tx, name)
        if name not in COUNTED:
            return attr
        return self._counted(attr)

    def _counted(self, write: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
        async def counted(*args: Any, **kwargs: Any) -> Any:
            self._owner.writes += 1
            if self._owner.writes == self._owner.fail_at:
                raise StoreUnavailable("injected failure: database or disk is full")
            return await write(*args, **kwargs)

        return counted
