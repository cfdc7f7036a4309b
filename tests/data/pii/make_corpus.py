"""Writes the personal-data corpus beside this file (run from the repository root:
``python tests/data/pii/make_corpus.py``; the output is committed, and a test checks that
running this again gives the same bytes).

- ``corpus.jsonl``: questions carrying personal values of every kind and variant, made with
  template set A and seed 20240601. Each line: ``{"text", "values": [{"kind", "variant",
  "start", "end", "value"}]}``; ``text[start:end]`` is the part that must be masked (a
  country code in front of a mobile, an extension after a landline and the phrase that
  introduces a value are not part of it).
- ``holdout.jsonl``: the same kinds and variants from a *different* seed and a different
  template set (B), never looked at while the rules were written: the check that they are
  general patterns rather than fitted to corpus lines.
- ``ordinary.jsonl``: questions full of numbers and near-misses that must come through
  unchanged: ``{"text", "source"}``, ``source`` being ``hand`` (``ordinary_hand.txt``, one a
  line) or ``generated``.

Values are made as a person types them: digits in groups with spaces, dots or dashes,
full-width digits, Chinese numerals (cn2an's ``an2cn`` in direct mode) with ``幺`` for 1 and
``两`` for 2, plates in lower case or with a separator. IDs, cards and VINs get correct check
digits (python-stdnum for IDs and cards).
"""

from __future__ import annotations

import json
import random
import sys
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

import cn2an
from stdnum import luhn
from stdnum.cn import ric

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))

from templates import INTROS, ORDINARY_PARTS, ORDINARY_TEMPLATES, QUESTIONS  # noqa: E402

Value = tuple[str, int, int, str]  # typed text, start and end of the part to mask, variant
Maker = Callable[[random.Random], Value]

FULL_WIDTH = {ord(c): ord(c) + 0xFEE0 for c in "0123456789"}
PROVINCES = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"
PLATE_LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ"
REGIONS = ("110101", "110105", "310104", "310115", "440305", "440106", "330106", "330102",
           "510107", "320102", "420106", "610113", "370102", "410105", "430104", "350203",
           "500103", "120101", "210102", "130102", "340104", "360102", "450103", "530102")
AREA_CODES = ("010", "020", "021", "022", "023", "024", "025", "027", "028", "029", "0571",
              "0755", "0512", "0731", "0591", "0371", "0531", "0851", "0871", "0431", "0451",
              "0311", "0351", "0471", "0771", "0898", "0931", "0951", "0971", "0991")
CARD_BINS = ("622202", "621700", "622848", "622588", "623668", "621226", "622700", "625965",
             "436742", "427020", "518710", "552599", "356833", "622609", "621483")
WMI_CN = ("LSV", "LFV", "LGB", "LHG", "LVS", "LBV", "LDC", "LSG", "LNB", "LGX", "LFM", "LZW")
WMI_FOREIGN = ("WBA", "WDD", "WVW", "JTD", "SAL", "VF1", "ZFA", "YV1")
VIN_CHARS = "ABCDEFGHJKLMNPRSTUVWXYZ0123456789"
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"  # noqa: E501
COMPOUND = ("欧阳", "司马", "上官", "诸葛", "慕容")
# Common given-name characters (not chosen to suit the detector: 家, 和, 正, 可, 一 and 天
# begin ordinary words too).
GIVEN = ("伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红建国文辉鹏飞斌宇浩凯晨婷雪琳欣怡"
         "佳子涵梓轩博宏志峰海波春梅丹燕晓龙亮俊鑫慧颖倩璐瑶嘉豪思源家和正可一天立新永心乐泽睿航雨"
         "彤诗琪梦洁小大安东德成金荣福")


def grouped(digits: str, sizes: tuple[int, ...], sep: str) -> str:
    parts, at = [], 0
    for size in sizes:
        parts.append(digits[at : at + size])
        at += size
    if at < len(digits):
        parts.append(digits[at:])
    return sep.join(parts)


def chinese(digits: str, yao: bool, liang: bool) -> str:
    text = str(cn2an.an2cn(digits, "direct"))
    if yao:
        text = text.replace("一", "幺")
    if liang:
        text = text.replace("二", "两")
    return text


def whole(text: str, variant: str) -> Value:
    return text, 0, len(text), variant


# --- values ------------------------------------------------------------------------------


