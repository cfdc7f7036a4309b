"""Record identifiers: unguessable, URL-safe, never repeated — across a fork too."""

from __future__ import annotations

import os
import re
import threading

from store.records import new_id


def test_ids_are_url_safe_16_characters_and_do_not_repeat() -> None:
    ids = [new_id() for _ in range(20_000)]  # several refills of the pool
    assert len(set(ids)) == len(ids)
    assert all(re.fullmatch(r"[A-Za-z0-9_-]{16}", i) for i in ids)


def test_threads_never_share_bytes() -> None:
    seen: list[str] = []

    def take() -> None:
        seen.extend(new_id() for _ in range(2_000))

    threads = [threading.Thread(target=take) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(seen)) == 8_000


def test_a_forked_child_does_not_repeat_its_parents_next_ids() -> None:
    new_id()  # the pool holds unread bytes that a child would copy
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: send its next ids and leave at once
        os.close(read)
        os.write(write, " ".join(new_id() for _ in range(50)).encode())
        os._exit(0)
    os.close(write)
    parent = {new_id() for _ in range(50)}
    with os.fdopen(read) as pipe:
        child = set(pipe.read().split())
    os.waitpid(pid, 0)
    assert len(child) == 50 and not parent & child
