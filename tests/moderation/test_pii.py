"""Personal-data masking: what is masked, how, and what must be left alone."""

from __future__ import annotations

import re
from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from moderation.pii import (
    ID_CHECK_CHARS,
    ID_WEIGHTS,
    is_valid_id15,
    is_valid_id18,
    mask_pii,
    without_masked,
)

TODAY = date(2024, 6, 1)


def with_check_digit(first17: str) -> str:
    total = sum(int(d) * w for d, w in zip(first17, ID_WEIGHTS, strict=True))
    return first17 + ID_CHECK_CHARS[total % 11]


def wrong_check_digit(first17: str) -> str:
    right = with_check_digit(first17)[-1]
    return first17 + next(c for c in "0123456789X" if c != right)


def mask(text: str) -> str:
    return mask_pii(text, today=TODAY)[0]


VALID_ID = with_check_digit("11010119900307123")  # 110101199003071233
VALID_ID_X = with_check_digit("11010519491231002")  # ends in X


# --- ID numbers ---------------------------------------------------------------------------


def test_fixtures_are_what_they_claim() -> None:
    assert VALID_ID == "110101199003071233"
    assert VALID_ID_X.endswith("X")


def test_valid_18_digit_id_keeps_first_3_and_last_2() -> None:
    masked, kinds = mask_pii(f"我的身份证号是{VALID_ID}，驾照到期了", today=TODAY)
    assert masked == "我的身份证号是110*************33，驾照到期了"
    assert kinds == ["id_number"]


@pytest.mark.parametrize("ending", ["X", "x"])
def test_id_ending_in_x_is_masked_in_either_case(ending: str) -> None:
    masked, kinds = mask_pii(f"证号{VALID_ID_X[:-1]}{ending}。", today=TODAY)
    assert masked == "证号110*************2X。"
    assert kinds == ["id_number"]


def test_id_typed_in_groups_is_masked_without_separators() -> None:
    grouped = f"{VALID_ID[:6]} {VALID_ID[6:10]} {VALID_ID[10:14]} {VALID_ID[14:]}"
    assert mask(f"号码{grouped}。") == "号码110*************33。"
    assert mask(f"{VALID_ID[:6]}-{VALID_ID[6:14]}-{VALID_ID[14:]}") == "110*************33"


def test_id_with_bad_check_digit_is_left_alone() -> None:
    wrong = wrong_check_digit("11010119900307123")
    assert mask_pii(f"身份证{wrong}", today=TODAY) == (f"身份证{wrong}", [])


@pytest.mark.parametrize(
    "first17",
    [
        "11010119900230123",  # 30 February
        "11010119901301123",  # month 13
        "11010118991231123",  # before 1900
        "11010120240602123",  # after "today"
    ],
)
def test_id_with_impossible_birth_date_is_left_alone(first17: str) -> None:
    number = with_check_digit(first17)
    assert mask(number) == number
    assert not is_valid_id18(number, TODAY)


def test_id_born_today_is_valid() -> None:
    assert is_valid_id18(with_check_digit("11010120240601123"), TODAY)


def test_valid_legacy_15_digit_id_is_masked() -> None:
    masked, kinds = mask_pii("老身份证110105491231002还能用吗", today=TODAY)
    assert masked == "老身份证110**********02还能用吗"
    assert kinds == ["id_number"]


def test_legacy_id_with_impossible_date_is_left_alone() -> None:
    assert not is_valid_id15("110105491331002")
    assert mask("110105491331002") == "110105491331002"


def test_id_inside_a_longer_digit_run_is_left_alone() -> None:
    run = VALID_ID + "7"
    assert mask(run) == run
    assert mask("9" + VALID_ID) == "9" + VALID_ID


def test_full_width_id_is_masked() -> None:
    full_width = VALID_ID.translate({ord(c): ord(c) + 0xFEE0 for c in "0123456789"})
    assert mask(full_width) == "110*************33"


# --- mobiles ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "masked"),
    [
        ("13812345678", "138****5678"),
        ("138 1234 5678", "138****5678"),
        ("138-1234-5678", "138****5678"),
        ("+86 138-1234-5678", "+86 138****5678"),
        ("+8613812345678", "+86138****5678"),
        ("86 13812345678", "86 138****5678"),
        ("0086-19912345678", "0086-199****5678"),
        ("１３８１２３４５６７８", "138****5678"),
    ],
)
def test_mobile_keeps_first_3_and_last_4(typed: str, masked: str) -> None:
    assert mask_pii(f"电话{typed}，请回电", today=TODAY) == (f"电话{masked}，请回电", ["mobile"])


@pytest.mark.parametrize("number", ["12812345678", "1381234567", "138123456789", "23812345678"])
def test_not_a_mobile(number: str) -> None:
    assert mask(number) == number


def test_mobile_right_after_letters_is_masked() -> None:
    assert mask("tel13812345678") == "tel138****5678"


