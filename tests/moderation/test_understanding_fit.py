"""Where and how the understanding engine's n-gram model is fitted and compared, without
changing a single answer: the fit in a child process (``fit_child``) gives the same engine as
the fit in this one, the fast cosine similarity gives scikit-learn's numbers exactly, and the
learned examples' vectors kept up to date one example at a time (and carried over a refit)
are the ones computed all at once."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from moderation.catalog import Catalog, load_catalog
from moderation.knowledge import load_knowledge
from moderation.understanding import Understanding
from moderation.understanding.fit_child import fit_in_child, refit_in_background
from moderation.understanding.ngram import NGRAMS, NgramModel
from moderation.understanding.outside import load_outside
from tests.data.understanding import Case, load_half, load_word_list

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog()


@pytest.fixture(scope="module")
def dev() -> list[Case]:
    return load_half("dev")


def test_the_model_fitted_in_a_child_process_gives_the_same_answers(
        catalog: Catalog, dev: list[Case]) -> None:
    fits: list[str] = []

    def counted(item_ids: Sequence[str], texts: Sequence[str], labels: Sequence[str], *,
                ngrams: tuple[int, int] = NGRAMS) -> NgramModel:
        fits.append("fit")
        assert len(texts) > 1000  # the whole training set goes to the child
        return fit_in_child(item_ids, texts, labels, ngrams=ngrams)

    def counted_refit(item_ids: Sequence[str], texts: Sequence[str], labels: Sequence[str],
                      *, ngrams: tuple[int, int] = NGRAMS) -> NgramModel:
        fits.append("refit")
        return refit_in_background(item_ids, texts, labels, ngrams=ngrams)

    words, knowledge, outside = load_word_list(), load_knowledge(catalog=catalog), load_outside()
    here = Understanding.build(catalog, words, knowledge, outside=outside)
    child = Understanding.build(catalog, words, knowledge, outside=outside, fit=counted,
                                refit=counted_refit)
    assert fits == ["fit", "fit"]  # the n-gram model and the gate
    assert [child.understand(case.q) for case in dev] == [here.understand(case.q) for case in dev]
    for engine in (here, child):
        engine.learn("蓝色小本本上的钢印模糊了", "registration-cert")
        engine.refit()
    assert fits == ["fit", "fit", "refit", "refit"]
    assert [child.understand(case.q) for case in dev] == [here.understand(case.q) for case in dev]


@pytest.mark.parametrize("ngrams", [(1, 2), (1, 3)])
def test_the_fast_probabilities_are_scikit_learns_for_many_classes_and_for_two(
        dev: list[Case], ngrams: tuple[int, int]) -> None:
    """``probabilities`` computes ``predict_proba`` by hand: over the items, and over the
    gate's two classes, where scikit-learn keeps one row of weights (the probability is the
    sigmoid of its score: an early version read it as a softmax over minus the score and the
    score, the sigmoid of twice it)."""
    on = [case for case in dev if case.items]
    items = NgramModel(sorted({case.items[0] for case in on}), [case.q for case in on],
                       [case.items[0] for case in on], ngrams=ngrams)
    gate = NgramModel(("ours", "not-ours"), [case.q for case in dev],
                      ["not-ours" if case.off_topic else "ours" for case in dev], ngrams=ngrams)
    for model in (items, gate):
        for text in [*(case.q for case in dev[::5]), "", "今天天气怎么样", "驾照驾照"]:
            assert np.allclose(model.probabilities(text), model.reference_probabilities(text),
                               rtol=0, atol=1e-9), text
    assert 0.0 < gate.probabilities("今天天气怎么样")[1] < 1.0


def test_a_child_reads_a_parent_that_sends_no_ngrams() -> None:
    """A server updated in place and not yet restarted sends the child (this version's file)
    three values, as before ``ngrams``: it fits the pairs model it always did."""
    import pickle

    labels = ["a", "b"]
    texts = ["驾照 到期 换证", "车牌 怎么 选号"]
    done = subprocess.run([sys.executable, "-m", "moderation.understanding.fit_child", "0"],
                          input=pickle.dumps((labels, texts, labels)), capture_output=True,
                          cwd=ROOT, check=True)
    model = pickle.loads(done.stdout)
    here = NgramModel(labels, texts, labels)
    assert model.probabilities("驾照") == here.probabilities("驾照")


def test_a_failing_child_is_reported() -> None:
    with pytest.raises(RuntimeError, match="n-gram fit's process failed"):
        fit_in_child(["a", "b"], ["驾照到期"], ["a", "no-such-label", "c"])  # unequal lengths


def test_the_fast_similarity_and_vector_are_scikit_learns_exactly(dev: list[Case]) -> None:
    texts = [case.q for case in dev if case.items]
    model = NgramModel(sorted({case.items[0] for case in dev if case.items}), texts,
                       [case.items[0] for case in dev if case.items])
    examples = model.vectors(texts[::3])
    for text in [*texts, "", "完全无关的字符串", "驾驶证驾驶证驾驶证"]:
        fast = model.similarity(text, examples)
        assert np.array_equal(fast, model.reference_similarity(text, examples)), text
        row, reference = model.vector(text), model.vectors([text])
        assert row.shape == reference.shape and (row != reference).nnz == 0, text
        assert np.array_equal(row.indices, reference.indices), text
    assert model.similarity(texts[0], examples)[0] == pytest.approx(1.0)


def test_example_vectors_kept_one_by_one_are_those_computed_at_once(
        catalog: Catalog, dev: list[Case]) -> None:
    engine = Understanding.build(catalog, load_word_list())  # small: names and keywords
    questions = [case.q for case in dev[:60]]
    taught = [(case.q, case.items[0]) for case in dev[60:90] if case.items]
    for text, item_id in taught[:10]:  # each one read after it is learned
        engine.learn(text, item_id)
        engine.understand(questions[0])
    fit = engine._refitter

    def learning_meanwhile(item_ids: Sequence[str], texts: Sequence[str],
                           labels: Sequence[str]) -> NgramModel:
        for text, item_id in taught[10:15]:  # learned while the model is being refitted
            engine.learn(text, item_id)
        return fit(item_ids, texts, labels)

    engine._refitter = learning_meanwhile
    engine.refit()
    for text, item_id in taught[15:]:
        engine.learn(text, item_id)
        engine.understand(questions[1])
    kept = [engine.candidates(q) for q in questions]
    engine._example_vectors = None  # as after a build: all of them computed at the next read
    assert [engine.candidates(q) for q in questions] == kept


def test_the_fitting_process_exits_when_its_parent_does() -> None:
    """A child whose server died (its input still open elsewhere) does not fit on for nothing."""
    read, write = os.pipe()
    parent = subprocess.Popen(
        [sys.executable, "-c",
         "import subprocess, sys\n"
         "child = subprocess.Popen([sys.executable, '-m', 'moderation.understanding.fit_child'],"
         f" stdin={read}, pass_fds=[{read}])\n"
         "print(child.pid, flush=True)\n"
         "child.wait()\n"],
        cwd=ROOT, stdout=subprocess.PIPE, pass_fds=[read])
    try:
        assert parent.stdout is not None
        child = int(parent.stdout.readline())
        time.sleep(3.0)  # the child is up, waiting for its input
        assert _alive(child)
        parent.kill()
        parent.wait()
        deadline = time.monotonic() + 10.0
        while _alive(child) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not _alive(child)
    finally:
        os.close(read)
        os.close(write)
        if parent.poll() is None:
            parent.kill()
            parent.wait()
        if parent.stdout is not None:
            parent.stdout.close()


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"  # a zombie has exited (its reaper is init)
