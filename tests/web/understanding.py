"""One understanding engine for the tests of /api/answers and /ask (``answers_site`` in
conftest.py).

Building the engine takes seconds of CPU, so one engine, built by the app's own builder
(``moderation.understander.build_engine``) from the shipped catalog, word list and knowledge
base, is shared by every app of a test process: each app's ``Understander`` is given a
builder that returns it. Examples learned in one test therefore stay for the next; tests
that teach it use texts of their own.
"""

from __future__ import annotations

import functools

from moderation.catalog import Catalog, load_catalog
from moderation.knowledge import KnowledgeBase
from moderation.segment import load_word_list
from moderation.understander import Examples, build_engine, shipped_knowledge
from moderation.understanding import Understanding, WordListLike


@functools.cache
def shared_engine() -> Understanding:
    catalog = load_catalog()
    return build_engine(catalog, load_word_list(), shipped_knowledge(catalog), ())


def shared_builder(catalog: Catalog, words: WordListLike, knowledge: KnowledgeBase,
                   examples: Examples) -> Understanding:
    return shared_engine()
