"""The understanding engine, on the dev half of the relevance set (tests/data/understanding):
ranking accuracy, calibrated confidence, off-topic questions, two intents, learning; and the
normalisation it reads questions with.

The holdout half is never used here (it is reported by bench/understanding.py only).
The floors below are the figures measured on dev when the engine was built, less a small
margin, so that a regression fails; the issue's targets (top-1 ≥ 90 %, top-3 ≥ 97 %) are
not all reached yet — see bench/RESULTS.md.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from moderation import data_files
from moderation.catalog import Catalog, load_catalog
from moderation.data_files import WORD_LIST
from moderation.knowledge import load_knowledge
from moderation.pii import mask_pii
from moderation.segment import parse_word_list
from moderation.understanding import Normalizer, Understanding
from moderation.understanding import engine as engine_module
from moderation.understanding.engine import FOREIGN_BONUS, MAX_CHARS, UNDERSTOOD
from moderation.understanding.gate import NAMED_WORDS, STORY_WORDS, SURE_ENOUGH, UNSURE, Gate
from moderation.understanding.ngram import NgramModel
from moderation.understanding.normalize import numerals_to_digits
from moderation.understanding.outside import OutsideTopicsError, load_outside, parse_outside
from moderation.understanding.seeds import (
    SeedExamplesError,
    load_outside_seeds,
    load_seeds,
)
from tests.data.understanding import (
    BLIND,
    TUNING,
    Case,
    load_cases,
    load_half,
    load_word_list,
)
from tests.web.understanding import shared_engine

MIN_TOP1 = 0.85
MIN_TOP3 = 0.95
MIN_OFFTOPIC_REJECTED = 0.90
MIN_BOTH_INTENTS = 0.75


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog()


@pytest.fixture(scope="module")
def engine(catalog: Catalog) -> Understanding:
    return Understanding.build(catalog, load_word_list(), load_knowledge(catalog=catalog),
                               outside=load_outside())


@pytest.fixture(scope="module")
def dev() -> list[Case]:
    return load_half("dev")


def ranked(engine: Understanding, text: str) -> list[str]:
    result = engine.understand(text)
    return [item_id for item_id, _ in result.items] if result.understood else []


# --- the relevance set ------------------------------------------------------------------------


def test_the_relevance_set_covers_every_item_in_both_halves(catalog: Catalog) -> None:
    cases = load_cases()
    ids = {item.id for item in catalog.items}
    on_topic = [case for case in cases if not case.off_topic]
    assert len(on_topic) >= 400 and len(cases) - len(on_topic) >= 50
    assert len({case.q for case in cases}) == len(cases)  # no question twice
    assert all(set(case.items) <= ids for case in cases)
    for item_id in ids:
        primary = [case for case in on_topic if case.items[0] == item_id]
        assert len(primary) >= 3, item_id
        assert {case.half for case in primary} == {"dev", "holdout"}, item_id
    assert sum(len(case.items) == 2 for case in on_topic) >= 10


# --- the dev half ------------------------------------------------------------------------------


def test_dev_questions_find_their_item(engine: Understanding, dev: list[Case]) -> None:
    on_topic = [case for case in dev if not case.off_topic]
    firsts = [ranked(engine, case.q)[:3] for case in on_topic]
    top1 = sum(bool(got) and got[0] in case.items for case, got in zip(on_topic, firsts,
                                                                      strict=True))
    top3 = sum(any(item in got for item in case.items)
               for case, got in zip(on_topic, firsts, strict=True))
    assert top1 / len(on_topic) >= MIN_TOP1
    assert top3 / len(on_topic) >= MIN_TOP3


def test_off_topic_dev_questions_are_rejected(engine: Understanding, dev: list[Case]) -> None:
    off_topic = [case for case in dev if case.off_topic]
    rejected = sum(not engine.understand(case.q).understood for case in off_topic)
    assert rejected / len(off_topic) >= MIN_OFFTOPIC_REJECTED


def test_a_long_question_is_understood_from_a_lower_confidence(
    engine: Understanding, monkeypatch: pytest.MonkeyPatch
) -> None:
    story = ("周末带着老婆孩子回乡下看老人，开到半路在一个岔路口跟一辆三轮车蹭了一下，"
             "两边都没人受伤，对方说私了，我们拍了照片，后面还要走什么流程")
    words = len(engine.normalizer.tokens(story))
    best = engine.understand(story).items[0][1]
    # Thresholds around this question's best confidence: over the short one, under the long.
    monkeypatch.setattr(engine_module, "UNDERSTOOD", best + 0.01)
    monkeypatch.setattr(engine_module, "UNDERSTOOD_LONG", best - 0.01)
    monkeypatch.setattr(engine_module, "LONG_WORDS", words)
    assert engine.understand(story).understood
    monkeypatch.setattr(engine_module, "LONG_WORDS", words + 1)
    assert not engine.understand(story).understood


def test_confidence_is_calibrated(engine: Understanding, dev: list[Case]) -> None:
    """The best item's confidence says how often it is right: high-confidence answers are
    right far more often than low ones, and on average confidence and accuracy agree."""
    pairs = []
    for case in dev:
        result = engine.understand(case.q)
        if result.items:
            best, value = result.items[0]
            pairs.append((value, best in case.items))
    high = [right for value, right in pairs if value >= 0.8]
    low = [right for value, right in pairs if value < 0.5]
    assert len(high) >= 100 and len(low) >= 10
    assert sum(high) / len(high) >= 0.9
    assert sum(low) / len(low) <= 0.5
    mean_confidence = sum(value for value, _ in pairs) / len(pairs)
    accuracy = sum(right for _, right in pairs) / len(pairs)
    assert abs(mean_confidence - accuracy) <= 0.1


def test_two_intent_dev_questions_return_both_items(
    engine: Understanding, dev: list[Case]
) -> None:
    two = [case for case in dev if len(case.items) == 2]
    assert len(two) >= 8
    both = [case for case in two if set(engine.understand(case.q).intents) == set(case.items)]
    assert len(both) / len(two) >= MIN_BOTH_INTENTS


# --- behaviour -------------------------------------------------------------------------------


def test_a_result_ranks_up_to_five_items_with_confidences(engine: Understanding) -> None:
    result = engine.understand("驾照丢了")
    assert result.understood
    assert result.intents == ("license-reissue",)
    assert result.items[0][0] == "license-reissue"
    assert len(result.items) == 5
    values = [value for _, value in result.items]
    assert values == sorted(values, reverse=True)
    assert all(0.0 <= value <= 1.0 for value in values)
    assert values[0] >= UNDERSTOOD > values[-1]


def test_an_off_topic_question_names_the_topic_it_is_about(engine: Understanding) -> None:
    result = engine.understand("公积金提取需要带什么材料")
    assert not result.understood
    assert result.intents == ()
    assert result.outside is not None and "公积金" in result.outside.where


# Traffic questions that mention car life on the way (the film, the garage, the car loan):
# the outside topics' words must not take them. Written for this test, not from any set.
CAR_LIFE_BUT_OURS = {
    "汽车贴膜会影响年检吗": "vehicle-inspection",
    "修理厂修好了车要去年检吗": "vehicle-inspection",
    "车被拖到停车场了，收费怎么交、车怎么领回来": "impounded-vehicle-release",
    "外地户口有居住证明能办电动车上牌吗": "ebike-registration",
    "刚买车怎么上牌": "new-vehicle-registration",
    "车贷还清了怎么解押": "mortgage-release",
}


@pytest.mark.parametrize("text", sorted(CAR_LIFE_BUT_OURS))
def test_a_traffic_question_that_mentions_car_life_is_ours(engine: Understanding,
                                                           text: str) -> None:
    result = engine.understand(text)
    assert result.outside is None and result.understood, result
    assert CAR_LIFE_BUT_OURS[text] in [item_id for item_id, _ in result.items[:3]], result


def test_nothing_readable_is_not_understood(engine: Understanding) -> None:
    for text in ("", "？？？", "   "):
        result = engine.understand(text)
        assert not result.understood and result.items == ()


def test_two_requests_in_one_question_give_two_intents(engine: Understanding) -> None:
    result = engine.understand("驾驶证弄丢了要补办，另外罚款也还没交")
    assert result.intents == ("license-reissue", "fine-payment")
    assert [item_id for item_id, _ in result.items[:2]] == list(result.intents)
    assert result.items[1][1] <= result.items[0][1]


def test_a_one_word_clause_does_not_bring_in_an_item_the_question_does_not_support(
        engine: Understanding) -> None:
    # "能撤销吗" read alone is an appeal against a fine; the whole question is about an exam
    # booking, and the item it asks for (cancelling it) is the one intent, with booking, the
    # item it is about, in the top three.
    result = engine.understand("科目二约好了但那天要出差，能撤销吗")
    assert result.intents == ("exam-cancel",)
    assert "exam-booking" in [item_id for item_id, _ in result.items[:3]]
    assert "violation-appeal" not in [item_id for item_id, _ in result.items[:3]]


def test_personal_data_and_length_do_not_derail_it(engine: Understanding) -> None:
    assert ranked(engine, "我手机13812345678，驾照丢了怎么补")[0] == "license-reissue"
    rambling = "你好，" + "我想问一下，" * 100 + "驾照丢了怎么补办"
    assert len(engine.understand(rambling).text) <= MAX_CHARS  # the rest is not read
    assert ranked(engine, "驾照丢了怎么补办，" + "谢谢" * 10)[0] == "license-reissue"


@pytest.fixture(scope="module")
def learner(catalog: Catalog) -> Understanding:
    """An engine of its own for the tests that teach it (each teaches unrelated phrases)."""
    return Understanding.build(catalog, load_word_list(), load_knowledge(catalog=catalog),
                               outside=load_outside())


def test_learning_applies_to_the_next_question(learner: Understanding) -> None:
    engine = learner
    phrase = "蓝色小本本上的钢印模糊了"
    assert ranked(engine, phrase)[:1] != ["registration-cert"]
    engine.learn(phrase, "registration-cert")
    assert ranked(engine, phrase)[0] == "registration-cert"
    engine.refit()  # the n-gram model takes it in too; the answer stays
    assert ranked(engine, phrase)[0] == "registration-cert"
    with pytest.raises(ValueError, match="unknown item"):
        engine.learn(phrase, "no-such-item")


def test_a_learned_example_can_claim_a_word_of_an_outside_topic(learner: Understanding) -> None:
    engine = learner
    question = "充电桩旁边被油车占了，找不到车主"
    assert engine.understand(question).outside is not None  # 充电桩: car consumption
    topic_before = engine.candidates(question)[2]
    engine.learn("充电桩车位被燃油车挡住了", "move-car")
    topic_after = engine.candidates(question)[2]
    assert topic_before is not None and topic_after is not None
    # 充电桩 is no longer a word only outside topics use: their extra weight is gone.
    assert topic_after.score <= topic_before.score - FOREIGN_BONUS + 0.05
    engine.learn("充电桩被油车占着，联系不上车主", "move-car")
    engine.refit()
    assert ranked(engine, question)[0] == "move-car"


def test_a_word_only_outside_topics_use_speaks_for_them_unless_a_catalog_term_is_there(
    engine: Understanding,
) -> None:
    alone = engine.candidates("台风什么时候来")[2]
    beside = engine.candidates("台风天车被水泡了还能年检吗")[2]
    assert alone is not None and alone.extra == FOREIGN_BONUS  # 台风: only 生活与闲聊 says it
    assert beside is not None and beside.extra == 0.0  # 年检 (检验) is the catalog's own term
    result = engine.understand("台风什么时候来")
    assert not result.understood and result.outside is not None


@pytest.mark.parametrize(("text", "item_id"), [
    ("身份证丢了怎么报名学车", "first-license-application"),  # names 驾驶证, not as a thing
    ("身份证丢了怎么记分查询", "points-query"),  # to replace: the rule leaves it
])
def test_another_departments_document_leaves_items_not_about_replacing_ours(
    engine: Understanding, text: str, item_id: str
) -> None:
    assert ranked(engine, text)[:1] == [item_id]


def test_another_departments_document_holding_one_of_ours_is_theirs(
    engine: Understanding,
) -> None:
    # 不动产权证 holds 产权证, a form of 登记证书: it is not read as naming ours.
    result = engine.understand("不动产权证丢了怎么补")
    assert "registration-cert" not in result.intents
    assert result.outside is not None and result.outside.name == "住房公积金与房产"


def test_an_admins_new_word_changes_what_the_engine_understands(
    catalog: Catalog, engine: Understanding
) -> None:
    """The engine reads the admin-editable word list: a colloquial word an admin adds to a
    group is read as the group's word, and the question that uses it finds its item."""
    question = "我的小蓝本本丢了怎么补"
    assert ranked(engine, question)[:1] != ["license-reissue"]
    edited = parse_word_list(data_files.shipped_text(WORD_LIST).replace(
        '"驾驶证" = ["驾照",', '"驾驶证" = ["小蓝本本", "驾照",', 1))
    taught = Understanding.build(catalog, edited, load_knowledge(catalog=catalog),
                                 outside=load_outside())
    assert "驾驶证" in taught.normalizer.tokens(question)
    assert ranked(taught, question)[0] == "license-reissue"


