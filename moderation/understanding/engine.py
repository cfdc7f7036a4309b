"""The understanding engine: which business items a citizen's question is about, ranked, each
with a calibrated confidence, or "not a traffic-administration question".

Built from the catalog (names, keywords, descriptions), the word list (through the
``Normalizer``) and the knowledge base's phrasings; every question a moderator files under an
item can be added with ``learn`` and counts from the next question on.

Scoring (chosen by measurement on the tuning halves of tests/data/understanding, see
bench/understanding.py): BM25 over one document per item (``bm25``) and a character n-gram
logistic regression (``ngram``) are combined as ``MIX * p / p_max + (1 - MIX) * bm / bm_max``
(each relative to the question's best item), and learned examples add their cosine similarity
to the question. A logistic calibration then turns an item's relative score, its absolute
BM25 evidence and its probability into a confidence: the share of items given that confidence
on the tuning halves that were right. A question is understood when its best item reaches
``UNDERSTOOD`` (a long one ``UNDERSTOOD_LONG``); a second item at ``SECOND_INTENT`` or more is
a second intent, and so is an item that one clause of the question is confidently about on its
own. A question about another department's document (``documents.OtherDocuments``: 身份证丢了)
that names none of ours is read without the items about replacing one of ours, and is that
department's when no other item reaches ``UNDERSTOOD``. Last, the off-topic gate (``gate``)
may still find a question more like the questions that are not ours: one the items understood,
or one they were unsure of, which is then named as its closest topic's rather than unsure.
"""

from __future__ import annotations

import heapq
import math
import re
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from moderation.catalog import Catalog
from moderation.knowledge import KnowledgeBase
from moderation.text import fold
from moderation.understanding.bm25 import Bm25Index
from moderation.understanding.documents import (
    Documents,
    OtherDocuments,
    prefer_named_document,
)
from moderation.understanding.gate import Gate
from moderation.understanding.ngram import Fit, NgramModel
from moderation.understanding.normalize import Normalizer, WordListLike
from moderation.understanding.outside import OutsideTopic

MAX_ITEMS = 5
SHORTLIST = 12  # items, by combined score, whose confidence is computed
MAX_CHARS = 500  # of a question read; the rest of a very long one adds nothing but time
# Weight of the n-gram model next to BM25: 0.3 measured on dev alone; 0.5 on the thirteen
# tuning halves (with UNDERSTOOD 0.25: +5 on-topic questions in the first three and +7
# off-topic rejected 5-fold, +8 and +2 by writer; bench/RESULTS.md), the more examples the
# model has learned from.
MIX = 0.5
EXAMPLE_WEIGHT = 0.5  # weight of the closest learned example's cosine similarity
# Calibration: confidence = sigmoid(W0 + W_SCORE * score + W_BM25 * ln(1 + bm25) + W_P * p),
# fitted on the tuning halves of the time (dev and fresh) by ``bench/understanding.py
# --calibrate`` (each question read by an engine seeded with the other fold, as the product
# reads new questions); the gate is applied after it and leaves it as it is.
W0, W_SCORE, W_BM25, W_P = -10.98, 7.10, 1.17, 5.93
# Best item's confidence from which a question is understood. 0.3 while off-topic questions
# were judged by it alone; with the gate, 0.25 with MIX 0.5 (above) keeps more on-topic
# questions and rejects more off-topic ones than 0.3 with MIX 0.3 in both readings; 0.25
# alone kept 6-8 more on-topic and rejected 3-4 fewer off-topic (bench/RESULTS.md).
UNDERSTOOD = 0.25
# A long question (a story: where, who, what happened, then the request) spreads its evidence
# over many words, and its best item's confidence is lower than a short question's: from
# LONG_WORDS words on it is understood from UNDERSTOOD_LONG. Measured on the tuning halves
# (bench/understanding.py): 0.1-0.2 from 8-16 words keep three to five more long questions
# and reject no fewer off-topic ones, whose questions are short (91 of 93 under 8 words).
LONG_WORDS = 12
UNDERSTOOD_LONG = 0.15
SECOND_INTENT = 0.45  # another item's confidence from which it is a second intent
# How far an outside topic's score must pass the best item's for the question to be theirs:
# a traffic question may mention a life event ("离婚了车子判给我").
OUTSIDE_MARGIN = 0.1
# Added to the outside topic's score when a word only it uses is present and none of the
# catalog's own terms is.
FOREIGN_BONUS = 0.6