def mobile(rng: random.Random) -> Value:
    digits = rng.choice("3456789") + "".join(rng.choices("0123456789", k=9))
    digits = "1" + digits
    variant = rng.choice(("plain", "3-4-4 space", "3-4-4 dash", "4-4-3 space", "3-4-4 dot",
                          "+86", "+86 space", "0086", "86", "full-width", "chinese", "chinese 幺",
                          "chinese 两 幺 grouped", "3-3-5 space", "mixed separators",
                          "full-width grouped", "+86 dash"))
    typed = {
        "plain": digits,
        "3-4-4 space": grouped(digits, (3, 4), " "),
        "3-4-4 dash": grouped(digits, (3, 4), "-"),
        "4-4-3 space": grouped(digits, (4, 4), " "),
        "3-4-4 dot": grouped(digits, (3, 4), "."),
        "full-width": digits.translate(FULL_WIDTH),
        "chinese": chinese(digits, False, False),
        "chinese 幺": chinese(digits, True, False),
        "chinese 两 幺 grouped": grouped(chinese(digits, True, True), (3, 4), " "),
        "3-3-5 space": grouped(digits, (3, 3), " "),
        "mixed separators": f"{digits[:3]}-{digits[3:7]} {digits[7:]}",
        "full-width grouped": grouped(digits, (3, 4), " ").translate(FULL_WIDTH),
    }.get(variant)
    if typed is not None:
        return whole(typed, variant)
    prefix = {"+86": "+86", "+86 space": "+86 ", "0086": "0086-", "86": "86 ",
              "+86 dash": "+86-"}[variant]
    number = digits if variant != "+86 space" else grouped(digits, (3, 4), " ")
    return prefix + number, len(prefix), len(prefix) + len(number), variant


def landline(rng: random.Random) -> Value:
    area = rng.choice(AREA_CODES)
    size = 8 if len(area) == 3 else rng.choice((7, 8))
    local = rng.choice("2345678") + "".join(rng.choices("0123456789", k=size - 1))
    variant = rng.choice(("dash", "space groups", "parentheses", "full-width parentheses",
                          "plain", "dash groups", "extension 转", "extension dash", "em dash",
                          "spaced dash"))
    typed = {
        "dash": f"{area}-{local}",
        "space groups": f"{area} {grouped(local, (len(local) - 4,), ' ')}",
        "parentheses": f"({area}){local}",
        "full-width parentheses": f"（{area}）{local}",
        "plain": area + local,
        "dash groups": f"{area}-{grouped(local, (len(local) - 4,), '-')}",
        "extension 转": f"{area}-{local}",
        "extension dash": f"{area}-{local}",
        "em dash": f"{area}—{local}",
        "spaced dash": f"{area} - {grouped(local, (len(local) - 4,), ' ')}",
    }[variant]
    extension = {"extension 转": "转" + str(rng.randint(100, 9999)),
                 "extension dash": "-" + str(rng.randint(10, 999))}.get(variant, "")
    return typed + extension, 0, len(typed), variant


def _birth(rng: random.Random, start: int, end: int) -> date:
    return date(start, 1, 1) + timedelta(days=rng.randrange((date(end, 12, 31) -
                                                              date(start, 1, 1)).days))


def id18(rng: random.Random) -> Value:
    variant = rng.choice(("plain", "6-8-4 space", "6-4-4-4 space", "dash", "ending x",
                          "ending X", "full-width", "dots", "ending x grouped"))
    while True:
        first = f"{rng.choice(REGIONS)}{_birth(rng, 1940, 2006):%Y%m%d}{rng.randint(0, 999):03d}"
        number = first + ric.calc_check_digit(first + "0")
        if (number[-1] == "X") == variant.startswith("ending"):
            break
    typed = {
        "plain": number,
        "6-8-4 space": grouped(number, (6, 8), " "),
        "6-4-4-4 space": grouped(number, (6, 4, 4), " "),
        "dash": grouped(number, (6, 8), "-"),
        "ending x": number[:-1] + "x",
        "ending X": number,
        "full-width": number.translate(FULL_WIDTH),
        "dots": grouped(number, (6, 4, 4), "."),
        "ending x grouped": grouped(number[:-1] + "x", (6, 4, 4), " "),
    }[variant]
    return whole(typed, variant)


def id15(rng: random.Random) -> Value:
    number = f"{rng.choice(REGIONS)}{_birth(rng, 1930, 1998):%y%m%d}{rng.randint(0, 999):03d}"
    variant = rng.choice(("plain", "6-6-3 space"))
    return whole(number if variant == "plain" else grouped(number, (6, 6), " "), variant)


