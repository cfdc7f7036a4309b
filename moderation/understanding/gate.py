"""The off-topic gate: whether a question is the desk's business at all, when the items'
evidence understood it or was unsure of it. A character n-gram model (``ngram.NgramModel``)
over two classes, every text the items learn from (catalog, knowledge base, seed and learned
examples) against the outside topics' phrasings and whole questions that are not ours
(``seeds.load_outside_seeds`` and the ones moderators declined as such).

Why a gate and not more examples in the topics' own classes: taught to those classes, a
thousand outside questions outweighed the items' own examples and took short traffic
questions with them ("微信能交罚款吗"); in a gate they only decide whether the question is ours,
and the items' scores and confidences stay as the items' evidence makes them
(bench/RESULTS.md).
"""

from __future__ import annotations

from collections.abc import Sequence

from moderation.understanding.ngram import Fit, NgramModel

# The gate reads characters, character pairs and character triples of the canonical words
# (the items' model reads up to pairs): measured on the tuning halves, both 5-fold and by
# writer (each half read by an engine seeded with the other halves only), triples keep 6 to
# 10 more on-topic questions at the same or a higher off-topic rejection (bench/RESULTS.md);
# C 3 or 30, word features or balanced classes moved fewer.
GATE_NGRAMS = (1, 3)
# A question is not ours when the gate gives it this probability of being like the questions
# that are not: UNSURE when its best item's confidence is under SURE, else SURE_ENOUGH.
# Chosen on the same two readings, where the pairs around it (0.65 / 0.35-0.45, 0.7 / 0.35-0.4)
# measured within a few questions of it; one threshold for all trades 3-5 on-topic questions
# for each point of off-topic rejection, the pair keeps the confident ones.
SURE_ENOUGH = 0.65
UNSURE = 0.4
SURE = 0.7
# A question the items' evidence did not understand either is not ours, rather than one they
# are unsure of, when the gate gives it UNSURE and it has NAMED_WORDS words or more: a vague
# one ("办理流程", "帮我看看这个怎么弄") has too few for the gate to read (it gives them 0.6-0.75).
NAMED_WORDS = 3
# A question of STORY_WORDS words or more is a story, whose everyday words (the children, the
# compound's parking, a wage) the gate reads rather than its request: it is left to the items'
# evidence. From 12, 16 or 20 words on, measured on the tuning halves, three stories are kept
# and 0.7-1.5 points fewer off-topic questions rejected (20 the fewest).
STORY_WORDS = 20
OURS, NOT_OURS = "ours", "not-ours"  # the two classes


class Gate:
    """Fitted once (``fit``), then only read; a refit makes a new one."""

    def __init__(self, model: NgramModel) -> None:
        self._model = model

    @classmethod
    def fit(cls, fit: Fit, ours: Sequence[str], not_ours: Sequence[str]) -> Gate:
        """The gate for canonical texts of both classes, fitted by ``fit``."""
        return cls(fit((OURS, NOT_OURS), [*ours, *not_ours],
                       [OURS] * len(ours) + [NOT_OURS] * len(not_ours), ngrams=GATE_NGRAMS))

    def not_ours(self, words: Sequence[str]) -> float:
        """The probability that a question of these canonical words is not ours."""
        return self._model.probabilities(" ".join(words))[1] if words else 0.0

    def rejects(self, words: Sequence[str], confidence: float, *, understood: bool = True) -> bool:
        """Whether a question of these words, whose best item has ``confidence``, is not
        ours after all (``understood``: by the items' evidence; else whether it is not ours
        rather than one the items are unsure of)."""
        if len(words) >= STORY_WORDS or (not understood and len(words) < NAMED_WORDS):
            return False
        return self.not_ours(words) >= (SURE_ENOUGH if understood and confidence >= SURE
                                        else UNSURE)