# Clauses of a question, for second intents: split at punctuation and at words that join two
# requests; a clause shorter than MIN_CLAUSE characters says too little on its own.
_CLAUSES = re.compile(r"[，,。；;！!？?\s]+|顺便|然后|另外|还有|并且|而且|同时")
MIN_CLAUSE = 4
MAX_CLAUSES = 4
CLAUSE_INTENT = 0.5  # confidence a clause's own best item needs to be a second intent
# A clause's item is a second intent if the whole question already ranks it among its first
# CLAUSE_RANK items, or if the clause says it on its own: at least CLAUSE_WORDS words read
# with a confidence of CLAUSE_ALONE. A clause of one word says too little to bring in an item
# the whole question does not support ("能撤销吗" alone reads as an appeal against a fine),
# and such an item, put second, pushes a right third item out of the moderators' top three.
CLAUSE_RANK = 3
CLAUSE_WORDS = 2
CLAUSE_ALONE = 0.95

_NAME_PARTS = re.compile(r"[（）()/]")
_REPLACING = re.compile(r"补|换|遗失|损毁|注销|领回")
_SENTENCES = re.compile(r"[；。;]")


@dataclass(frozen=True)
class Result:
    understood: bool
    items: tuple[tuple[str, float], ...]  # (item id, confidence), best first, up to 5
    intents: tuple[str, ...]  # the item(s) the question asks about; empty if not understood
    text: str  # the question as read: normalised, typos corrected
    outside: OutsideTopic | None = None  # the other topic it is about, when it is recognised


@dataclass(frozen=True)
class Candidate:
    """An item's raw evidence for one question (exposed for calibration)."""

    item_id: str
    score: float  # combined relative score, 0..1, + ``extra``
    bm25: float  # absolute BM25 evidence
    probability: float  # n-gram model probability
    extra: float = 0.0  # learned-example similarity (an item) or FOREIGN_BONUS (a topic)

    def against(self, top_bm25: float, top_p: float) -> Candidate:
        """This evidence scored relative to other best values (``relative``)."""
        return replace(self, score=relative(self.bm25, top_bm25, self.probability, top_p)
                       + self.extra)


def relative(bm25: float, top_bm25: float, probability: float, top_p: float) -> float:
    """The combined score: each model's evidence relative to the best one's, mixed by MIX."""
    return (MIX * (probability / top_p if top_p else 0.0)
            + (1 - MIX) * (bm25 / top_bm25 if top_bm25 else 0.0))


def item_texts(catalog: Catalog, knowledge: KnowledgeBase | None) -> list[tuple[str, str]]:
    """(item id, text) pairs the engine learns from: each item's name and its parts, keywords,
    description sentences, and every phrasing of its knowledge-base questions."""
    pairs: list[tuple[str, str]] = []
    for item in catalog.items:
        texts = [item.name, *_NAME_PARTS.split(item.name), *item.keywords,
                 *_SENTENCES.split(item.description)]
        pairs.extend((item.id, text) for text in texts if text.strip())
    if knowledge is not None:
        for entry in knowledge.entries:
            pairs.extend((entry.item_id, question) for question in entry.questions)
    return pairs