# --- plates -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "masked"),
    [
        ("浙A12345", "浙A****5"),
        ("浙A·12345", "浙A****5"),
        ("浙A•12345", "浙A****5"),
        ("浙A 1234X", "浙A****X"),
        ("浙a1b23c", "浙A****C"),
        ("京N8P88Z", "京N****Z"),
        ("浙AD12345", "浙A*****5"),  # small new-energy, pure electric
        ("浙AF12345", "浙A*****5"),  # small new-energy, hybrid
        ("沪AA12345", "沪A*****5"),  # small new-energy, extended letters
        ("浙A12345D", "浙A*****D"),  # large new-energy
        ("浙A1234学", "浙A****学"),
        ("浙A1234警", "浙A****警"),
        ("粤Z1234港", "粤Z****港"),
        ("粤Z1234澳", "粤Z****澳"),
        ("浙A1234挂", "浙A****挂"),
        ("使224578", "使*****8"),
    ],
)
def test_plate_keeps_province_letter_and_last_character(typed: str, masked: str) -> None:
    assert mask_pii(f"我的车{typed}被拍了", today=TODAY) == (f"我的车{masked}被拍了", ["plate"])


@pytest.mark.parametrize(
    "text",
    [
        "京ABCDE",  # no digits: not a plate
        "浙A1234",  # too short
        "浙A1234567",  # too long
        "新C1驾照能开什么车",
        "浙A12345X9",  # plate-like start of a longer alphanumeric run
    ],
)
def test_not_a_plate(text: str) -> None:
    assert mask(text) == text


# --- ordinary text -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "2024年5月6日上午10:30在12123上交了200元罚款",
        "拨打122报警，或者用浙里办",
        "检验日期2024-05-06，有效期至2026-05-31",
        "驾校代码330106，学C1还是C2",
        "扣了12分，罚款2000元，第3次",
        "订单号12345678901234567890",
        "A2B2C1",
    ],
)
def test_ordinary_numbers_are_left_alone(text: str) -> None:
    assert mask_pii(text, today=TODAY) == (text, [])


def test_all_kinds_are_reported_once_in_fixed_order() -> None:
    text = f"浙A12345 和 浙B54321，电话13812345678，身份证{VALID_ID}"
    masked, kinds = mask_pii(text, today=TODAY)
    assert kinds == ["id_number", "mobile", "plate"]
    assert masked == "浙A****5 和 浙B****1，电话138****5678，身份证110*************33"


def test_default_today_accepts_ordinary_ids() -> None:
    assert mask_pii(VALID_ID) == ("110*************33", ["id_number"])


# --- properties ----------------------------------------------------------------------------

ALPHABET = "0123456789Xx+- ·浙A粤Zd学，的车号电话身份证１３８ \n"
DIGIT_RUN = re.compile(r"(?<![0-9])[0-9]+[X]?(?![0-9])")


@st.composite
def valid_ids(draw: st.DrawFn) -> str:
    region = draw(st.from_regex(r"[1-8][0-9]{5}", fullmatch=True))
    born = draw(st.dates(min_value=date(1900, 1, 1), max_value=TODAY))
    serial = draw(st.from_regex(r"[0-9]{3}", fullmatch=True))
    return with_check_digit(f"{region}{born:%Y%m%d}{serial}")


mobiles = st.from_regex(r"1[3-9][0-9]{9}", fullmatch=True)
fillers = st.text(alphabet="的车号电话，。 abc", max_size=5)


@given(st.text(alphabet=ALPHABET, max_size=60))
def test_masking_is_idempotent(text: str) -> None:
    once = mask(text)
    assert mask(once) == once


@given(st.lists(st.one_of(valid_ids(), mobiles, fillers), max_size=6))
def test_masked_output_contains_no_valid_id_or_mobile(parts: list[str]) -> None:
    # "的" between parts keeps each number a separate token, as in real sentences.
    text = "的".join(parts)
    masked, kinds = mask_pii(text, today=TODAY)
    folded = masked.upper()
    for run in DIGIT_RUN.findall(folded):
        assert not (len(run) == 18 and is_valid_id18(run, TODAY))
        assert not (len(run) == 11 and re.fullmatch(r"1[3-9][0-9]{9}", run))
    for part in parts:
        if part.isdigit() or part[:17].isdigit():
            assert part not in masked
    assert mask(masked) == masked
    expected = {"id_number" if len(p) == 18 else "mobile" for p in parts if p[:11].isdigit()}
    assert set(kinds) == expected


@pytest.mark.parametrize(("text", "public"), [
    ("电瓶车怎么上牌？我电话13912345678", "电瓶车怎么上牌？"),
    ("我电话 13912345678，电瓶车怎么上牌？", "电瓶车怎么上牌？"),
    ("浙A12345 的车被拖了在哪提车", "车被拖了在哪提车"),
    ("我的车浙A12345被拖了，电话13812345678，在哪提车？", "在哪提车？"),
    ("驾照到期了怎么换", "驾照到期了怎么换"),
    ("12123 上怎么预约考试", "12123 上怎么预约考试"),
])
def test_public_text_drops_what_was_masked(text: str, public: str) -> None:
    masked, _ = mask_pii(text)
    assert without_masked(masked) == public