def test_examples_given_at_build_count_like_learned_ones(catalog: Catalog) -> None:
    phrase = "蓝色小本本上的钢印模糊了"
    engine = Understanding.build(catalog, load_word_list(), load_knowledge(catalog=catalog),
                                 examples=[(phrase, "registration-cert")])
    assert ranked(engine, phrase)[0] == "registration-cert"


def test_questions_that_are_not_ours_given_at_build_teach_the_gate(catalog: Catalog) -> None:
    """Whole off-topic questions (the outside seed examples, the desk's off-topic declines)
    teach the gate: a question like them, which the items' evidence alone files under an item,
    is then not understood and named as the closest topic's; a traffic question that shares
    their words stays ours."""
    examples = ["电动车头盔哪个牌子好", "买个电瓶车头盔多少钱", "电动车的头盔要买3C认证的吗",
                "孩子骑电动车戴什么头盔安全", "头盔夏天戴太热有透气的吗"]
    untaught, taught = (
        Understanding.build(catalog, load_word_list(), load_knowledge(catalog=catalog),
                            outside=load_outside(), outside_examples=given)
        for given in ((), examples))
    question = "电瓶车头盔去哪里买便宜"
    assert untaught.understand(question).understood
    assert untaught.not_ours(question) < UNSURE <= taught.not_ours(question)
    result = taught.understand(question)
    assert not result.understood and result.intents == ()
    assert result.outside is not None and result.outside.name == "汽车消费与保养"
    assert ranked(taught, "电动车上牌要带什么")[:1] == ["ebike-registration"]


