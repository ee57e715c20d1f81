"""Realistic Vietnamese content: people, personal ID numbers, addresses, dates, companies.

Administrative units come from the `vietnamadminunits` package's data (both the 63-province
three-level units in force until mid-2025 and the 34-province two-level units after it), never
from a hand-typed list.
"""

from __future__ import annotations

import random
import unicodedata
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache

from vietnamadminunits.database import query

__all__ = [
    "Address",
    "Person",
    "PROVINCE_ID_CODES",
    "fmt_date",
    "fmt_date_words",
    "id_century_digit",
    "make_citizen_id",
    "make_person",
    "nfc",
    "random_address",
    "random_date",
    "validate_citizen_id",
]


def nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


# Share of the population by family name (approximate published figures); the rest is spread
# over less common names.
FAMILY_NAMES: tuple[tuple[str, float], ...] = (
    ("Nguyễn", 38.4), ("Trần", 11.0), ("Lê", 9.5), ("Phạm", 7.1), ("Hoàng", 4.1), ("Huỳnh", 3.0),
    ("Phan", 4.5), ("Vũ", 3.0), ("Võ", 2.5), ("Đặng", 2.1), ("Bùi", 2.0), ("Đỗ", 1.4), ("Hồ", 1.3),
    ("Ngô", 1.3), ("Dương", 1.0), ("Lý", 0.5), ("Đinh", 0.6), ("Trương", 0.6), ("Lâm", 0.4),
    ("Mai", 0.4), ("Hà", 0.4), ("Tô", 0.3), ("Cao", 0.3), ("Lương", 0.3), ("Đoàn", 0.4),
    ("Trịnh", 0.4), ("Tạ", 0.2), ("Chu", 0.2), ("Kiều", 0.1), ("Thái", 0.2),
)
MIDDLE_MALE = ("Văn", "Văn", "Văn", "Hữu", "Đức", "Minh", "Quang", "Thành", "Công", "Xuân", "Hoàng",
               "Ngọc", "Đình", "Gia", "Tuấn", "Trọng", "Quốc", "Anh", "Bá", "Thế")
MIDDLE_FEMALE = ("Thị", "Thị", "Thị", "Thị", "Ngọc", "Thu", "Thanh", "Minh", "Bảo", "Phương", "Khánh",
                 "Hồng", "Kim", "Mai", "Thùy", "Diệu", "Hoài", "Quỳnh", "Mỹ", "Tuyết")
GIVEN_MALE = ("An", "Bình", "Cường", "Dũng", "Đạt", "Đức", "Hải", "Hiếu", "Hoàng", "Hùng", "Huy",
              "Khang", "Khoa", "Long", "Minh", "Nam", "Nghĩa", "Phong", "Phúc", "Quân", "Quang",
              "Sơn", "Tài", "Thắng", "Thành", "Toàn", "Trung", "Tuấn", "Việt", "Vinh", "Bảo",
              "Duy", "Hưng", "Kiên", "Lâm", "Lộc", "Nhân", "Thịnh", "Tùng", "Khải", "Hậu", "Thông")
GIVEN_FEMALE = ("Anh", "Chi", "Dung", "Giang", "Hà", "Hằng", "Hạnh", "Hoa", "Hồng", "Huyền", "Hương",
                "Lan", "Linh", "Loan", "Mai", "My", "Nga", "Ngân", "Ngọc", "Nhung", "Oanh", "Phương",
                "Quỳnh", "Thảo", "Thu", "Thủy", "Trang", "Trâm", "Uyên", "Vân", "Vy", "Yến", "Nhi",
                "Diệp", "Tuyết", "Hiền", "Liên", "Xuân", "Ánh", "Thư")
ETHNICITIES = (("Kinh", 85.3), ("Tày", 1.9), ("Thái", 1.9), ("Mường", 1.5), ("Khmer", 1.4),
               ("Hoa", 0.8), ("Nùng", 1.1), ("Mông", 1.4), ("Dao", 0.9), ("Ê Đê", 0.4))
