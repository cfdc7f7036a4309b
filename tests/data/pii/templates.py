"""Wording for the corpus made by ``make_corpus.py``: the phrases that introduce a personal
value and the questions around it, in two sets written apart (A for the corpus, B for the
hold-out), and the parts of ordinary questions full of numbers."""

from __future__ import annotations

import random
from collections.abc import Callable

INTROS: dict[str, dict[str, list[str]]] = {
    "A": {
        "mobile": ["我电话", "我手机号是", "手机：", "联系电话", "麻烦回电", "我的号码是", "电话 ",
                   "有事打我", "手机号码", ""],
        "landline": ["单位电话", "座机", "家里座机是", "办公室电话：", "打这个座机", ""],
        "id_number": ["我身份证号", "身份证号码是", "身份证：", "证件号", "我的身份证", ""],
        "plate": ["我的车", "车牌号", "我车牌是", "车牌：", "我家", "牌照", ""],
        "bank_card": ["银行卡号", "扣款的卡是", "卡号：", "我绑的卡", "工资卡"],
        "email": ["我的邮箱", "邮箱：", "发到我邮箱", "邮件地址", ""],
        "licence_file": ["我驾照", "驾驶证", "我的驾驶证", "", "驾照上写的"],
        "vin": ["车架号", "车架号是", "车辆识别代号", "VIN码", "我的车架号："],
        "name": ["", "你好，", "主持人好，", "您好 ", "警官好，", "喂，"],
    },
    "B": {
        "mobile": ["留个电话", "回拨", "我的联系方式", "手机号", "call我", "号码："],
        "landline": ["公司电话", "我家电话", "联系座机：", "固话"],
        "id_number": ["本人身份证", "身份证号为", "证号", "公民身份号码"],
        "plate": ["车号", "号牌", "我那辆", "被拍的是", "小车"],
        "bank_card": ["我的储蓄卡", "银行卡", "开户卡号"],
        "email": ["email", "回复到", "我邮箱是"],
        "licence_file": ["我的驾驶证", "驾照"],
        "vin": ["车辆识别码", "车架号：", "大架号"],
        "name": ["打扰了，", "老师好，", "各位好 ", ""],
    },
}

QUESTIONS: dict[str, list[str]] = {
    "A": [
        "驾照快到期了在哪里换？", "违章怎么在网上处理？", "电瓶车怎么上牌？", "年检过期了怎么办？",
        "被拍了闯红灯能申诉吗？", "驾照扣了12分怎么学习？", "外地车限行吗？", "车被拖走了去哪提？",
        "异地换证需要什么材料？", "新车上牌要预约吗？", "补办驾照要多久？", "摩托车能上高速吗？",
        "超速20%扣几分？", "事故认定书什么时候出？", "体检可以在医院做吗？", "罚款交了没消分怎么回事？",
        "能帮我查一下违章吗", "请回电，谢谢", "学法减分怎么报名？", "临牌过期了还能开吗？",
    ],
    "B": [
        "想问下换证流程", "处理违章要本人去吗", "车辆转籍怎么办", "能不能帮忙看看扣分",
        "我被罚了但不是我开的", "实习期能上高速吗？", "驾驶证降级了怎么恢复", "新能源车限号吗",
        "检验标志电子版在哪下载", "麻烦帮我处理一下", "谢谢主持人",
    ],
}


def _pick(*options: str) -> Callable[[random.Random], str]:
    return lambda rng: rng.choice(options)


def _year(rng: random.Random) -> str:
    return str(rng.randint(1995, 2026))


def _date(rng: random.Random) -> str:
    y, m, d = rng.randint(2015, 2026), rng.randint(1, 12), rng.randint(1, 28)
    return rng.choice((f"{y}年{m}月{d}日", f"{y}-{m:02d}-{d:02d}", f"{y}.{m}.{d}", f"{m}.{d}",
                       f"{y}/{m:02d}/{d:02d}", f"{m}月{d}号", f"{y}年{m}月", f"{m}月{d}日"))


def _time(rng: random.Random) -> str:
    h, m = rng.randint(0, 23), rng.choice((0, 5, 15, 30, 45, 50))
    return rng.choice((f"{h}:{m:02d}", f"{h}点{m}分", f"{h}点", f"下午{h % 12 + 1}点半",
                       f"晚上{h % 12 + 1}点", f"{h:02d}:{m:02d}"))


def _fine(rng: random.Random) -> str:
    amount = rng.choice((20, 50, 100, 150, 200, 500, 1000, 2000, 5000))
    return rng.choice((f"罚款{amount}元", f"罚了{amount}块", f"{amount}元", f"交了{amount}"))


def _points(rng: random.Random) -> str:
    n = rng.choice((1, 2, 3, 6, 9, 12))
    return rng.choice((f"扣{n}分", f"扣了{n}分", f"{n}分", f"记{n}分"))


def _speed(rng: random.Random) -> str:
    v = rng.choice((40, 60, 80, 100, 110, 120, 130, 150))
    return rng.choice((f"时速{v}公里", f"{v}km/h", f"限速{v}", f"开到{v}", f"超速{rng.randint(10, 50)}%"))


def _article(rng: random.Random) -> str:
    n = rng.randint(1, 124)
    return rng.choice((f"第{n}条", f"第九十条", f"第{n}条第{rng.randint(1, 5)}款",
                       "第一百一十九条", "第六十二条第七项"))


def _model(rng: random.Random) -> str:
    return rng.choice(("比亚迪汉EV", "宝马X5", "奥迪A6L", "5座", "7座SUV", "特斯拉Model 3",
                       "大众ID.4", "理想L9", "蔚来ES6", "丰田RAV4", "本田CR-V", "小鹏P7",
                       "五菱宏光MINIEV", "哈弗H6", "长安CS75", "2.0T", "1.5L", "比亚迪秦PLUS DM-i",
                       "奔驰GLC300", "马自达CX-5", "极氪001", "问界M7"))


