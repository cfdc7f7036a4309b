"""The character n-gram linear model: TF-IDF over characters and character pairs (by
default; ``ngrams``) of the canonical words (scikit-learn's ``char_wb``, so n-grams stay
inside a word), and a multinomial logistic regression over the items. It reads a misspelt
or unknown word by its characters, where BM25 needs the words themselves.

Fitting takes a few seconds on 2 cores for the seed (about 3,000 texts); predicting one
question well under a millisecond. Learned examples are added by refitting (``fit`` again).

scikit-learn is imported where a model is fitted, not with this module: a process that never
builds an engine (a worker, a tool) does not pay for loading it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np

C = 10.0  # inverse regularisation; chosen on the dev half (5-50 measured, flat around 10)
NGRAMS = (1, 2)  # character n-gram lengths, from and to (the items' model)


class Fit(Protocol):
    """What fits a model: ``NgramModel`` itself, or ``fit_child.fit_in_child`` (the same fit
    in a child process)."""

    def __call__(self, item_ids: Sequence[str], texts: Sequence[str], labels: Sequence[str],
                 *, ngrams: tuple[int, int] = NGRAMS) -> NgramModel: ...


class NgramModel:
    """Item probabilities of a canonical text; fitted once, then only read."""

    def __init__(
        self, item_ids: Sequence[str], texts: Sequence[str], labels: Sequence[str], *,
        ngrams: tuple[int, int] = NGRAMS,
    ) -> None:
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression

        self.item_ids = tuple(item_ids)
        self._vectorizer = TfidfVectorizer(analyzer="char_wb", ngram_range=ngrams,
                                           sublinear_tf=True)
        matrix = self._vectorizer.fit_transform(list(texts))
        self._model = LogisticRegression(C=C, max_iter=3000)
        self._model.fit(matrix, list(labels))
        known = {label: n for n, label in enumerate(self._model.classes_)}
        # Column of each item in the model's output; items without any text get none.
        self._columns = [known.get(item_id, -1) for item_id in self.item_ids]
        # The fitted parts, for ``probabilities`` to compute one question without
        # scikit-learn's per-call input checks (they cost ten times the arithmetic).
        self._analyze = self._vectorizer.build_analyzer()
        self._vocabulary: dict[str, int] = dict(self._vectorizer.vocabulary_)
        self._idf = np.asarray(self._vectorizer.idf_, dtype=float)
        coef = np.asarray(self._model.coef_, dtype=float)
        intercept = np.asarray(self._model.intercept_, dtype=float)
        if coef.shape[0] == 1:  # two classes: scikit-learn keeps the second one's row only,
            # and its probability is the sigmoid of that row's score (a softmax over 0 and it)
            coef = np.vstack([np.zeros_like(coef), coef])
            intercept = np.concatenate([np.zeros_like(intercept), intercept])
        self._coef_t = np.ascontiguousarray(coef.T)  # feature -> class weights
        self._intercept = intercept

    def probabilities(self, text: str) -> list[float]:
        """One probability per item, in ``item_ids`` order: the same as the model's
        ``predict_proba`` (TF-IDF with sublinear tf, L2-normalised; softmax of the linear
        scores), computed directly."""
        counts: dict[int, int] = {}
        for gram in self._analyze(text):
            index = self._vocabulary.get(gram)
            if index is not None:
                counts[index] = counts.get(index, 0) + 1
        logits = self._intercept.copy()
        if counts:
            indices = np.fromiter(counts, dtype=np.intp, count=len(counts))
            values = (1.0 + np.log(np.fromiter(counts.values(), dtype=float,
                                               count=len(counts)))) * self._idf[indices]
            values /= np.linalg.norm(values)
            logits += values @ self._coef_t[indices]
        logits -= logits.max()
        row = np.exp(logits)
        row /= row.sum()
        return [float(row[column]) if column >= 0 else 0.0 for column in self._columns]

    def reference_probabilities(self, text: str) -> list[float]:
        """``probabilities`` through scikit-learn itself (for tests)."""
        row = self._model.predict_proba(self._vectorizer.transform([text]))[0]
        return [float(row[column]) if column >= 0 else 0.0 for column in self._columns]

    def vectors(self, texts: Sequence[str]) -> Any:
        """The texts in the model's feature space (a sparse matrix, rows L2-normalised), to
        keep and compare questions with (``similarity``). Each row depends on its text alone,
        so rows of two calls can be stacked."""
        return self._vectorizer.transform(list(texts))

    def vector(self, text: str) -> Any:
        """``vectors([text])``, the same numbers, without scikit-learn's per-call checks (a
        learned example's row, added on the event loop at each approval)."""
        from scipy.sparse import csr_matrix  # type: ignore[import-untyped]

        indices, values = self._features(text)
        return csr_matrix((values, indices, [0, len(indices)]), shape=(1, len(self._idf)))

    def similarity(self, text: str, vectors: Any) -> np.ndarray:
        """Cosine similarity of ``text`` to each row of ``vectors``: the same numbers as
        ``reference_similarity``, computed without scikit-learn's per-call checks (two thirds
        of a question's reading when the engine has learned examples)."""
        indices, values = self._features(text)
        weights = np.zeros(len(self._idf))
        weights[indices] = values
        return np.asarray(vectors @ weights).ravel()

    def _features(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        """The text's features and their weights, as ``TfidfVectorizer.transform`` computes
        them: in column order, 1 + ln(count) times the idf, divided by the norm with the
        squares summed in that order."""
        counts: dict[int, int] = {}
        for gram in self._analyze(text):
            index = self._vocabulary.get(gram)
            if index is not None:
                counts[index] = counts.get(index, 0) + 1
        indices = np.array(sorted(counts), dtype=np.intp)
        if not counts:
            return indices, np.zeros(0)
        values = np.log(np.array([counts[i] for i in indices], dtype=float))
        values += 1.0
        values *= self._idf[indices]
        total = 0.0
        for value in values.tolist():
            total += value * value
        return indices, values / math.sqrt(total)

    def reference_similarity(self, text: str, vectors: Any) -> np.ndarray:
        """``similarity`` through scikit-learn itself (for tests)."""
        question = self._vectorizer.transform([text])
        return np.asarray((vectors @ question.T).toarray()).ravel()