STREETS = ("Lê Lợi", "Trần Hưng Đạo", "Nguyễn Trãi", "Hai Bà Trưng", "Lý Thường Kiệt", "Quang Trung",
           "Hùng Vương", "Nguyễn Huệ", "Lê Duẩn", "Phan Chu Trinh", "Võ Thị Sáu", "Điện Biên Phủ",
           "Nguyễn Văn Cừ", "Trường Chinh", "Lạc Long Quân", "Nguyễn Thị Minh Khai", "Bà Triệu",
           "Phạm Văn Đồng", "Tôn Đức Thắng", "Cách Mạng Tháng Tám", "Lê Thánh Tông", "Ngô Quyền",
           "Trần Phú", "Nguyễn Du", "Hoàng Diệu", "Kim Mã", "Giải Phóng", "Xô Viết Nghệ Tĩnh")
HAMLETS = ("Thôn Đông", "Thôn Tây", "Thôn Trung", "Thôn Thượng", "Thôn Hạ", "Xóm Mới", "Xóm 3",
           "Ấp 1", "Ấp 2", "Ấp Bình An", "Ấp Tân Lập", "Bản Nà Sản", "Tổ dân phố 5", "Tổ dân phố 12",
           "Khu phố 3", "Khu phố 7", "Thôn Phú Mỹ", "Thôn An Lạc", "Thôn Hòa Bình")


@dataclass(frozen=True)
class Address:
    """One address in both forms when known: old three-level and new two-level."""

    text: str  # as printed, full form
    short: str  # card style: unit names without their type words
    province: str
    province_code: str  # two-digit statistics code, also the personal-ID prefix without its 0


@dataclass(frozen=True)
class Person:
    name: str  # title case as written on forms
    sex: str  # "Nam" | "Nữ"
    dob: date
    citizen_id: str
    origin: Address  # quê quán / nơi đăng ký khai sinh
    residence: Address
    ethnicity: str


@lru_cache(maxsize=1)
def _legacy_units() -> tuple[tuple[str, ...], ...]:
    rows = query(
        "SELECT province, district, ward, provinceShort, districtShort, wardShort, provinceCode,"
        " wardType FROM admin_units_legacy ORDER BY provinceCode, districtCode, wardCode"
    )
    return tuple(
        tuple(nfc(str(r[k])) for k in ("province", "district", "ward", "provinceShort",
                                       "districtShort", "wardShort", "provinceCode", "wardType"))
        for r in rows
    )


@lru_cache(maxsize=1)
def _units_2025() -> tuple[tuple[str, ...], ...]:
    rows = query(
        "SELECT province, ward, provinceShort, wardShort, provinceCode, wardType FROM admin_units"
        " ORDER BY provinceCode, wardCode"
    )
    return tuple(
        tuple(nfc(str(r[k])) for k in ("province", "ward", "provinceShort", "wardShort",
                                       "provinceCode", "wardType"))
        for r in rows
    )


@lru_cache(maxsize=1)
def _province_codes() -> dict[str, str]:
    rows = query("SELECT DISTINCT provinceCode, province FROM admin_units_legacy ORDER BY provinceCode")
    return {"0" + r["provinceCode"]: nfc(r["province"]) for r in rows}


class _ProvinceCodes:
    """Three-digit province codes of the personal ID number (Circular 59/2021/TT-BCA).

    They are the two-digit statistics codes of the 63 provinces, zero-padded: 001 Hà Nội,
    048 Đà Nẵng, 079 TP Hồ Chí Minh, 096 Cà Mau.
    """

    def __contains__(self, code: object) -> bool:
        return code in _province_codes()

    def __getitem__(self, code: str) -> str:
        return _province_codes()[code]

    def keys(self) -> list[str]:
        return list(_province_codes())


PROVINCE_ID_CODES = _ProvinceCodes()


def _street_part(rng: random.Random, urban: bool) -> str:
    if urban:
        num = rng.randint(1, 399)
        if rng.random() < 0.4:
            return f"Số {num}, ngõ {rng.randint(2, 199)} đường {rng.choice(STREETS)}"
        return f"Số {num} đường {rng.choice(STREETS)}"
    return rng.choice(HAMLETS)