def test_a_question_declined_as_not_ours_teaches_the_gate_at_the_next_refit(
        catalog: Catalog) -> None:
    engine = Understanding.build(catalog, load_word_list(), load_knowledge(catalog=catalog),
                                 outside=load_outside())
    question, declined = "电瓶车头盔去哪里买便宜", "电瓶车头盔哪里买便宜啊"
    before = engine.not_ours(question)
    assert engine.understand(question).understood
    assert engine.learn_outside(declined) and engine.learn_outside("头盔什么牌子好")
    assert engine.not_ours(question) == before  # the gate in use is not changed under it
    engine.refit()
    assert engine.not_ours(question) > before
    assert not engine.understand(question).understood
    assert engine.learn_outside("，。！") is False  # nothing to learn


def test_a_story_is_left_to_the_items_evidence(catalog: Catalog) -> None:
    """The gate does not read a question of STORY_WORDS words or more: its everyday words
    would speak louder than its request."""
    gate = Gate.fit(NgramModel, ["驾驶证 补办", "年检 预约"], ["天气 下雨", "孩子 上学 早上"])
    words = ["孩子", "上学", "早上", "天气"]
    assert gate.not_ours(words) > SURE_ENOUGH
    assert gate.rejects(words, confidence=0.9)
    assert not gate.rejects(words * (STORY_WORDS // len(words) + 1), confidence=0.0)
    assert gate.not_ours([]) == 0.0


def test_a_question_the_items_do_not_understand_is_not_ours_when_the_gate_says_so() -> None:
    """The gate also reads a question the items' evidence left unsure: one like the questions
    that are not ours is named as its closest topic's (library search then shows no clip that
    merely shares a word with it), unless it has fewer than NAMED_WORDS words, too few for the
    gate to read ("办理流程")."""
    gate = Gate.fit(NgramModel, ["驾驶证 补办", "年检 预约", "办理 流程"],
                    ["天气 下雨", "孩子 上学 早上", "奶茶 好喝", "办理 户口"])
    story = ["孩子", "上学", "早上", "天气"]
    assert gate.not_ours(story) >= UNSURE
    assert gate.rejects(story, confidence=0.05, understood=False)
    assert not gate.rejects(story[: NAMED_WORDS - 1], confidence=0.05, understood=False)
    assert gate.rejects(story[: NAMED_WORDS - 1], confidence=0.05)  # understood: the usual rule


def test_an_unsure_question_like_those_not_ours_is_named_as_their_topics() -> None:
    engine = shared_engine()  # as the app builds it: the gate taught the outside seeds
    for question, topic in (("楼下新开的奶茶店哪款好喝", "生活与闲聊"),
                            ("小区门口的路灯坏了找谁", "道路设施与交通秩序")):
        read, candidates, best = engine.candidates(question)
        assert not engine._judge(read, candidates, best).understood, question  # the items: unsure
        result = engine.understand(question)
        assert not result.understood and result.outside is not None, question
        assert result.outside.name == topic
    vague = engine.understand("办理流程")
    assert not vague.understood and vague.outside is None


DOMAIN_CHARACTERS = "驾照年检罚款扣分十二一二三两第科目車輛ｊｉａｚｈａｏ，？ 0123456789"


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=60) | st.text(alphabet=DOMAIN_CHARACTERS, max_size=40))
def test_any_text_gets_a_well_formed_answer(engine: Understanding, text: str) -> None:
    result = engine.understand(text)
    values = [value for _, value in result.items]
    assert len(result.items) <= 5
    assert all(0.0 <= value <= 1.0 for value in values)
    assert len({item_id for item_id, _ in result.items}) == len(result.items)
    assert bool(result.intents) == result.understood
    assert set(result.intents) <= {item_id for item_id, _ in result.items}


