"""The serving process's heap: keep Python's full garbage collections short.

A generation-2 collection walks every object the collector tracks. The understanding engine
alone is about 270,000 of them (its indexes and models), and each viewer connection adds
about a hundred: with the engine on and 5,000 viewers, ``bench/hub.py`` saw full collections
of 470–760 ms in its question phases, and an ask arriving meanwhile waited that long.

What the process builds at start and keeps — modules, the catalog, the word list, the first
engine — is garbage only when replaced, and then reference counting frees it (the engine has
no reference cycles: dropping one leaves nothing for ``gc.collect`` to find). So once the
first engine is in use it is all moved out of the collector's reach with ``gc.freeze()``, and
a full collection walks only what serving creates. An engine rebuilt later (an admin's edit)
is not frozen: collections then include it again until the next start. Connections already
open at the freeze (a restart in the middle of a broadcast) are frozen with it; what they
hold in reference cycles is kept until the process ends.
"""

from __future__ import annotations

import gc
import logging

from aiohttp import web

from web import keys

log = logging.getLogger(__name__)


async def freeze_startup_heap(app: web.Application) -> int:
    """Wait for the first understanding engine (not when it is off), collect, and freeze
    everything tracked so far. Returns how many objects are frozen."""
    understander = app.get(keys.UNDERSTANDER)
    if understander is not None and app[keys.SETTINGS].understanding.enabled:
        await understander.ready.wait()
    gc.collect()
    gc.freeze()
    frozen = gc.get_freeze_count()
    log.info("%d objects built at start moved out of the garbage collector's reach",
             frozen)
    return frozen
