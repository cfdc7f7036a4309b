"""Personal names where the citizen introduces themself: ``我叫X``, ``我是X``, ``本人X``,
``我姓X``, ``我的名字是X`` and their variants.

After such a phrase a name is a common surname (single or compound) and one or two given-name
characters, ending where the sentence goes on: punctuation, a digit or letter, the end, a
character never found in names (``的想要在是…``), a word that usually follows a name
(``手机``, ``今年``…) or any other word of jieba's dictionary (``rjieba``). A given name
never holds a function character; one that may be in a name but usually begins the next word
(``就``, ``家``, ``和``…) ends it when it does begin a word (``我叫张伟就是想问``).

It is *not* a name when it is a word of the language that begins with a surname character
(``我是高速公路上被拍的``, ``我是江西人``, ``我是周末去的``): the dictionary tags such words
as something other than a person (``nr``); a short list covers words it mis-tags (``高三``,
``张家口``), and a name cannot end inside a dictionary word (``我是江苏牌照``). After
``我是`` and ``本人``, which may be followed by anything, a name must also be followed by
punctuation, the end, a usual next word, or a new word when it is no word itself. Mask: the
surname, then ``**`` whatever the length of the given name (``我叫张**``); after ``我姓``
the surname itself becomes ``**``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import lru_cache

from moderation.pii.fold import Found

COMPOUND_SURNAMES = frozenset(("欧阳", "司马", "上官", "诸葛", "东方",
    "皇甫", "尉迟", "公孙", "慕容", "长孙", "宇文", "司徒", "夏侯", "令狐", "端木",
    "独孤", "南宫", "西门", "轩辕", "呼延", "澹台", "万俟", "闻人", "赫连", "第五",
    "申屠", "百里", "太史", "钟离", "宗政", "濮阳", "淳于", "单于", "拓跋"))
# 车 is left out: after 我叫/我是 in a traffic question it is the vehicle (我叫车来接的).
SURNAMES = frozenset(
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶"
    "程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺"
    "顾毛郝龚邵万钱严覃武戴莫孔向汤常温康施文牛樊葛邢安齐易乔伍庞颜倪庄聂章鲁岳翟殷詹申欧耿"
    "关兰焦俞左柳甘祝包宁尚符舒阮柯纪梅童凌毕单季裴霍涂成苗谷盛曲翁冉骆蓝路游辛靳管柴蒙鲍华"
    "喻祁蒲房滕屈饶解牟艾尤阳时穆农司卓古吉缪简项连芦麦褚娄窦戚岑景党宫费卜冷晏席卫米柏宗"
    "瞿桂全佟应臧闵苟邬边卞姬师和仇栾隋商刁沙荣巫寇桑郎甄丛仲虞敖巩明佘池查麻苑迟邝官封谈匡"
    "鞠惠荆乐冀郁胥南班储原栗燕楚鄢劳谌奚皮粟冼蔺楼盘满闻位厉伊仝区郜海阚花权强帅屠豆朴盖练"
    "廉禹井祖漆巴丰支卿国狄平计索宣晋相初门云容敬来扈晁芮都普阙浦戈伏鹿薄邸雍辜羊阿乌母裘亓"
    "修邰赫杭况那宿鲜印逯隆茹诸战慕危玉银亢嵇公哈湛宾戎勾茅利於呼居揭干但尉冶斯元束檀衣信展"
    "阴昝智幸奉植衡富尧闭由"
)
# Characters that are never part of a given name (function words, traffic words); a name
# ends before them.
NEVER_IN_NAMES = frozenset(
    "的了是在想要去把被给让从对为于而但并或及问请才今昨这那哪什么怎吗呢吧啊呀哦嘛我你他她它们"
    "个车驾照证考罚扣违章办交警需不没很太最已因所如虽然后几多少第次回辆位名叫姓说住电手号男女岁"
    "着啥咋上下牌灯线桥站款型"
)
# Characters that may be in a name (家豪, 和平, 可馨, 正阳) but usually begin the words that
# follow one (就是, 还有, 家住, 能不能): a name ends before them when they begin a word.
SOFT_END = frozenset("有和与跟就都也还又来到向以开能会可更经正现目该应得过再先家今")
FOLLOW_WORDS = ("手机", "电话", "身份", "车牌", "今年", "工作", "同学", "先生", "女士")
TITLES = ("先生", "女士", "小姐", "师傅", "老师", "同学", "阿姨", "大爷", "大姐", "大哥", "警官",
          "同志", "某", "总", "工", "老板", "经理")
# Words the dictionary tags as person names or does not know, that follow 我是/本人 in
# ordinary questions.
NOT_NAMES = frozenset(("高三", "高二", "高一", "张家口", "张家界", "张家港", "文明", "金杯",
                       "万元", "高龄", "高考", "全款", "全责", "主责", "次责", "宁波", "常州"))
_PERSON_TAGS = ("nr",)
_DEMONYM_OR_PLACE = frozenset("人市省县区镇村路街乡")

_TRIGGER_RE = re.compile(
    r"(?P<surname_only>我姓|本人姓|免贵姓)|我的名字叫|我的名字是|我名字叫|我名字是|名字叫|"
    r"我名叫|本人叫|(?P<weak>本人是|本人|我是)|我叫"
)
# 我是 and 本人 are followed by anything (我是外地车, 我是石家庄的, 本人全责): after them a
# name must be followed by punctuation, the end, a word that follows names or one of these.
WEAK_FOLLOW = frozenset("想要请问在从刚去今昨驾开有家就也还和能")
_CJK = re.compile(r"[\u4e00-\u9fff]")


def find_names(text: str) -> Iterator[Found]:
    """Self-introduced names in ``text`` (the original text, not the folded copy: folding
    would turn ``张三`` into ``张3``)."""
    for trigger in _TRIGGER_RE.finditer(text):
        at = trigger.end()
        while at < len(text) and text[at] in " ：:":
            at += 1
        surname = _surname_at(text, at)
        if surname is None:
            continue
        if trigger.group("surname_only"):
            yield from _surname_then_name(text, at, surname)
            continue
        name = _name_at(text, at, surname, weak=bool(trigger.group("weak")))
        if name is not None:
            yield Found(at, at + len(name), "name", surname + "**")


def _surname_then_name(text: str, at: int, surname: str) -> Iterator[Found]:
    """``我姓王`` → ``我姓**``; ``我姓王，叫王小明`` / ``我姓王名小明``: the name too."""
    after = at + len(surname)
    if _ends_name(text, after) or text.startswith(("叫", "名"), after):
        yield Found(at, after, "name", "**")
    link = re.compile(r"[，, ]?(?:叫|名叫|名字叫|名)").match(text, after)
    if link is None:
        return
    start = link.end()
    if text.startswith(surname, start):
        name = _name_at(text, start, surname)
        if name is not None:
            yield Found(start, start + len(name), "name", surname + "**")
    else:
        given = _given_at(text, start)
        if given is not None:
            yield Found(start, start + len(given), "name", "**")


def _surname_at(text: str, at: int) -> str | None:
    if text[at : at + 2] in COMPOUND_SURNAMES:
        return text[at : at + 2]
    if at < len(text) and text[at] in SURNAMES:
        return text[at]
    return None


def _name_at(text: str, at: int, surname: str, weak: bool = False) -> str | None:
    """The whole name (surname and 1–2 given characters) starting at ``at``, if any."""
    if text.startswith(TITLES, at + len(surname)):
        return None  # 我是王师傅: a surname and a title identify nobody
    given = _given_at(text, at + len(surname), weak=weak, name_start=at)
    if given is None:
        return None
    name = surname + given
    if name in NOT_NAMES or _is_ordinary_word(name):
        return None
    if any(_is_ordinary_word(text[at : at + n]) for n in range(len(name) + 1, len(name) + 3)):
        return None  # 我是高速公路上: the "name" begins a longer word
    if len(given) == 2 and _is_ordinary_word(surname + given[0], nouns_too=False):
        return None  # 我是常年在…: an adverb, a verb, a time; 王家豪 and 徐国军 (nouns) stay names
    return name


def _given_at(text: str, at: int, *, weak: bool = False, name_start: int | None = None
              ) -> str | None:
    for length in (2, 1):
        given = text[at : at + length]
        if len(given) < length or not all(
                _CJK.fullmatch(c) and c not in NEVER_IN_NAMES and c not in _DEMONYM_OR_PLACE
                for c in given):
            continue
        end = at + length
        if not _ends_name(text, end) or (end < len(text) and text[end] in _DEMONYM_OR_PLACE):
            continue  # 我是杨浦区的: a place
        if weak and not _clear_end(text, at if name_start is None else name_start, end):
            continue
        if end < len(text) and _is_ordinary_word(text[end - 1 : end + 1]) and \
                not _is_word(text[end : end + 2]):
            continue  # 我是江苏牌照: 牌照 is a word, so the name cannot end between them
        if length == 2 and given[1] in SOFT_END and _is_word(text[at + 1 : at + 3]):
            continue  # 我叫张伟家住…: 家住 begins the sentence's next word
        return given
    return None


def _clear_end(text: str, start: int, end: int) -> bool:
    """After 我是/本人: punctuation, the end, a word that follows names, one of
    ``WEAK_FOLLOW``, or — when neither the name nor its first two characters are a word of
    the dictionary — any word (``本人张博超速…``, but not ``我是马自达车主`` or
    ``本人孙子骑电动车``)."""
    if end >= len(text) or not _CJK.fullmatch(text[end]) or text[end] in WEAK_FOLLOW or \
            text.startswith(FOLLOW_WORDS, end):
        return True
    return _is_word(text[end : end + 2]) and not _is_word(text[start:end]) and \
        not _is_word(text[start : start + 2])


def _ends_name(text: str, at: int) -> bool:
    """Whether a name can end just before ``at``: the end of the text, punctuation, a digit
    or letter, a function character, or the start of a word of the dictionary."""
    if at >= len(text):
        return True
    ch = text[at]
    return (not _CJK.fullmatch(ch) or ch in NEVER_IN_NAMES or ch in SOFT_END
            or ch in _DEMONYM_OR_PLACE or text.startswith(FOLLOW_WORDS, at)
            or _is_word(text[at : at + 2]))


def _all_cjk(text: str) -> bool:
    """Only ideographs: nothing else is a word to look up (and a lone surrogate, which
    rjieba cannot take, never reaches it)."""
    return all(_CJK.fullmatch(c) for c in text)


@lru_cache(maxsize=4096)
def _is_word(text: str) -> bool:
    """A word of jieba's dictionary (more than one character)."""
    import rjieba  # imported here: its dictionary takes 0.1 s and 30 MB, needed only now

    return len(text) > 1 and _all_cjk(text) and bool(rjieba.has_word(text))


@lru_cache(maxsize=4096)
def _is_ordinary_word(word: str, nouns_too: bool = True) -> bool:
    """A dictionary word that jieba does not tag as a person's name (nor, unless
    ``nouns_too``, as a noun of any kind: common, place, organisation…)."""
    import rjieba  # imported here: its dictionary takes 0.1 s and 30 MB, needed only now

    if not _all_cjk(word) or not rjieba.has_word(word):
        return False
    tags = rjieba.tag(word)
    if len(tags) != 1 or tags[0][1].startswith(_PERSON_TAGS):
        return False
    return nouns_too or not tags[0][1].startswith("n")