# --- normalisation ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def normalizer(catalog: Catalog) -> Normalizer:
    domain = [term for item in catalog.items for term in (item.name, *item.keywords)]
    return Normalizer(load_word_list(), domain)


@pytest.mark.parametrize(("typed", "read"), [
    ("駕駛證過期了", "驾驶证过期了"),  # traditional -> simplified
    ("ＡＢＣ１２１２３", "abc12123"),  # full width -> half width, case folded
    ("扣了十二分", "扣了12分"),
    ("一二一二三", "12123"),
    ("第二年", "第2年"),
    ("科目三", "科目3"),
    ("一直约不上", "一直约不上"),  # a numeral inside a word stays
    ("二手车", "二手车"),
    ("年捡过期了", "年检过期了"),  # homophone typos
    ("林牌", "临牌"),
    ("秘码忘了", "密码忘了"),
    ("jiazhao丢了", "驾照丢了"),  # pinyin typed for a word
    ("车什么时候报废", "车什么时候报废"),  # ordinary grammar is not "corrected"
    ("新号是13912345678", "新号是 手机号"),  # personal data read as what it is
    ("手机１３９１２３４５６７８", "手机 手机号"),
    ("身份证33010219850101123X丢了", "身份证 身份证号 丢了"),
    ("浙A8B123违停", "号牌号码 违停"),
    ("浙Ａ·６７８９０的车牌被偷了", "号牌号码 的车牌被偷了"),  # the official form, dot and all
    ("浙A****0的车牌被偷了", "号牌号码 的车牌被偷了"),  # masks read as what they hide
    ("新号是139****5678", "新号是 手机号"),
    ("身份证330*************3X丢了", "身份证 身份证号 丢了"),
    ("我叫张伟，驾照丢了", "我叫 驾照丢了"),  # a name says nothing of the business
    ("我叫张**，驾照丢了", "我叫 驾照丢了"),
    ("12123密码", "12123密码"),  # not a phone number: the app
    ("编号3301001234567890", "编号3301001234567890"),  # 16 digits: neither
])
def test_normalisation(normalizer: Normalizer, typed: str, read: str) -> None:
    assert normalizer.text(typed) == read