def random_address(rng: random.Random, *, new_style: bool = False, province_code: str | None = None,
                   street: bool = True) -> Address:
    """A real ward/district/province with a plausible street or hamlet in front."""
    if new_style:
        units = _units_2025()
        if province_code is not None:
            units = tuple(u for u in units if u[4] == province_code) or units
        prov, ward, prov_s, ward_s, code, wtype = rng.choice(units)
        head = _street_part(rng, wtype == "Phường")
        parts = [ward, prov]
        short = ", ".join([ward_s, prov_s])
    else:
        units = _legacy_units()
        if province_code is not None:
            units = tuple(u for u in units if u[6] == province_code) or units
        prov, dist, ward, prov_s, dist_s, ward_s, code, wtype = rng.choice(units)
        head = _street_part(rng, wtype in ("Phường", "Thị trấn"))
        parts = [ward, dist, prov]
        short = ", ".join([ward_s, dist_s, prov_s])
    text = ", ".join(([head] if street else []) + parts)
    return Address(text=text, short=short, province=prov, province_code=code)


def random_date(rng: random.Random, start: date, end: date) -> date:
    return start + timedelta(days=rng.randint(0, (end - start).days))


def fmt_date(d: date) -> str:
    return f"{d.day:02d}/{d.month:02d}/{d.year}"


def fmt_date_words(d: date, *, pad: bool = True) -> str:
    if pad:
        return f"ngày {d.day:02d} tháng {d.month:02d} năm {d.year}"
    return f"ngày {d.day} tháng {d.month} năm {d.year}"


