"""Fitting the engine's n-gram model in a child process, so that it never holds the server's
interpreter lock.

A fit (``NgramModel``: seconds of scikit-learn and SciPy for the seed's ~3,000 texts) run in a
thread of the server still holds the interpreter lock through its long calls into compiled
code (L-BFGS-B steps of ~20 ms, sparse products of ~10 ms): measured while the model was
refitted in a thread (every ``moderation.understander.REFIT_EVERY`` approvals), the event loop
woke up to 200 ms late and staff actions took up to 120 ms instead of 5. ``fit_in_child`` runs
the same fit, on the same inputs, in a fresh interpreter (``python -m`` this module) and reads
the fitted model back (a pickle on its standard output), so the caller's thread only waits on
a pipe. The child uses one core (``THREADS``), at a lower priority for a refit
(``refit_in_background``), exits when its parent is gone, and holds the engine's libraries'
memory only while it fits.
"""

from __future__ import annotations

import logging
import os
import pickle
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path

from moderation.understanding.ngram import NGRAMS, NgramModel

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parents[2]  # where ``moderation`` is imported from
REFIT_NICE = 10
# One BLAS thread: with OpenBLAS's default (a thread per core) the seed's fit took 11.6 s of
# CPU on 2 cores (its threads spin while they wait) against 3.4 s with one, and finished later.
# The fitted model is the same (tests/moderation/test_understanding_fit.py).
THREADS = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}


def fit_in_child(item_ids: Sequence[str], texts: Sequence[str],
                 labels: Sequence[str], *, ngrams: tuple[int, int] = NGRAMS,
                 nice: int = 0) -> NgramModel:
    """``NgramModel(item_ids, texts, labels, ngrams=ngrams)``, fitted in a child process
    (blocks the calling thread, not the interpreter) at ``nice`` below this process's
    priority. Where no child can be started it fits here."""
    payload = pickle.dumps((list(item_ids), list(texts), list(labels), tuple(ngrams)),
                           protocol=pickle.HIGHEST_PROTOCOL)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
    env.update(THREADS)
    try:
        done = subprocess.run([sys.executable, "-m", __name__, str(nice)],  # noqa: S603
                              input=payload, capture_output=True, env=env, cwd=ROOT,
                              check=False)
    except OSError as exc:
        log.warning("no process for the n-gram fit (%s): fitting it in this one", exc)
        return NgramModel(item_ids, texts, labels, ngrams=ngrams)
    if done.returncode != 0:
        reason = done.stderr.decode(errors="replace").strip().splitlines()[-1:]
        raise RuntimeError(f"the n-gram fit's process failed ({done.returncode}): "
                           f"{reason[0] if reason else 'no message'}")
    model = pickle.loads(done.stdout)  # noqa: S301 - our own child's answer
    if not isinstance(model, NgramModel):
        raise RuntimeError(f"the n-gram fit's process returned {type(model).__name__}")
    return model


def refit_in_background(item_ids: Sequence[str], texts: Sequence[str],
                        labels: Sequence[str], *,
                        ngrams: tuple[int, int] = NGRAMS) -> NgramModel:
    """``fit_in_child`` at ``REFIT_NICE``: a refit during a broadcast (nobody waits for it)
    yields the cores to the server and its clients; the first fit, at start, does not."""
    return fit_in_child(item_ids, texts, labels, ngrams=ngrams, nice=REFIT_NICE)


def _exit_with(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(0.5)
    os._exit(1)  # the server is gone: nobody will read the model


def main() -> None:
    os.nice(int(sys.argv[1]) if len(sys.argv) > 1 else 0)
    threading.Thread(target=_exit_with, args=(os.getppid(),), daemon=True).start()
    # A parent started before ``ngrams`` existed (a server updated in place, not yet
    # restarted) sends three values: its models read up to character pairs.
    item_ids, texts, labels, *rest = pickle.load(sys.stdin.buffer)  # noqa: S301 - our parent's
    model = NgramModel(item_ids, texts, labels, ngrams=tuple(rest[0]) if rest else NGRAMS)
    sys.stdout.buffer.write(pickle.dumps(model, protocol=pickle.HIGHEST_PROTOCOL))
    sys.stdout.buffer.flush()


if __name__ == "__main__":
    main()