@pytest.mark.parametrize(("typed", "words"), [
    ("浙A·56789 的行驶证弄丢了，收件电话13600001234", {"号牌号码", "手机号"}),
    # An ID number whose check digit is wrong passes a bank card's: still an ID number.
    ("我是王小明，身份证330106199003071234，驾照下个月到期", {"身份证号"}),
    # 电话号码 is one of the word list's forms of 手机号; 档案编号 is cut in two.
    ("邮箱abc@qq.com收不到电子驾照，座机0571-87654321", {"邮箱", "手机号"}),
    ("车架号LSVAM4187C2184847，档案编号330100123456", {"车架号", "档案", "编号"}),
    ("我是李娜12123登不上", {"12123"}),  # the name goes, the app's number stays
    ("我叫欧阳娜娜，使123456的车要年检", {"号牌号码"}),
])
def test_a_question_reads_the_same_masked_as_typed(normalizer: Normalizer, typed: str,
                                                   words: set[str]) -> None:
    """Questions are stored masked (``moderation.pii``), and the moderators' hints read the
    stored text: the engine must read it as the question typed, each kind of personal data
    as its word, a name as nothing."""
    masked, kinds = mask_pii(typed)
    assert kinds and masked != typed
    read = normalizer.tokens(typed)
    assert normalizer.tokens(masked) == read
    assert words <= set(read), read
    assert not {"李", "娜", "欧", "欧阳", "银行卡号"} & set(read), read