def id_century_digit(sex: str, year: int) -> int:
    """Gender/century digit: 0/1 male/female born 1900-1999, 2/3 born 2000-2099, and so on."""
    century_index = (year // 100) - 19
    if not 0 <= century_index <= 4:
        raise ValueError(f"birth year {year} outside 1900-2399")
    return century_index * 2 + (1 if sex == "Nữ" else 0)


def make_citizen_id(rng: random.Random, province_code3: str, sex: str, year: int) -> str:
    """12-digit personal ID: province (3), century/gender (1), year (2), random (6)."""
    if province_code3 not in PROVINCE_ID_CODES:
        raise ValueError(f"unknown province code {province_code3!r}")
    return f"{province_code3}{id_century_digit(sex, year)}{year % 100:02d}{rng.randint(0, 999999):06d}"


def validate_citizen_id(citizen_id: str, sex: str | None = None, year: int | None = None) -> bool:
    if len(citizen_id) != 12 or not citizen_id.isdigit():
        return False
    if citizen_id[:3] not in PROVINCE_ID_CODES:
        return False
    if sex is not None and year is not None:
        if int(citizen_id[3]) != id_century_digit(sex, year) or citizen_id[4:6] != f"{year % 100:02d}":
            return False
    return True


def weighted(rng: random.Random, items: tuple[tuple[str, float], ...]) -> str:
    return rng.choices([i for i, _ in items], weights=[w for _, w in items], k=1)[0]


def make_name(rng: random.Random, sex: str, family: str | None = None) -> str:
    fam = family or weighted(rng, FAMILY_NAMES)
    if sex == "Nam":
        middles = [rng.choice(MIDDLE_MALE)]
        if rng.random() < 0.2:
            middles.append(rng.choice(("Minh", "Hoàng", "Quốc", "Gia", "Đức")))
        given = rng.choice(GIVEN_MALE)
    else:
        middles = [rng.choice(MIDDLE_FEMALE)]
        if rng.random() < 0.2:
            middles.append(rng.choice(("Ngọc", "Bảo", "Thu", "Minh", "Phương")))
        given = rng.choice(GIVEN_FEMALE)
    seen: list[str] = []
    for m in middles:
        if m not in seen and m != given:
            seen.append(m)
    return nfc(" ".join([fam, *seen, given]))


def make_person(rng: random.Random, *, sex: str | None = None, born: tuple[int, int] = (1960, 2004),
                family: str | None = None, residence: Address | None = None) -> Person:
    sex = sex or rng.choice(("Nam", "Nữ"))
    dob = random_date(rng, date(born[0], 1, 1), date(born[1], 12, 31))
    origin = random_address(rng, street=False)
    code3 = "0" + origin.province_code
    residence = residence or random_address(rng, new_style=rng.random() < 0.4)
    return Person(
        name=make_name(rng, sex, family),
        sex=sex,
        dob=dob,
        citizen_id=make_citizen_id(rng, code3, sex, dob.year),
        origin=origin,
        residence=residence,
        ethnicity=weighted(rng, ETHNICITIES),
    )


PROCEDURES = (
    "Đăng ký khai sinh",
    "Đăng ký kết hôn",
    "Cấp bản sao trích lục hộ tịch",
    "Đăng ký thường trú",
    "Đăng ký tạm trú",
    "Chứng thực bản sao từ bản chính",
    "Đăng ký thành lập doanh nghiệp tư nhân",
    "Đăng ký biến động quyền sử dụng đất",
    "Cấp Giấy xác nhận tình trạng hôn nhân",
    "Đăng ký khai tử",
)

COMPANY_KINDS = ("CÔNG TY TNHH", "CÔNG TY CỔ PHẦN", "CÔNG TY TNHH MỘT THÀNH VIÊN")
COMPANY_TRADES = ("THƯƠNG MẠI VÀ DỊCH VỤ", "XÂY DỰNG", "ĐẦU TƯ PHÁT TRIỂN", "CÔNG NGHỆ",
                  "VẬN TẢI", "NÔNG SẢN", "THỰC PHẨM", "IN ẤN VÀ QUẢNG CÁO", "DU LỊCH", "MAY MẶC")
COMPANY_NAMES = ("AN PHÁT", "HƯNG THỊNH", "MINH KHANG", "PHÚ GIA", "THÀNH ĐẠT", "SAO VIỆT",
                 "ĐẠI NAM", "TÂN TIẾN", "HOÀNG LONG", "BÌNH MINH", "VIỆT HƯNG", "NAM PHONG")
LAND_PURPOSES = ("Đất ở tại nông thôn", "Đất ở tại đô thị", "Đất trồng cây lâu năm",
                 "Đất trồng lúa", "Đất nuôi trồng thủy sản", "Đất thương mại, dịch vụ")


def number_words(amount: int) -> str:
    """Vietnamese reading of a whole number ("hai nghìn không trăm hai mươi tư")."""
    digits = ("không", "một", "hai", "ba", "bốn", "năm", "sáu", "bảy", "tám", "chín")

    def three(n: int, full: bool) -> str:
        h, t, u = n // 100, (n // 10) % 10, n % 10
        out: list[str] = []
        if h or full:
            out += [digits[h], "trăm"]
        if t == 0:
            if u and (h or full):
                out.append("lẻ")
        elif t == 1:
            out.append("mười")
        else:
            out += [digits[t], "mươi"]
        if u:
            if u == 1 and t > 1:
                out.append("mốt")
            elif u == 5 and t > 0:
                out.append("lăm")
            else:
                out.append(digits[u])
        return " ".join(out)

    if amount == 0:
        return "không"
    units = ("", "nghìn", "triệu", "tỷ")
    groups: list[int] = []
    n = amount
    while n:
        groups.append(n % 1000)
        n //= 1000
    words: list[str] = []
    for i in range(len(groups) - 1, -1, -1):
        g = groups[i]
        if g == 0:
            continue
        words.append(three(g, full=i != len(groups) - 1))
        if units[i]:
            words.append(units[i])
    return " ".join(words)


def money_words(amount: int) -> str:
    """An amount of đồng in words, capitalized, as written on certificates."""
    text = number_words(amount) + " đồng"
    return text[0].upper() + text[1:]


def date_words(d: date) -> str:
    """A date in words, as on birth registration forms."""
    day = number_words(d.day)
    if d.day <= 10:
        day = "mùng " + day
    month = {1: "một", 4: "tư"}.get(d.month, number_words(d.month))
    year = number_words(d.year).replace("mươi bốn", "mươi tư")
    return nfc(f"Ngày {day} tháng {month} năm {year}")
