"""Personal names where the citizen introduces themself: ``我叫X``, ``我是X``, ``本人X``,
``我姓X``, ``我的名字是X`` and their variants.

After such a phrase a name is a common surname (single or compound) and one or two given-name
characters, ending where the sentence goes on: punctuation, a digit or letter, the end, a
function character (``的想要在是…``) or a word that usually follows a name (``手机``,
``今年``…). It is *not* a name when it is a word of the language that begins with a surname
character (``我是高速上被拍的``, ``我是江西人``, ``我是周末去的``): such a span is looked up
in jieba's dictionary (``rjieba``), and a word there that is not tagged a person name
(``nr``) is left alone; a short list covers words the dictionary mis-tags
(``高三``, ``张家口``). Mask: the surname, then ``**`` whatever the length of the given name
(``我叫张**``); after ``我姓`` the surname itself becomes ``**``.
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
SURNAMES = frozenset(
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶"
    "程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺"
    "顾毛郝龚邵万钱严覃武戴莫孔向汤常温康施文牛樊葛邢安齐易乔伍庞颜倪庄聂章鲁岳翟殷詹申欧耿"
    "关兰焦俞左柳甘祝包宁尚符舒阮柯纪梅童凌毕单季裴霍涂成苗谷盛曲翁冉骆蓝路游辛靳管柴蒙鲍华"
    "喻祁蒲房滕屈饶解牟艾尤阳时穆农司卓古吉缪简车项连芦麦褚娄窦戚岑景党宫费卜冷晏席卫米柏宗"
    "瞿桂全佟应臧闵苟邬边卞姬师和仇栾隋商刁沙荣巫寇桑郎甄丛仲虞敖巩明佘池查麻苑迟邝官封谈匡"
    "鞠惠荆乐冀郁胥南班储原栗燕楚鄢劳谌奚皮粟冼蔺楼盘满闻位厉伊仝区郜海阚花权强帅屠豆朴盖练"
    "廉禹井祖漆巴丰支卿国狄平计索宣晋相初门云容敬来扈晁芮都普阙浦戈伏鹿薄邸雍辜羊阿乌母裘亓"
    "修邰赫杭况那宿鲜印逯隆茹诸战慕危玉银亢嵇公哈湛宾戎勾茅利於呼居揭干但尉冶斯元束檀衣信展"
    "阴昝智幸奉植衡富尧闭由"
)
# Characters that end a name when they follow it, and are never its second given character.
STOP_CHARS = frozenset(
    "的了是在有和与跟就都也还又想要去来到把被给让从向对为以于而但并或及问请才今昨这那哪什么"
    "怎吗呢吧啊呀哦嘛我你他她它们个车驾照证考开罚扣违章办交警能会可需不没很太更最已经正因所如"
    "虽然后几多少第次回辆位名叫姓说住家电手号男女岁今现目该应得着过再先啥咋"
)
FOLLOW_WORDS = ("手机", "电话", "身份", "车牌", "今年", "工作", "同学", "先生", "女士")
TITLES = ("先生", "女士", "小姐", "师傅", "老师", "同学", "阿姨", "大爷", "大姐", "大哥", "警官",
          "同志", "某", "总", "工", "老板", "经理", "家")
# Words the dictionary tags as person names or does not know, that follow 我是/本人 in
# ordinary questions.
NOT_NAMES = frozenset(("高三", "高二", "高一", "张家口", "张家界", "张家港", "文明", "金杯",
                       "万元", "高龄", "高考", "全款", "全责", "主责", "次责", "宁波", "常州"))
_PERSON_TAGS = ("nr",)
_DEMONYM_OR_PLACE = frozenset("人市省县区镇村路街乡")

_TRIGGER_RE = re.compile(
    r"(?P<surname_only>我姓|本人姓|免贵姓)|我的名字叫|我的名字是|我名字叫|我名字是|名字叫|"
    r"我名叫|本人叫|本人是|本人|我叫|我是"
)
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
        name = _name_at(text, at, surname)
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


def _name_at(text: str, at: int, surname: str) -> str | None:
    """The whole name (surname and 1–2 given characters) starting at ``at``, if any."""
    if text.startswith(TITLES, at + len(surname)):
        return None  # 我是王师傅: a surname and a title identify nobody
    given = _given_at(text, at + len(surname))
    if given is None:
        return None
    name = surname + given
    if name in NOT_NAMES or _is_ordinary_word(name):
        return None
    if len(given) == 2 and _is_ordinary_word(surname + given[0], places_too=False):
        return None  # 我是高速上被拍的; yet 徐国军 and 苏丹倩 are names, 徐国 and 苏丹 places
    return name


def _given_at(text: str, at: int) -> str | None:
    for length in (2, 1):
        given = text[at : at + length]
        if len(given) < length or not all(_CJK.fullmatch(c) and c not in STOP_CHARS
                                           for c in given):
            continue
        end = at + length
        if any(c in _DEMONYM_OR_PLACE for c in given) or not _ends_name(text, end):
            continue
        if end < len(text) and _is_ordinary_word(text[end - 1 : end + 1]):
            continue  # 我是江苏牌照: 牌照 is a word, so the name cannot end between them
        return given
    return None


def _ends_name(text: str, at: int) -> bool:
    if at >= len(text):
        return True
    ch = text[at]
    return (not _CJK.fullmatch(ch) or ch in STOP_CHARS or ch in _DEMONYM_OR_PLACE
            or text.startswith(FOLLOW_WORDS, at))


@lru_cache(maxsize=4096)
def _is_ordinary_word(word: str, places_too: bool = True) -> bool:
    """A dictionary word that jieba does not tag as a person's name (nor, unless
    ``places_too``, as a place name)."""
    import rjieba  # imported here: its dictionary takes 0.1 s and 30 MB, needed only now

    if not rjieba.has_word(word):
        return False
    tags = rjieba.tag(word)
    if len(tags) != 1 or tags[0][1].startswith(_PERSON_TAGS):
        return False
    return places_too or tags[0][1] != "ns"