def test_words_of_an_equivalence_group_read_as_one(normalizer: Normalizer) -> None:
    assert "电动自行车" in normalizer.tokens("电瓶车")
    assert normalizer.tokens("小电驴") == normalizer.tokens("电瓶车")


@pytest.mark.parametrize(("typed", "word"), [
    ("在日本考的驾照", "境外"),  # a foreign country is abroad
    ("人在非洲", "境外"),
    ("开大货车的", "大中型客货车"),  # the catalog's term for the vehicles
    ("左腿不方便", "肢体残疾"),  # a limb named for the disability
    ("考试费多付了", "多交了"),
    ("驾照不想要了能销掉吗", "注销"),
])
def test_the_word_list_reads_colloquial_forms_as_the_catalogs_terms(
        normalizer: Normalizer, typed: str, word: str) -> None:
    assert word in normalizer.tokens(typed)


def test_numerals_outside_counts_are_left_alone() -> None:
    assert numerals_to_digits("问一下") == "问一下"
    assert numerals_to_digits("七十多岁") == "70多岁"
    assert numerals_to_digits("两个月") == "2个月"


def test_outside_topics_file_is_validated() -> None:
    assert load_outside()
    with pytest.raises(OutsideTopicsError, match="phrases"):
        parse_outside('[[topic]]\nname = "x"\nwhere = "y"\nphrases = []\n')
    with pytest.raises(OutsideTopicsError, match="TOML"):
        parse_outside("[[topic]\n")
    with pytest.raises(OutsideTopicsError, match="documents"):
        parse_outside('[[topic]]\nname = "x"\nwhere = "y"\nphrases = ["z"]\ndocuments = [1]\n')
    with pytest.raises(OutsideTopicsError, match="documents"):
        parse_outside('[[topic]]\nname = "x"\nwhere = "y"\nphrases = ["z"]\nextra = 1\n')
    topics = parse_outside('[[topic]]\nname = "x"\nwhere = "y"\nphrases = ["z"]\n'
                           'documents = ["护照"]\n')
    assert topics[0].documents == ("护照",)
    assert any("身份证" in topic.documents for topic in load_outside())


# --- seed examples ---------------------------------------------------------------------------


def test_the_seed_examples_are_the_tuning_halves_and_never_a_blind_one(catalog: Catalog) -> None:
    """The engine the product builds learns the on-topic questions of the halves tuned on (dev,
    fresh, fresh4-9, in TUNING order); the blind halves (holdout, fresh2, fresh3) must stay
    unseen, so that the benchmark's blind figures mean something."""
    seeds = load_seeds()
    tuning = [(case.q, case.items[0]) for half in TUNING for case in load_half(half)
              if not case.off_topic]
    assert list(seeds) == tuning
    for half in BLIND:
        blind = {case.q for case in load_half(half)}
        assert blind.isdisjoint(text for text, _ in seeds), half
    assert all(catalog.get(item_id) is not None for _, item_id in seeds)


def test_the_outside_seed_examples_are_the_tuning_halves_labelled_off_topic_questions() -> None:
    """The engine learns the off-topic questions of the halves tuned on that carry a topic
    (dev's, fresh's and the whole offtopic sets), in the halves' order, each under a topic that
    exists; no blind half's question is among them."""
    seeds = load_outside_seeds()
    tuning = [(case.q, case.topic) for half in TUNING for case in load_half(half)
              if case.topic]
    assert list(seeds) == tuning and len(seeds) >= 500
    assert {topic for _, topic in seeds} <= {topic.name for topic in load_outside()}
    for half in BLIND:
        assert {case.q for case in load_half(half)}.isdisjoint(text for text, _ in seeds), half
    assert {text for text, _ in seeds}.isdisjoint(text for text, _ in load_seeds())


def test_a_malformed_seed_line_is_named(tmp_path: Path) -> None:
    path = tmp_path / "seeds.jsonl"
    path.write_text('{"text": "驾照丢了", "item": "license-reissue"}\n{"text": ""}\n',
                    encoding="utf-8")
    with pytest.raises(SeedExamplesError, match="第 2 行"):
        load_seeds(path)
