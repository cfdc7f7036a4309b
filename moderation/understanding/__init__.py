"""Understanding the citizen: one engine that reads a question and says which business items it
is about (ranked, with calibrated confidences) or that it is not a traffic-administration
question. See ``engine`` for the method and ``normalize`` for how text is read."""

from moderation.understanding.engine import Candidate, Result, Understanding
from moderation.understanding.normalize import Normalizer, WordListLike

__all__ = ["Candidate", "Normalizer", "Result", "Understanding", "WordListLike"]