def _count(rng: random.Random) -> str:
    return rng.choice((f"{rng.randint(2, 9)}次", f"{rng.randint(2, 5)}辆车",
                       f"{rng.randint(1, 30)}年驾龄", f"驾龄{rng.randint(1, 30)}年",
                       f"{rng.randint(1, 12)}个月", f"{rng.randint(1, 60)}天",
                       f"{rng.randint(2, 20)}公里", f"{rng.randint(1, 49)}吨",
                       f"{rng.randint(18, 70)}岁", f"{rng.randint(1, 3)}个人"))


def _service(rng: random.Random) -> str:
    return rng.choice(("122", "12123", "12345", "110", "120", "119", "12328", "95588",
                       "400-820-8820", "交管12123", "12122", "96110"))


def _road(rng: random.Random) -> str:
    return rng.choice((f"G{rng.randint(1, 99)}", f"S{rng.randint(1, 99)}",
                       f"{rng.randint(101, 330)}国道", f"K{rng.randint(10, 2000)}+{rng.randint(1, 9)}00",
                       f"{rng.randint(1, 999)}号", f"{rng.randint(1, 30)}号线",
                       f"{rng.randint(2, 40)}楼", f"{rng.randint(1, 9)}号窗口"))


def _class(rng: random.Random) -> str:
    return rng.choice(("C1", "C2", "A1", "A2", "B1", "B2", "A2B2", "C1E", "D证", "C6"))


def _money(rng: random.Random) -> str:
    return rng.choice((f"{rng.randint(5, 50)}.{rng.randint(1, 99)}万",
                       f"{rng.randint(100, 99999)}元", f"{rng.randint(1, 9)}千多",
                       f"{rng.randint(2, 30)}万公里"))


def _digits(rng: random.Random, n: int) -> str:
    return "".join(rng.choices("0123456789", k=n))


def _code(rng: random.Random) -> str:
    """Numbers that are nobody's: orders, receipts, times, codes, engine and model numbers."""
    y, m, d = rng.randint(2018, 2026), rng.randint(1, 12), rng.randint(1, 28)
    return rng.choice((
        f"订单号{y}{m:02d}{d:02d}{_digits(rng, 8)}",
        f"流水号{y}{m:02d}{d:02d}{rng.randint(10, 23)}{_digits(rng, 10)}",
        f"{y}{m:02d}{d:02d}{rng.randint(10, 23)}{rng.randint(10, 59)}00",
        f"快递单号SF{_digits(rng, 12)}",
        f"发票号码{_digits(rng, 8)}",
        f"违章编号{rng.choice(('3301', '4403', '1101'))}{_digits(rng, 9)}",
        f"验证码{_digits(rng, rng.choice((4, 6)))}",
        f"邮编{rng.choice(('310000', '100000', '518000', '200120'))}",
        f"发动机号{rng.choice(('BYD476ZQA', 'EA888', 'G4FG', 'L15B'))}{_digits(rng, 7)}",
        f"车辆型号BYD{_digits(rng, 4)}WT{rng.randint(1, 9)}HEV",
        f"{rng.randint(1, 9)},{_digits(rng, 3)}元",
        f"第{rng.randint(1, 9)}季度{rng.randint(1, 30)}号",
        f"{rng.randint(60, 80)}-{rng.randint(90, 120)}公里",
        f"{y}年{m}月{d}日{rng.randint(8, 17)}:{rng.choice(('00', '30'))}-{rng.randint(8, 17)}:00",
    ))


ORDINARY_PARTS: dict[str, Callable[[random.Random], str]] = {
    "code": _code, "code2": _code,
    "date": _date, "date2": _date, "time": _time, "fine": _fine, "points": _points,
    "speed": _speed, "article": _article, "model": _model, "count": _count,
    "service": _service, "road": _road, "cls": _class, "money": _money, "year": _year,
    "me": _pick("我是新手", "我是外地车", "我是本地人", "我是开网约车的", "本人驾龄十年",
                "我是货车司机", "我是第一次", "本人于去年", "我是实习期", "我姓名写错了",
                "我是学员", "我是车主", "我是高速上被拍的", "本人在外地", "我是周末去的",
                "我是江苏牌照", "我是骑电动车的", "我叫了拖车", "我是C1驾照", "我是残疾人"),
}

ORDINARY_TEMPLATES = [
    "{date}在{road}{speed}被拍，{points}{fine}，怎么处理？",
    "{me}，{date}{time}{fine}，{points}，能分期吗",
    "{model}{count}了，年检还要上线吗？",
    "{cls}驾照{count}，{date}到期，{article}怎么规定的",
    "打{service}一直占线，{date2}{time}去办可以吗",
    "{me}，开{model}，{speed}算超速吗？",
    "根据道路交通安全法{article}，{fine}{points}对吗？",
    "{year}年拿的{cls}，{count}，想增驾",
    "{date}到{date2}之间{count}违章，{fine}",
    "{model}落地{money}，上牌要多少钱",
    "在{road}被测速{speed}，{points}还是{fine}？",
    "{me}，{service}上预约了{date}{time}的科目二",
    "{time}在{road}追尾，对方全责，{money}维修费",
    "{count}，车龄{year}年，{model}要年检吗",
    "交了{fine}但{service}上还显示{points}",
    "{me}，{year}年买的{model}，{money}",
    "{code}，{date}{fine}，怎么退？",
    "{me}，{code}查不到，{service}说{count}",
    "{model}的{code}在哪看？{code2}",
    "{date}{time}交的{fine}，{code}",
]