class Understanding:
    """Thread-safe: ``understand`` may run while ``learn`` adds an example."""

    def __init__(self, catalog: Catalog, normalizer: Normalizer,
                 texts: Sequence[tuple[str, str]], outside: Sequence[OutsideTopic] = (),
                 fit: Fit = NgramModel, refit: Fit | None = None,
                 outside_examples: Iterable[str] = ()) -> None:
        self.catalog = catalog
        self._fitter = fit
        self._refitter = refit or fit
        self.normalizer = normalizer
        self._item_ids = tuple(item.id for item in catalog.items)
        # Each outside topic is one more class, labelled by a name no item id can have.
        self._topics = {f"outside:{n}": topic for n, topic in enumerate(outside)}
        self._labels = (*self._item_ids, *self._topics)
        self._lock = threading.Lock()
        self._texts: list[tuple[str, str]] = []  # (label, canonical text)
        self._examples: list[tuple[str, str]] = []  # learned, canonical
        self._example_vectors: Any = None  # of the examples, by the current n-gram model
        self._bm25 = Bm25Index(self._labels)
        # The issued documents each item's name names (``documents.prefer_named_document``).
        self._documents = Documents(normalizer.forms)
        self._named = {item.id: self._documents.named(normalizer.text(item.name))
                       for item in catalog.items}
        # The items about one of our documents as a thing to replace, renew, reissue or hand
        # back (驾驶证遗失补证, 补换领机动车号牌 …), which a question about another
        # department's document is not about however close its words; 驾驶证记分查询 and
        # 初次申领机动车驾驶证（报名学车） name a document too but are not about it as a thing.
        self._replacing = frozenset(item.id for item in catalog.items
                                    if self._named[item.id] and _REPLACING.search(item.name))
        self._foreign: frozenset[str] = frozenset()
        for item_id, text in texts:
            self._add(item_id, text, learned=False)
        ours = {word for _, text in self._texts for word in text.split()}
        for label, topic in self._topics.items():
            for phrase in topic.phrases:
                self._add(label, phrase, learned=False)
        # Words only the outside topics use ("考研", "保养"): a question holding one is about
        # that topic unless an item explains it clearly better.
        self._foreign = frozenset(
            word for label, text in self._texts if label in self._topics
            for word in text.split() if word not in ours and len(word) >= 2
        )
        # The words of the catalog's names and keywords that no outside topic uses.
        theirs = {word for label, text in self._texts if label in self._topics
                  for word in text.split()}
        self._domain = frozenset(
            word for item in catalog.items for term in (item.name, *item.keywords)
            for word in normalizer.tokens(term) if word not in theirs and len(word) >= 2)
        # Whole questions that are not the desk's business teach the gate (``gate``) only.
        self._outside_texts = [canonical for text in outside_examples
                               if (canonical := " ".join(normalizer.tokens(text[:MAX_CHARS])))]
        self._other_documents = OtherDocuments(
            (fold(document), label) for label, topic in self._topics.items()
            for document in topic.documents)
        self._ngram = self._fit()
        self._gate = self._fit_gate(self._texts, self._outside_texts)

    @classmethod
    def build(cls, catalog: Catalog, words: WordListLike, knowledge: KnowledgeBase | None = None,
              examples: Iterable[tuple[str, str]] = (),
              outside: Sequence[OutsideTopic] = (), fit: Fit = NgramModel,
              refit: Fit | None = None,
              outside_examples: Iterable[str] = ()) -> Understanding:
        """The engine for a catalog, a word list, the knowledge base, any labelled
        (text, item id) examples kept from the desk, the topics that are not ours and
        questions that are not ours (the gate learns them); ``fit`` fits its n-gram models
        now, ``refit`` (else ``fit``) at every ``refit``."""
        domain = [term for item in catalog.items for term in (item.name, *item.keywords)]
        normalizer = Normalizer(words, domain, [p for topic in outside for p in topic.phrases])
        texts = item_texts(catalog, knowledge)
        texts.extend((item_id, text) for text, item_id in examples)
        return cls(catalog, normalizer, texts, outside, fit, refit, outside_examples)

    # --- learning ----------------------------------------------------------------------------

    def learn(self, text: str, item_id: str) -> None:
        """Add a labelled example: from the next question on it counts in BM25 and as a close
        match; the n-gram model takes it in at the next ``refit``."""
        if self.catalog.get(item_id) is None:
            raise ValueError(f"unknown item {item_id!r}")
        with self._lock:
            self._add(item_id, text[:MAX_CHARS], learned=True)

    def learn_outside(self, text: str) -> bool:
        """Add a question a moderator declined as not the desk's business: the gate takes it
        in at the next ``refit``, as it does the ones given at build. False: no word in it."""
        canonical = " ".join(self.normalizer.tokens(text[:MAX_CHARS]))
        if canonical:
            with self._lock:
                self._outside_texts.append(canonical)
        return bool(canonical)

    def refit(self) -> None:
        """Refit the n-gram model and the gate on everything known, learned examples included
        (seconds; run it off the event loop). Questions are answered meanwhile by the old
        models, which then hand over, the learned examples' vectors in the new n-gram model's
        feature space."""
        with self._lock:
            texts = list(self._texts)
            outside = list(self._outside_texts)
            examples = [text for _, text in self._examples]
        model = self._fit(texts, self._refitter)
        gate = self._fit_gate(texts, outside, self._refitter)
        vectors = model.vectors(examples) if examples else None
        with self._lock:
            later = [text for _, text in self._examples[len(examples):]]
            if later:
                vectors = _stacked(vectors, model.vectors(later))
            self._ngram, self._gate = model, gate
            self._example_vectors = vectors

    def _add(self, item_id: str, text: str, *, learned: bool) -> None:
        words = self.normalizer.tokens(text)
        if not words:
            return
        self._bm25.add(item_id, words)
        self._texts.append((item_id, " ".join(words)))
        if learned:
            self._examples.append((item_id, " ".join(words)))
            if self._example_vectors is not None:  # one more row: the others stay as they are
                self._example_vectors = _stacked(self._example_vectors,
                                                 self._ngram.vector(" ".join(words)))
            # A word the desk files under an item is no longer only the outside topics'.
            self._foreign = self._foreign.difference(words)

    def _fit(self, texts: Sequence[tuple[str, str]] | None = None,
             fit: Fit | None = None) -> NgramModel:
        pairs = self._texts if texts is None else texts
        return (fit or self._fitter)(self._labels, [text for _, text in pairs],
                                     [label for label, _ in pairs])

    def _fit_gate(self, texts: Sequence[tuple[str, str]], outside: Sequence[str],
                  fit: Fit | None = None) -> Gate | None:
        """The gate for these (label, text) pairs and questions that are not ours: none
        without both items and outside topics."""
        if not self._topics or not self._item_ids:
            return None
        return Gate.fit(fit or self._fitter,
                        [text for label, text in texts if label not in self._topics],
                        [*(text for label, text in texts if label in self._topics), *outside])

    # --- reading -----------------------------------------------------------------------------

    def candidates(self, text: str) -> tuple[str, list[Candidate], Candidate | None]:
        """The question as read, every item's raw evidence (unsorted), and the best outside
        topic's (its ``item_id`` is the topic's label, its score raised by FOREIGN_BONUS when
        the question holds a word only outside topics use), if there are topics."""
        read = self.normalizer.text(text[:MAX_CHARS])
        words = self.normalizer.tokens(text[:MAX_CHARS], read=read)
        if not words:
            return read, [], None
        # A word only the outside topics use speaks for them, unless the question also holds
        # a word of the catalog's own terms ("台风天车被水泡了还能年检吗": 年检, read as 检验).
        bonus = (FOREIGN_BONUS if not self._foreign.isdisjoint(words)
                 and self._domain.isdisjoint(words) else 0.0)
        canonical = " ".join(words)
        near = dict.fromkeys(self._labels, 0.0)
        with self._lock:
            bm25 = self._bm25.scores(words)
            probabilities = self._ngram.probabilities(canonical)
            if self._examples:
                if self._example_vectors is None:  # the first question after a build
                    self._example_vectors = self._ngram.vectors([t for _, t in self._examples])
                similarities = self._ngram.similarity(canonical, self._example_vectors)
                for (item_id, _), similarity in zip(self._examples, similarities, strict=True):
                    near[item_id] = max(near[item_id], float(similarity))
        top_bm25, top_p = max(bm25), max(probabilities)
        every = [
            Candidate(label, 0.0, bm, p, EXAMPLE_WEIGHT * near[label] ** 2).against(top_bm25, top_p)
            for label, bm, p in zip(self._labels, bm25, probabilities, strict=True)
        ]
        items = every[: len(self._item_ids)]
        topics = every[len(self._item_ids) :]
        best = max(topics, key=lambda c: c.score, default=None)
        if best is not None and bonus:
            best = replace(best, score=best.score + bonus, extra=best.extra + bonus)
        return read, items, best

    def understand(self, text: str) -> Result:
        read, candidates, topic = self.candidates(text)
        result = self._judge(read, candidates, topic, self._other_document(text))
        gate = self._gate
        if result.outside is None and gate is not None and topic is not None and gate.rejects(
                self.normalizer.tokens(text[:MAX_CHARS], read=read), result.items[0][1],
                understood=result.understood):
            # More like the questions that are not ours: its closest topic's, whether the
            # items' evidence understood it or was unsure (then search shows no clip that
            # merely shares a word with it, ``clips.search_understood``).
            return replace(result, understood=False, intents=(),
                           outside=self._topics[topic.item_id])
        return self._second_intent(text, result) if result.understood else result

    def not_ours(self, text: str) -> float:
        """The gate's probability that ``text`` is not the desk's business (``gate``); 0
        without a gate."""
        gate = self._gate
        return gate.not_ours(self.normalizer.tokens(text[:MAX_CHARS])) if gate else 0.0

    def _second_intent(self, text: str, result: Result) -> Result:
        """A question of several clauses ("驾照丢了，行驶证也找不着了") may ask two things:
        each clause is read on its own, and a clause confidently about another item than the
        question's best, one the whole question ranks in its first ``CLAUSE_RANK`` or one a
        clause of several words is near certain of, adds that item as a second intent, ranked
        second."""
        clauses = [c for c in _CLAUSES.split(text[:MAX_CHARS]) if len(c.strip()) >= MIN_CLAUSE]
        if len(clauses) < 2:
            return result
        first = result.items[0][0]
        supported = {item_id for item_id, _ in result.items[:CLAUSE_RANK]}
        for clause in clauses[:MAX_CLAUSES]:
            read, candidates, topic = self.candidates(clause)
            judged = self._judge(read, candidates, topic, self._other_document(clause))
            if not judged.understood:
                continue
            item_id, value = judged.items[0]
            if item_id == first or value < CLAUSE_INTENT:
                continue
            if item_id in supported or (value >= CLAUSE_ALONE and len(
                    self.normalizer.tokens(clause, read=read)) >= CLAUSE_WORDS):
                others = [pair for pair in result.items if pair[0] != item_id]
                second = (item_id, min(value, result.items[0][1]))
                items = (others[0], second, *others[1 : MAX_ITEMS - 1])
                return replace(result, items=items, intents=(first, item_id))
        return result

    def _judge(self, read: str, candidates: list[Candidate], topic: Candidate | None,
               other: str | None = None) -> Result:
        if other is not None and self._asked_documents(self._other_documents.without(read)):
            other = None  # it names one of our documents too: about ours
        if other is not None:
            # About another department's document ("身份证丢了") and naming none of ours: an
            # item about one of our documents is not what it asks, however close its words.
            # The others are scored as if those items did not exist.
            candidates = [c for c in candidates if c.item_id not in self._replacing]
            evidence = [*candidates, *([topic] if topic is not None else [])]
            top_bm25 = max((c.bm25 for c in evidence), default=0.0)
            top_p = max((c.probability for c in evidence), default=0.0)
            candidates = [c.against(top_bm25, top_p) for c in candidates]
            topic = topic.against(top_bm25, top_p) if topic is not None else None
        # Only the best-scored items can reach a confidence worth showing: rank those.
        shortlist = heapq.nlargest(SHORTLIST, candidates, key=lambda c: c.score)
        ranked = sorted(((confidence(c), c.item_id) for c in shortlist), reverse=True)
        ranked = self._by_document(read, ranked)
        items = tuple((item_id, round(value, 3)) for value, item_id in ranked[:MAX_ITEMS])
        if topic is not None and shortlist and topic.score >= shortlist[0].score + OUTSIDE_MARGIN:
            # Closer to a topic that is not ours than to any item: not understood, and said so.
            return Result(False, items, (), read, self._topics[topic.item_id])
        understood = bool(items) and (items[0][1] >= UNDERSTOOD or (
            items[0][1] >= UNDERSTOOD_LONG
            and len(self.normalizer.tokens(read, read=read)) >= LONG_WORDS))
        if other is not None and not understood:
            return Result(False, items, (), read, self._topics[other])
        intents: tuple[str, ...] = ()
        if understood:
            second = [item_id for item_id, value in items[1:2] if value >= SECOND_INTENT]
            intents = (items[0][0], *second)
        return Result(understood, items, intents, read)


    def _by_document(self, read: str,
                     ranked: list[tuple[float, str]]) -> list[tuple[float, str]]:
        """``ranked`` with the item that names the question's document first, when the first
        names another (``documents.prefer_named_document``); each place keeps its confidence."""
        if not ranked or not self._named.get(ranked[0][1]):
            return ranked  # the first item names no document: nothing for the rule to correct
        asked = self._asked_documents(read)
        empty: frozenset[str] = frozenset()
        moved = prefer_named_document([item_id for _, item_id in ranked], asked,
                                      lambda item_id: self._named.get(item_id, empty))
        if not moved:
            return ranked
        order = [ranked[moved][1], *(item_id for n, (_, item_id) in enumerate(ranked)
                                     if n != moved)]
        return [(value, item_id) for (value, _), item_id in zip(ranked, order, strict=True)]


    def _other_document(self, text: str) -> str | None:
        """The topic of the first document of another department the question asks about."""
        return self._other_documents.named(fold(text[:MAX_CHARS]))

    def _asked_documents(self, read: str) -> frozenset[str]:
        """The documents we issue that the question (as read) names."""
        return self._documents.named(read, " ".join(self.normalizer.tokens(read, read=read)))


def _stacked(top: Any, bottom: Any) -> Any:
    """Two sparse matrices of example vectors, one above the other."""
    from scipy.sparse import vstack  # type: ignore[import-untyped]

    return bottom if top is None else vstack([top, bottom], format="csr")


def confidence(candidate: Candidate) -> float:
    z = (W0 + W_SCORE * candidate.score + W_BM25 * math.log1p(candidate.bm25)
         + W_P * candidate.probability)
    return 1 / (1 + math.exp(-z))