def plate(rng: random.Random) -> Value:
    province, letter = rng.choice(PROVINCES), rng.choice(PLATE_LETTERS.replace("Q", ""))
    digits = "".join(rng.choices("0123456789", k=5))
    form = rng.choice(("ordinary", "ordinary letter", "new-energy small", "new-energy large",
                       "trailer 挂", "police 警", "coach 学", "consulate 领", "embassy 使"))
    if form == "embassy 使":
        sep = rng.choice(("", " ", "·"))
        return whole(f"使{sep}{digits[:3]}{rng.choice(('', ' '))}{digits[3:]}{rng.randint(0, 9)}",
                     form)
    tail = {
        "ordinary": digits,
        "ordinary letter": rng.choice("ABCDEFGHJKLMNPRSTUVWXYZ") + digits[1:],
        "new-energy small": rng.choice("DF") + rng.choice("ABCDEFGHJK0123456789") + digits[1:],
        "new-energy large": digits + rng.choice("DF"),
        "trailer 挂": digits[:4] + "挂",
        "police 警": digits[:4] + "警",
        "coach 学": digits[:4] + "学",
        "consulate 领": digits[:4] + "领",
    }[form]
    style = rng.choice(("joined", "dot ·", "space", "lower case", "dot .", "space inside",
                        "space after province", "lower case with ·", "dash"))
    head = province + letter
    typed = {
        "joined": head + tail,
        "dot ·": f"{head}·{tail}",
        "space": f"{head} {tail}",
        "lower case": (head + tail).lower(),
        "dot .": f"{head}.{tail}",
        "space inside": f"{head}{tail[:2]} {tail[2:]}",
        "space after province": f"{province} {letter}{tail}",
        "lower case with ·": f"{head}·{tail}".lower(),
        "dash": f"{head}-{tail}",
    }[style]
    return whole(typed, f"{form}, {style}")


def bank_card(rng: random.Random) -> Value:
    length = rng.choice((16, 16, 17, 18, 19, 19))
    body = rng.choice(CARD_BINS)
    body += "".join(rng.choices("0123456789", k=length - len(body) - 1))
    number = body + luhn.calc_check_digit(body)
    variant = rng.choice(("plain", "4-groups space", "4-groups dash", "full-width",
                          "6-rest space"))
    typed = {"plain": number, "4-groups space": grouped(number, (4, 4, 4, 4), " "),
             "4-groups dash": grouped(number, (4, 4, 4, 4), "-"),
             "full-width": number.translate(FULL_WIDTH),
             "6-rest space": grouped(number, (6,), " ")}[variant]
    return whole(typed, f"{variant}, {length} digits")


def email(rng: random.Random) -> Value:
    pinyin = ("zhang", "wang", "li", "liu", "chen", "yang", "zhao", "huang", "zhou", "wu", "xu",
              "sun", "ma", "zhu", "hu", "guo", "lin", "he", "gao", "luo")
    variant = rng.choice(("qq number", "pinyin.digits", "pinyin_underscore", "upper case",
                          "full-width @", "subdomain"))
    domain = rng.choice(("qq.com", "163.com", "126.com", "sina.com", "foxmail.com", "gmail.com",
                         "outlook.com", "139.com", "yeah.net", "hotmail.com"))
    local = {
        "qq number": str(rng.randint(10000, 3999999999)),
        "pinyin.digits": f"{rng.choice(pinyin)}.{rng.choice(pinyin)}{rng.randint(1, 99)}",
        "pinyin_underscore": f"{rng.choice(pinyin)}_{rng.randint(1960, 2010)}",
        "upper case": f"{rng.choice(pinyin).upper()}{rng.randint(1, 999)}",
        "full-width @": f"{rng.choice(pinyin)}{rng.randint(1, 999)}",
        "subdomain": f"{rng.choice(pinyin)}{rng.choice(pinyin)}",
    }[variant]
    if variant == "subdomain":
        domain = rng.choice(("mail.cmbchina.com", "stu.zju.edu.cn", "vip.sina.com"))
    at = "＠" if variant == "full-width @" else "@"
    return whole(f"{local}{at}{domain}", variant)


def licence_file(rng: random.Random) -> Value:
    number = rng.choice(REGIONS)[:4] + "".join(rng.choices("0123456789", k=8))
    variant = rng.choice(("档案编号", "档案号", "档案编号 spaced", "档案号是", "档案编号：",
                          "档案号 full-width"))
    typed = {
        "档案编号 spaced": grouped(number, (4, 4), " "),
        "档案号 full-width": number.translate(FULL_WIDTH),
    }.get(variant, number)
    intro = {"档案编号": "档案编号", "档案号": "档案号", "档案编号 spaced": "档案编号",
             "档案号是": "档案号是", "档案编号：": "档案编号：", "档案号 full-width": "档案号"}[variant]
    return intro + typed, len(intro), len(intro) + len(typed), variant


