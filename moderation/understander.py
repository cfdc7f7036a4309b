"""The understanding engine in use in this process: built off the event loop, rebuilt when an
admin edits the catalog or the word list, taught by the desk.

``Understander`` holds the current ``moderation.understanding.Understanding`` (``None`` until
the first build finishes, or when the engine is turned off). Every reader falls back while
there is none: ``item_hints`` leaves the keyword suggester's flags alone, and the answers
(``clips.answers``) say "not ready".

The desk teaches it: ``question_changed`` is a listener of the moderation service (web.app
wires it); a question approved under an item becomes a labelled example at once
(``Understanding.learn``), one declined as not the desk's business (the moderator ticks it:
``questions.OFF_TOPIC``) an example for the off-topic gate (``Understanding.learn_outside``),
taken in at the next refit. Every ``REFIT_EVERY`` examples the n-gram models are refitted in
the background (a daemon thread that waits for the fit's child process,
``moderation.understanding.fit_child``). Learned examples are kept here too, so that a rebuild
(after an edit) starts from them.

They survive a restart without a table of their own: a question carries an item only once a
moderator has filed it under one (``questions.Approve``), the off-topic flag only once one has
declined it so, and the store keeps the question, so ``stored_examples`` reads them back at
start (the newest ``MAX_EXAMPLES`` of both kinds) and ``restore`` hands them to the first
build. A moderator who later corrects the item corrects the example.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from moderation.catalog import Catalog
from moderation.knowledge import KnowledgeBase, load_knowledge
from moderation.questions import DECLINED, OFF_TOPIC, PENDING, QUEUED, SESSION_ENDED_REASON
from store.base import Store
from store.records import Question

if TYPE_CHECKING:
    # The engine (scikit-learn, numpy: ~140 MiB) is imported only where it is built, so that
    # processes that never build one (run.py worker/check, exports) do not load it.
    from moderation.understanding import Result, Understanding, WordListLike

T = TypeVar("T")

log = logging.getLogger(__name__)

SUGGESTED = 3  # items shown to moderators on a question
REFIT_EVERY = 50  # learned examples between two refits of the n-gram model
MAX_EXAMPLES = 20_000  # learned examples kept for rebuilds (the oldest are dropped)
PAGE = 1_000  # declined questions read at a time at start
MAX_DECLINED_READ = 200_000  # declined questions read at most at start, newest first

Examples = Sequence[tuple[str, str]]  # (text, item id), or (text, OUTSIDE): not our business
OUTSIDE = ""  # the "item" of a question a moderator declined as not the desk's business
Builder = Callable[[Catalog, "WordListLike", KnowledgeBase, Examples], "Understanding"]


def shipped_knowledge(catalog: Catalog) -> KnowledgeBase:
    """The shipped knowledge base, without the entries of items an admin has removed from
    the catalog (checked against the shipped catalog, whose items it is written for)."""
    knowledge = load_knowledge()
    return KnowledgeBase(tuple(e for e in knowledge.entries if catalog.get(e.item_id)))


async def stored_examples(store: Store, limit: int = MAX_EXAMPLES) -> list[tuple[str, str]]:
    """The newest ``limit`` examples the desk gave, oldest first: (text, item id) of the
    questions a moderator filed under an item and (text, ``OUTSIDE``) of those declined as not
    the desk's business (a question filed and then declined so counts as the latter only). The
    texts are as stored: personal data already masked."""
    filed = await store.find(Question, {"item_id__ne": ""}, order_by=("-created_at",),
                             limit=limit)
    examples = [(q.created_at, q.text, q.item_id) for q in filed if not q.flags.get(OFF_TOPIC)]
    declined = await _declined_off_topic(store, limit)
    examples.extend((q.created_at, q.text, OUTSIDE) for q in declined)
    examples.sort(key=lambda example: example[0])
    return [(text, label) for _, text, label in examples[-limit:]]


async def _declined_off_topic(store: Store, limit: int) -> list[Question]:
    """The newest ``limit`` questions declined as not the desk's business. The flag is not a
    field the store can select on, so declined questions are read a page at a time, newest
    first, skipping those the end of a session declined (every open question at once)."""
    found: list[Question] = []
    offset = 0
    where = {"state": DECLINED, "decline_reason__ne": SESSION_ENDED_REASON}
    while len(found) < limit and offset < MAX_DECLINED_READ:
        page = await store.find(Question, where, order_by=("-created_at",), limit=PAGE,
                                offset=offset)
        found.extend(question for question in page if question.flags.get(OFF_TOPIC))
        if len(page) < PAGE:
            break
        offset += PAGE
    return found[:limit]


def build_engine(catalog: Catalog, words: WordListLike, knowledge: KnowledgeBase,
                 examples: Examples) -> Understanding:
    """The engine for these inputs, taught the shipped seed examples (of items still in the
    catalog, and of the topics that are not ours) before the learned ``examples`` (seconds
    of CPU: call it in a worker thread). Its
    n-gram model is fitted, now and at each refit, in a child process
    (``moderation.understanding.fit_child``): the fit would otherwise hold the interpreter
    lock for seconds, and the event loop with it."""
    from moderation.understanding import Understanding
    from moderation.understanding.fit_child import fit_in_child, refit_in_background
    from moderation.understanding.outside import load_outside
    from moderation.understanding.seeds import load_outside_seeds, load_seeds

    seeds = [(text, item_id) for text, item_id in load_seeds() if catalog.get(item_id)]
    filed = [(text, label) for text, label in examples if label != OUTSIDE]
    declined = [text for text, label in examples if label == OUTSIDE]  # teach the gate
    return Understanding.build(catalog, words, knowledge, examples=[*seeds, *filed],
                               outside=load_outside(), fit=fit_in_child,
                               refit=refit_in_background,
                               outside_examples=[*(text for text, _ in load_outside_seeds()),
                                                 *declined])


class Understander:
    def __init__(self, build: Builder = build_engine) -> None:
        self._build = build
        self.engine: Understanding | None = None
        self.knowledge = KnowledgeBase(())  # in use: what /ask shows and the engine learned
        self._knowledge_source: KnowledgeBase | None = None  # the admins' edit; None: shipped
        self._examples: list[tuple[str, str]] = []
        self._generation = 0
        self._task: asyncio.Task[None] | None = None
        self._refit: asyncio.Task[None] | None = None
        self._since_fit = 0
        self.ready = asyncio.Event()  # set once an engine is in use
        # What the engine in use was built from (the catalog and the word list).
        self.inputs: tuple[Catalog, WordListLike] | None = None

    # --- building ------------------------------------------------------------------------

    def restore(self, examples: Examples) -> None:
        """Examples kept from before a restart (``stored_examples``): the next build learns
        them, before anything learned since."""
        self._examples[:0] = examples
        del self._examples[:-MAX_EXAMPLES]

    def rebuild(self, catalog: Catalog, words: WordListLike) -> None:
        """Build an engine for ``catalog`` and ``words`` in the background; the current one
        (if any) answers until it is done. A newer call supersedes an unfinished one."""
        self._generation += 1
        previous = self._task
        self._task = asyncio.create_task(self._run(self._generation, previous, catalog, words))

    async def _run(self, generation: int, previous: asyncio.Task[None] | None,
                   catalog: Catalog, words: WordListLike) -> None:
        if previous is not None:  # one build at a time: two would halve each other's CPU
            await asyncio.gather(previous, return_exceptions=True)
        if generation != self._generation:
            return  # superseded while waiting
        knowledge = self.knowledge_for(catalog)
        known = len(self._examples)
        examples = [(t, i) for t, i in self._examples
                    if i == OUTSIDE or catalog.get(i) is not None]
        try:
            engine = await in_daemon_thread(self._build, catalog, words, knowledge, examples)
        except Exception:
            log.exception("building the understanding engine failed; the previous one (if "
                          "any) stays in use")
            return
        if generation != self._generation:
            return
        # Examples learned while it was being built.
        for text, item_id in self._examples[known:]:
            if item_id == OUTSIDE:
                engine.learn_outside(text)
            elif catalog.get(item_id) is not None:
                engine.learn(text, item_id)
        self.engine, self.knowledge, self.inputs = engine, knowledge, (catalog, words)
        self.ready.set()
        log.info("understanding engine ready (%d items, %d learned examples)",
                 len(catalog.items), len(self._examples))

    def knowledge_for(self, catalog: Catalog) -> KnowledgeBase:
        """The knowledge base in use (an admin's edit, else the shipped one) without the
        entries of items no longer in ``catalog``."""
        source = self._knowledge_source
        if source is None:
            return shipped_knowledge(catalog)
        return KnowledgeBase(tuple(e for e in source.entries if catalog.get(e.item_id)))

    def set_knowledge(self, knowledge: KnowledgeBase, catalog: Catalog) -> None:
        """Use an edited knowledge base: shown at once (``knowledge``); the engine learns its
        phrasings at the next build (the caller rebuilds when the engine is on)."""
        self._knowledge_source = knowledge
        self.knowledge = self.knowledge_for(catalog)

    async def close(self) -> None:
        """Abandon a build or refit under way: its daemon thread (and the fit's child process)
        cannot be interrupted, but nothing waits for it, so stopping the server stays prompt
        (the next start builds again)."""
        self._generation += 1
        for task in (self._task, self._refit):
            if task is not None and not task.done():
                task.cancel()
            if task is not None:
                await asyncio.gather(task, return_exceptions=True)

    # --- reading -------------------------------------------------------------------------

    def understand(self, text: str) -> Result | None:
        """The engine's reading of ``text``, or None while there is no engine."""
        engine = self.engine
        return engine.understand(text) if engine is not None else None

    def item_hints(self, text: str, flags: dict[str, Any]) -> None:
        """Put the engine's top items on a new question's flags: ``suggested_items`` (up to
        three, each ``{"id", "confidence"}``) and, kept for older consoles,
        ``suggested_item`` / ``suggested_category`` from the best one when the question is
        understood (dropped when it is not: the keyword suggester's guess is worse). Without
        an engine the keyword suggester's flags stay as they are."""
        engine = self.engine
        if engine is None:
            return
        result = engine.understand(text)
        flags["suggested_items"] = [{"id": item_id, "confidence": confidence}
                                    for item_id, confidence in result.items[:SUGGESTED]]
        flags["understood"] = result.understood
        best = engine.catalog.get(result.items[0][0]) if result.understood else None
        if best is None:
            flags.pop("suggested_item", None)
            flags.pop("suggested_category", None)
        else:
            flags["suggested_item"] = best.id
            flags["suggested_category"] = best.category

    # --- learning ------------------------------------------------------------------------

    def question_changed(self, before: Question, after: Question) -> None:
        """A moderation listener: a question approved under an item is a labelled example, and
        one declined as not the desk's business (``questions.OFF_TOPIC``) an off-topic one."""
        if before.state == PENDING and after.state == QUEUED and after.item_id:
            self.learn(after.text, after.item_id)
        elif (after.state == DECLINED and before.state != DECLINED
              and after.flags.get(OFF_TOPIC)):
            self.learn(after.text, OUTSIDE)

    @property
    def learned(self) -> tuple[tuple[str, str], ...]:
        """The (text, item id or ``OUTSIDE``) examples learned in this process, oldest
        first."""
        return tuple(self._examples)

    def learn(self, text: str, item_id: str) -> None:
        """Teach the engine a question filed under ``item_id``, or (``OUTSIDE``) one that is
        not the desk's business."""
        self._examples.append((text, item_id))
        del self._examples[:-MAX_EXAMPLES]
        engine = self.engine
        if engine is None:
            return  # kept for the build under way
        if item_id == OUTSIDE:
            if not engine.learn_outside(text):
                return
        elif engine.catalog.get(item_id) is None:
            return
        else:
            engine.learn(text, item_id)
        self._since_fit += 1
        if self._since_fit >= REFIT_EVERY and (self._refit is None or self._refit.done()):
            self._since_fit = 0
            self._refit = asyncio.create_task(_refitted(engine))


async def _refitted(engine: Understanding) -> None:
    try:
        await in_daemon_thread(engine.refit)
    except Exception:
        log.exception("refitting the n-gram models failed; the previous ones stay in use")


async def in_daemon_thread(fn: Callable[..., T], *args: Any) -> T:
    """Run CPU-bound ``fn`` in a thread of its own that never holds up the process's exit.

    ``asyncio.to_thread`` uses the loop's default executor, which the server waits for on
    shutdown: a SIGTERM during a 4-30 s engine build would then miss the 3 s stop the
    protocol promises. A build that is cut short is simply lost; the next start builds
    again."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[T] = loop.create_future()

    def settle(ok: bool, value: Any) -> None:
        if future.done():
            return
        if ok:
            future.set_result(value)
        else:
            future.set_exception(value)

    def work() -> None:
        try:
            result = fn(*args)
        except BaseException as exc:  # handed to the awaiting task, never lost
            outcome: tuple[bool, Any] = (False, exc)
        else:
            outcome = (True, result)
        with contextlib.suppress(RuntimeError):  # the loop closed while we worked
            loop.call_soon_threadsafe(settle, *outcome)

    threading.Thread(target=work, name="understanding-build", daemon=True).start()
    return await future