def vin(rng: random.Random) -> Value:
    variant = rng.choice(("china, check digit", "china, lower case", "foreign, keyword"))
    if variant == "foreign, keyword":
        body = rng.choice(WMI_FOREIGN) + "".join(rng.choices(VIN_CHARS, k=8))
        number = body + "".join(rng.choices("0123456789", k=6))
        intro = rng.choice(("车架号", "车架号：", "VIN码", "车辆识别代号"))
        return intro + number, len(intro), len(intro) + len(number), variant
    body = rng.choice(WMI_CN) + "".join(rng.choices(VIN_CHARS, k=5))
    tail = rng.choice("ABCDEFGHJKLMNPRSTVWXY123456789") + rng.choice(VIN_CHARS[:23]) + \
        "".join(rng.choices("0123456789", k=6))
    number = body + "0" + tail
    number = number[:8] + vin_check_digit(number) + number[9:]
    return whole(number.lower() if variant == "china, lower case" else number, variant)


def vin_check_digit(vin: str) -> str:
    """ISO 3779 / GB 16735 check digit (written here again, apart from the detector's)."""
    values = dict(zip("0123456789", range(10), strict=True))
    values.update(zip("ABCDEFGHJKLMNPRSTUVWXYZ",
                      (1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 3, 4, 5, 7, 9, 2, 3, 4, 5, 6, 7, 8, 9),
                      strict=True))
    weights = (8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2)
    remainder = sum(values[c] * w for c, w in zip(vin, weights, strict=True)) % 11
    return "X" if remainder == 10 else str(remainder)


def name(rng: random.Random) -> Value:
    surname = rng.choice(COMPOUND) if rng.random() < 0.05 else rng.choice(SURNAMES)
    given = "".join(rng.choices(GIVEN, k=rng.choice((1, 2, 2))))
    variant = rng.choice(("我叫", "我是", "本人", "我姓", "我姓…叫", "我的名字是"))
    if variant == "我姓":
        return f"我姓{surname}", 2, 2 + len(surname), variant
    if variant == "我姓…叫":
        text = f"我姓{surname}，叫{surname}{given}"
        return text, text.index("叫") + 1, len(text), variant
    return variant + surname + given, len(variant), len(variant) + len(surname + given), variant


MAKERS: dict[str, Maker] = {
    "mobile": mobile, "landline": landline, "id_number": id18, "id_number_15": id15,
    "plate": plate, "bank_card": bank_card, "email": email, "licence_file": licence_file,
    "vin": vin, "name": name,
}
# How many values of each kind one corpus holds (mobiles and plates are the commonest).
COUNTS = {"mobile": 260, "landline": 120, "id_number": 160, "id_number_15": 40, "plate": 240,
          "bank_card": 110, "email": 90, "licence_file": 70, "vin": 80, "name": 180}


def make_corpus(template_set: str, seed: int, scale: float) -> list[dict[str, object]]:
    rng = random.Random(seed)
    lines: list[dict[str, object]] = []
    for maker_name, count in COUNTS.items():
        kind = "id_number" if maker_name.startswith("id_number") else maker_name
        for _ in range(round(count * scale)):
            typed, start, end, variant = MAKERS[maker_name](rng)
            intro = rng.choice(INTROS[template_set][kind])
            question = rng.choice(QUESTIONS[template_set])
            if kind == "name" or rng.random() < 0.5:
                head = intro
                joiner = rng.choice(("，", "，", "，", "。", " ", ""))
                text = f"{intro}{typed}{joiner}{question}"
            else:
                head = question + rng.choice(("", "，", " ")) + intro
                text = head + typed
            offset = len(head)
            lines.append({"text": text, "values": [{
                "kind": kind, "variant": variant, "start": offset + start,
                "end": offset + end, "value": typed[start:end]}]})
    rng.shuffle(lines)
    return lines


def make_ordinary(seed: int) -> list[dict[str, object]]:
    rng = random.Random(seed)
    hand = [line.strip() for line in (HERE / "ordinary_hand.txt").read_text("utf-8").splitlines()
            if line.strip() and not line.startswith("#")]
    lines: list[dict[str, object]] = [{"text": text, "source": "hand"} for text in hand]
    seen = set(hand)
    while len(lines) < len(hand) + 420:
        template = rng.choice(ORDINARY_TEMPLATES)
        text = template.format_map({key: part(rng) for key, part in ORDINARY_PARTS.items()})
        if text not in seen:
            seen.add(text)
            lines.append({"text": text, "source": "generated"})
    return lines


def write(path: Path, lines: list[dict[str, object]]) -> None:
    path.write_text("".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines),
                    "utf-8")


def main() -> None:
    write(HERE / "corpus.jsonl", make_corpus("A", 20240601, 1.0))
    write(HERE / "holdout.jsonl", make_corpus("B", 7, 0.5))
    write(HERE / "ordinary.jsonl", make_ordinary(20240602))


if __name__ == "__main__":
    main()
