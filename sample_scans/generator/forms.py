"""A4 civil-status and administrative documents."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta

from .data import (
    COMPANY_KINDS,
    COMPANY_NAMES,
    COMPANY_TRADES,
    LAND_PURPOSES,
    PROCEDURES,
    Person,
    date_words,
    fmt_date,
    fmt_date_words,
    make_name,
    make_person,
    money_words,
    random_address,
    random_date,
)
from .sheet import Ctx, RenderedDocument, Sheet, office_date_line

__all__ = [
    "render_application_letter",
    "render_birth_certificate_extract",
    "render_birth_registration",
    "render_enterprise_registration",
    "render_land_use_certificate",
    "render_marriage_registration",
    "render_power_of_attorney",
    "render_receipt_appointment",
    "render_residence_confirmation",
]

RELATIONSHIPS = ("Cha", "Mẹ", "Mẹ", "Cha", "Ông nội", "Bà ngoại")


def _child_family(ctx: Ctx) -> tuple[Person, Person, Person]:
    rng = ctx.rng
    father = ctx.person("father", sex="Nam", born=(1975, 2000))
    mother = ctx.person("mother", sex="Nữ", born=(1978, 2002), residence=father.residence)
    if "child" not in ctx.people:
        sex = rng.choice(("Nam", "Nữ"))
        dob = random_date(rng, ctx.today - timedelta(days=55), ctx.today - timedelta(days=3))
        fam = father.name.split()[0]
        child = make_person(rng, sex=sex, born=(dob.year, dob.year), family=fam, residence=father.residence)
        ctx.people["child"] = replace(child, dob=dob, origin=father.origin)
    return father, mother, ctx.people["child"]


def _birth_place(ctx: Ctx) -> str:
    rng = ctx.rng
    prov = ctx.office.province.replace("Thành phố ", "thành phố ").replace("Tỉnh ", "tỉnh ")
    return rng.choice((
        f"Bệnh viện Đa khoa {prov}",
        f"Bệnh viện Phụ sản {ctx.office.place}",
        f"Trạm y tế {ctx.office.ward.lower().split(' ', 1)[0]} {ctx.office.ward.split(' ', 1)[1]}, {ctx.office.province}",
        f"Trung tâm Y tế {ctx.office.place}",
    ))


def render_birth_registration(ctx: Ctx, layout: str) -> RenderedDocument:
    """Tờ khai đăng ký khai sinh (form of Circular 04/2020/TT-BTP), filled in."""
    rng = ctx.rng
    father, mother, child = _child_family(ctx)
    rel = rng.choice(RELATIONSHIPS[:2] if layout != "c" else RELATIONSHIPS)
    declarant = father if rel in ("Cha", "Ông nội") else mother
    if rel in ("Ông nội", "Bà ngoại"):
        declarant = ctx.person("grandparent", sex="Nam" if rel == "Ông nội" else "Nữ", born=(1950, 1972),
                               residence=father.residence)
    decl_date = max(child.dob + timedelta(days=1), ctx.today - timedelta(days=rng.randint(0, 3)))
    s = Sheet(ctx, size_pt=12.5 if layout != "b" else 12, leading=1.5)
    if layout == "b":
        s.c.text(s.x1, s.y + 20, "Mẫu số 01/TP-HT", s.font(italic=True, scale=0.85), align="right")
        s.y += 30
    s.national_header()
    s.title("TỜ KHAI ĐĂNG KÝ KHAI SINH")
    s.field("Kính gửi:", s.ctx.office.ubnd + (f", {ctx.office.district}" if ctx.office.district else ""),
            label_bold=True)
    s.y += s.lh * 0.2
    f: dict[str, str] = {}
    f["declarant_name"] = s.field("Họ, chữ đệm, tên người yêu cầu:", declarant.name, bold_value=True)
    f["declarant_residence"] = s.field("Nơi cư trú:", declarant.residence.text)
    issue = random_date(rng, date(2021, 1, 1), ctx.today - timedelta(days=30))
    s.field("Giấy tờ tùy thân:", f"Căn cước công dân số {declarant.citizen_id}, cấp ngày {fmt_date(issue)}")
    f["declarant_id"] = declarant.citizen_id
    f["relationship"] = s.field("Quan hệ với người được khai sinh:", rel)
    s.y += s.lh * 0.2
    s.para("Đề nghị cơ quan đăng ký khai sinh cho người dưới đây:", bold=True)
    f["child_name"] = s.field("Họ, chữ đệm, tên:", child.name, bold_value=True, upper=layout == "c")
    s.field("Ngày, tháng, năm sinh:", fmt_date(child.dob))
    s.field("ghi bằng chữ:", date_words(child.dob))
    f["child_date_of_birth"] = child.dob.isoformat()
    f["child_sex"], f["child_ethnicity"], f["child_nationality"] = s.fields_row(
        [("Giới tính:", child.sex), ("Dân tộc:", father.ethnicity), ("Quốc tịch:", "Việt Nam")],
        [0.3, 0.33, 0.37])
    f["child_place_of_birth"] = s.field("Nơi sinh:", _birth_place(ctx))
    s.field("Quê quán:", father.origin.text)
    s.y += s.lh * 0.2
    for role, p in (("mother", mother), ("father", father)):
        lab = "Họ, chữ đệm, tên người mẹ:" if role == "mother" else "Họ, chữ đệm, tên người cha:"
        f[f"{role}_name"] = s.field(lab, p.name, bold_value=True, upper=layout == "c")
        s.fields_row([("Năm sinh:", str(p.dob.year)), ("Dân tộc:", p.ethnicity), ("Quốc tịch:", "Việt Nam")],
                     [0.3, 0.33, 0.37])
        if layout == "a":
            s.field("Số định danh cá nhân:", p.citizen_id)
        else:
            s.field("Giấy tờ tùy thân:", f"Căn cước công dân số {p.citizen_id}")
        f[f"{role}_id"] = p.citizen_id
        s.field("Nơi cư trú:", p.residence.text)
    s.y += s.lh * 0.3
    s.para("Tôi cam đoan nội dung đề nghị đăng ký khai sinh trên đây là đúng sự thật, được sự thỏa thuận "
           "nhất trí của các bên liên quan theo quy định pháp luật.", first_indent=60)
    s.para("Tôi chịu hoàn toàn trách nhiệm trước pháp luật về nội dung cam đoan của mình.", first_indent=60)
    place = ctx.office.ward
    s.y += s.lh * 0.3
    s.c.text(s.x1, s.y, f"Làm tại: {place}, {fmt_date_words(decl_date)}", s.font(italic=True), align="right")
    f["declaration_place"] = place
    f["declaration_date"] = decl_date.isoformat()
    s.y += s.lh
    s.signature_block(s.x0 + 1450, ["Người yêu cầu"], declarant.name,
                      note="(Ký, ghi rõ họ, chữ đệm, tên)")
    return RenderedDocument("birth_registration", layout, [s.c], f)


def _agency_left(ctx: Ctx) -> list[str]:
    lines = ["ỦY BAN NHÂN DÂN", ctx.office.ward_upper]
    if ctx.office.district and ctx.rng.random() < 0.5:
        lines = [f"UBND {ctx.office.district.upper()}", "ỦY BAN NHÂN DÂN", ctx.office.ward_upper]
    return lines


def _seal_text(ctx: Ctx) -> str:
    return f"ỦY BAN NHÂN DÂN {ctx.office.ward_upper} * {ctx.office.province.upper()} *"


def render_birth_certificate_extract(ctx: Ctx, layout: str) -> RenderedDocument:
    """Trích lục khai sinh (copy of the civil-status record)."""
    rng = ctx.rng
    father, mother, child = _child_family(ctx)
    reg_date = child.dob + timedelta(days=rng.randint(3, 50))
    issue = max(reg_date, ctx.today - timedelta(days=rng.randint(0, 900)))
    number = f"{rng.randint(1, 480)}/TLKS-BS" if layout == "a" else f"{rng.randint(1, 480)}/TLKS"
    s = Sheet(ctx)
    s.national_header(_agency_left(ctx), number=f"Số: {number}", date_line=office_date_line(ctx, issue))
    s.title("TRÍCH LỤC KHAI SINH", sub="(BẢN SAO)" if layout == "a" else None)
    f: dict[str, str] = {"document_number": number}
    f["child_name"] = s.field("Họ, chữ đệm, tên:", child.name.upper(), bold_value=True)
    f["child_date_of_birth"] = child.dob.isoformat()
    s.field("Ngày, tháng, năm sinh:", fmt_date(child.dob))
    s.field("ghi bằng chữ:", date_words(child.dob))
    f["child_sex"] = s.fields_row([("Giới tính:", child.sex), ("Dân tộc:", father.ethnicity),
                                   ("Quốc tịch:", "Việt Nam")], [0.3, 0.33, 0.37])[0]
    f["child_place_of_birth"] = s.field("Nơi sinh:", _birth_place(ctx))
    s.field("Quê quán:", father.origin.text)
    s.field("Số định danh cá nhân:", child.citizen_id)
    s.y += s.lh * 0.2
    f["mother_name"] = s.field("Họ, chữ đệm, tên người mẹ:", mother.name.upper(), bold_value=True)
    s.fields_row([("Năm sinh:", str(mother.dob.year)), ("Dân tộc:", mother.ethnicity),
                  ("Quốc tịch:", "Việt Nam")], [0.3, 0.33, 0.37])
    s.field("Nơi cư trú:", mother.residence.text)
    f["father_name"] = s.field("Họ, chữ đệm, tên người cha:", father.name.upper(), bold_value=True)
    s.fields_row([("Năm sinh:", str(father.dob.year)), ("Dân tộc:", father.ethnicity),
                  ("Quốc tịch:", "Việt Nam")], [0.3, 0.33, 0.37])
    s.field("Nơi cư trú:", father.residence.text)
    s.y += s.lh * 0.2
    auth = ctx.office.ubnd + (f", {ctx.office.district}" if ctx.office.district else "") + f", {ctx.office.province}"
    f["issuing_authority"] = s.field("Nơi đăng ký khai sinh:", auth)
    f["registration_date"] = reg_date.isoformat()
    s.field("Ngày, tháng, năm đăng ký:", fmt_date(reg_date))
    s.y += s.lh * 0.5
    if layout == "b":
        s.signature_block(s.x0 + 1450, ["TM. ỦY BAN NHÂN DÂN", "CHỦ TỊCH"], make_name(rng, "Nam"),
                          seal_text=_seal_text(ctx))
    else:
        s.signature_block(s.x0 + 1450, ["NGƯỜI KÝ TRÍCH LỤC"], make_name(rng, rng.choice(("Nam", "Nữ"))),
                          note="(Ký, ghi rõ họ, chữ đệm, tên, chức vụ)", seal_text=_seal_text(ctx))
    return RenderedDocument("birth_certificate_extract", layout, [s.c], f)


def render_marriage_registration(ctx: Ctx, layout: str) -> RenderedDocument:
    """Tờ khai đăng ký kết hôn: one column per spouse."""
    rng = ctx.rng
    husband = ctx.person("husband", sex="Nam", born=(1980, 2002))
    wife = ctx.person("wife", sex="Nữ", born=(1982, 2004))
    if rng.random() < 0.6:
        wife = replace(wife, residence=husband.residence)
        ctx.people["wife"] = wife
    decl = ctx.today - timedelta(days=rng.randint(0, 3))
    s = Sheet(ctx, size_pt=12.5)
    s.national_header()
    s.title("TỜ KHAI ĐĂNG KÝ KẾT HÔN")
    s.field("Kính gửi:", ctx.office.ubnd + (f", {ctx.office.district}" if ctx.office.district else ""),
            label_bold=True)
    s.y += s.lh * 0.3
    x0, x1 = s.x0, s.x1
    split = [x0, x0 + 520, x0 + 520 + (x1 - x0 - 520) / 2, x1]
    rows = [["Thông tin", "Bên nữ", "Bên nam"] if layout == "a" else ["", "Bên nữ", "Bên nam"],
            ["Họ, chữ đệm, tên", wife.name, husband.name],
            ["Ngày, tháng, năm sinh", fmt_date(wife.dob), fmt_date(husband.dob)],
            ["Dân tộc", wife.ethnicity, husband.ethnicity],
            ["Quốc tịch", "Việt Nam", "Việt Nam"],
            ["Nơi cư trú", wife.residence.text, husband.residence.text],
            ["Giấy tờ tùy thân", f"Căn cước công dân số {wife.citizen_id}",
             f"Căn cước công dân số {husband.citizen_id}"],
            ["Kết hôn lần thứ mấy", "Lần thứ nhất", "Lần thứ nhất"]]
    s.table(split, rows)
    s.para("Chúng tôi cam đoan những lời khai trên đây là đúng sự thật, việc kết hôn của chúng tôi là tự "
           "nguyện, không vi phạm quy định của Luật Hôn nhân và gia đình Việt Nam.", first_indent=60)
    s.para("Chúng tôi chịu hoàn toàn trách nhiệm trước pháp luật về nội dung cam đoan của mình.",
           first_indent=60)
    s.y += s.lh * 0.3
    s.c.text(s.x1, s.y, f"Làm tại: {ctx.office.ward}, {fmt_date_words(decl)}", s.font(italic=True), align="right")
    s.y += s.lh * 1.2
    y = s.y
    with s.c.text_line():
        s.c.text(s.x0 + 400, y, "Bên nữ", s.font(bold=True), align="center")
        s.c.text(s.x1 - 450, y, "Bên nam", s.font(bold=True), align="center")
    y += s.lh
    with s.c.text_line():
        note = "(Ký, ghi rõ họ, chữ đệm, tên)"
        s.c.text(s.x0 + 400, y, note, s.font(italic=True, scale=0.9), align="center")
        s.c.text(s.x1 - 450, y, note, s.font(italic=True, scale=0.9), align="center")
    from . import artwork

    for cx in (s.x0 + 400, s.x1 - 450):
        g = artwork.signature(rng)
        s.c.image(g, cx - g.width / 2, y + s.lh * 0.6)
    y += s.lh * 4.2
    with s.c.text_line():
        s.c.text(s.x0 + 400, y, wife.name, s.font(bold=True), align="center")
        s.c.text(s.x1 - 450, y, husband.name, s.font(bold=True), align="center")
    f = dict(wife_name=wife.name, wife_date_of_birth=wife.dob.isoformat(), wife_id=wife.citizen_id,
             husband_name=husband.name, husband_date_of_birth=husband.dob.isoformat(),
             husband_id=husband.citizen_id, residence=wife.residence.text,
             declaration_date=decl.isoformat())
    return RenderedDocument("marriage_registration", layout, [s.c], f)


def render_residence_confirmation(ctx: Ctx, layout: str) -> RenderedDocument:
    """Xác nhận thông tin về cư trú (form CT07)."""
    rng = ctx.rng
    p = ctx.person("applicant")
    issue = ctx.today - timedelta(days=rng.randint(0, 60))
    police = "CÔNG AN " + ctx.office.ward_upper
    number = f"{rng.randint(10, 9999)}/XN-CAP"
    s = Sheet(ctx)
    left = ["BỘ CÔNG AN", f"CÔNG AN {ctx.office.province.upper()}", police] if layout == "a" else \
        [f"CÔNG AN {ctx.office.province.upper()}", police]
    s.national_header(left, number=f"Số: {number}", date_line=office_date_line(ctx, issue))
    s.title("XÁC NHẬN THÔNG TIN VỀ CƯ TRÚ")
    s.para(f"{police.title().replace('Công An', 'Công an')} xác nhận thông tin về cư trú của công dân như sau:",
           first_indent=60)
    current = p.residence if rng.random() < 0.6 else random_address(rng, new_style=True)
    f = dict(document_number=number, issuing_authority=police, citizen_id=p.citizen_id,
             date_of_birth=p.dob.isoformat(), sex=p.sex)
    f["full_name"] = s.field("1. Họ, chữ đệm và tên:", p.name.upper(), bold_value=True)
    s.field("2. Ngày, tháng, năm sinh:", fmt_date(p.dob))
    s.field("3. Giới tính:", p.sex)
    s.field("4. Số định danh cá nhân:", p.citizen_id)
    f["permanent_residence"] = s.field("5. Nơi thường trú:", p.residence.text)
    s.field("6. Nơi tạm trú:", "" if current == p.residence else current.text)
    f["current_residence"] = s.field("7. Nơi ở hiện tại:", current.text)
    if layout == "b":
        s.para("8. Thông tin thành viên hộ gia đình:")
        mem = [["TT", "Họ, chữ đệm và tên", "Ngày sinh", "Quan hệ với chủ hộ"],
               ["1", p.name, fmt_date(p.dob), "Chủ hộ"]]
        for i in range(rng.randint(1, 3)):
            q = make_person(rng, born=(1960, 2020))
            mem.append([str(i + 2), q.name, fmt_date(q.dob), rng.choice(("Vợ", "Chồng", "Con", "Mẹ"))])
        s.table([s.x0, s.x0 + 120, s.x0 + 1000, s.x0 + 1400, s.x1], mem, center_cols=(0, 2))
    s.para("Giấy xác nhận có giá trị 30 ngày kể từ ngày cấp.", italic=True, first_indent=60)
    s.y += s.lh * 0.4
    s.signature_block(s.x0 + 1450, ["TRƯỞNG CÔNG AN"], make_name(rng, "Nam"),
                      seal_text=f"{police} * {ctx.office.province.upper()} *")
    f["issue_date"] = issue.isoformat()
    return RenderedDocument("residence_confirmation", layout, [s.c], f)


def render_land_use_certificate(ctx: Ctx, layout: str) -> RenderedDocument:
    """A page of a land-use-right certificate (sổ đỏ / sổ hồng)."""
    rng = ctx.rng
    p = ctx.person("applicant")
    land = random_address(rng, street=rng.random() < 0.6, new_style=layout == "b")
    area_x10 = rng.randint(400, 4000)
    area = f"{area_x10 / 10:.1f}".rstrip("0").rstrip(".")
    area_print = area.replace(".", ",")
    serial = f"{rng.choice(('CS', 'BK', 'CH', 'DA', 'CY'))} {rng.randint(0, 999999):06d}"
    if layout == "b":
        serial = f"{rng.choice(('AA', 'AB'))} {rng.randint(0, 99999999):08d}"
    s = Sheet(ctx, size_pt=12.5)
    s.c.background = (253, 240, 240) if layout == "a" else (255, 250, 240)
    s.c.rect((90, 90, s.c.width - 90, s.c.height - 90), outline=(200, 60, 70), width=14)
    s.c.rect((120, 120, s.c.width - 120, s.c.height - 120), outline=(200, 60, 70), width=4)
    s.y += 60
    s.center("CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", bold=True)
    s.center("Độc lập - Tự do - Hạnh phúc", bold=True)
    s.y += s.lh * 0.5
    s.center("GIẤY CHỨNG NHẬN", bold=True, scale=1.6, gap=1.3)
    if layout == "a":
        s.center("QUYỀN SỬ DỤNG ĐẤT, QUYỀN SỞ HỮU NHÀ Ở VÀ TÀI SẢN KHÁC GẮN LIỀN VỚI ĐẤT", bold=True)
    else:
        s.center("QUYỀN SỬ DỤNG ĐẤT, QUYỀN SỞ HỮU TÀI SẢN GẮN LIỀN VỚI ĐẤT", bold=True)
    s.y += s.lh * 0.5
    s.para("I. Người sử dụng đất, chủ sở hữu nhà ở và tài sản khác gắn liền với đất", bold=True)
    title = "Ông" if p.sex == "Nam" else "Bà"
    f: dict[str, str] = {}
    with s.c.text_line():
        f["owner_name"] = s.field(f"{title}:", p.name.upper(), bold_value=True, x1=s.x0 + 1250, advance=False)
        s.field("Năm sinh:", str(p.dob.year), x0=s.x0 + 1280)
    f["owner_id"] = p.citizen_id
    s.field("CCCD số:", p.citizen_id)
    s.field("Địa chỉ thường trú:", p.residence.text)
    s.y += s.lh * 0.3
    s.para("II. Thửa đất, nhà ở và tài sản khác gắn liền với đất", bold=True)
    s.para("1. Thửa đất:")
    parcel, sheet = str(rng.randint(1, 999)), str(rng.randint(1, 80))
    with s.c.text_line():
        s.field("a) Thửa đất số:", parcel, x1=s.x0 + 800, advance=False)
        s.field("tờ bản đồ số:", sheet, x0=s.x0 + 830)
    f["parcel_number"], f["map_sheet_number"] = parcel, sheet
    f["land_address"] = s.field("b) Địa chỉ:", land.text)
    s.field("c) Diện tích:", f"{area_print} m², (bằng chữ: {_area_words(area)})")
    f["area_m2"] = area
    s.field("d) Hình thức sử dụng:", "Sử dụng riêng")
    purpose = rng.choice(LAND_PURPOSES)
    f["land_use_purpose"] = s.field("đ) Mục đích sử dụng:", purpose)
    s.field("e) Thời hạn sử dụng:", "Lâu dài" if purpose.startswith("Đất ở") else "Đến ngày 15/10/2063")
    s.field("g) Nguồn gốc sử dụng:", rng.choice(("Nhà nước giao đất có thu tiền sử dụng đất",
                                                  "Nhận chuyển nhượng đất được Công nhận QSDĐ như giao đất có thu tiền sử dụng đất")))
    s.para("2. Nhà ở: -/-")
    s.para("3. Ghi chú: -/-")
    s.y += s.lh * 0.3
    d = ctx.today - timedelta(days=rng.randint(200, 4000))
    prov = ctx.office.province.upper()
    s.signature_block(s.x0 + 1400, [f"TM. ỦY BAN NHÂN DÂN {prov}" if layout == "a" else "SỞ TÀI NGUYÊN VÀ MÔI TRƯỜNG",
                                    "KT. CHỦ TỊCH" if layout == "a" else "KT. GIÁM ĐỐC",
                                    "PHÓ CHỦ TỊCH" if layout == "a" else "PHÓ GIÁM ĐỐC"],
                      make_name(rng, "Nam"), date_line=f"{ctx.office.place}, {fmt_date_words(d)}",
                      seal_text=f"ỦY BAN NHÂN DÂN * {prov} *")
    s.c.text(s.x0 + 40, s.c.height - 260, serial, s.font(bold=True, scale=1.5), fill=(200, 30, 40))
    f["certificate_serial"] = serial
    return RenderedDocument("land_use_certificate", layout, [s.c], f)


def _area_words(area: str) -> str:
    from .data import number_words

    whole, _, frac = area.partition(".")
    text = number_words(int(whole))
    if frac:
        text += " phẩy " + number_words(int(frac))
    return text + " mét vuông"


def _enterprise_code(rng) -> str:  # type: ignore[no-untyped-def]
    weights = (31, 29, 23, 19, 17, 13, 7, 5, 3)
    while True:
        head = rng.choice(("01", "03", "04", "02", "05", "08", "23", "31", "36", "37", "40", "42"))
        body = head + f"{rng.randint(0, 9999999):07d}"
        check = 10 - sum(int(d) * w for d, w in zip(body, weights, strict=True)) % 11
        if check < 10:
            return body + str(check)


def render_enterprise_registration(ctx: Ctx, layout: str) -> RenderedDocument:
    """Giấy chứng nhận đăng ký doanh nghiệp."""
    rng = ctx.rng
    p = ctx.person("applicant", born=(1965, 1998))
    code = _enterprise_code(rng)
    kind = rng.choice(COMPANY_KINDS)
    name = f"{kind} {rng.choice(COMPANY_TRADES)} {rng.choice(COMPANY_NAMES)}"
    capital = rng.choice((5, 10, 20, 50, 100, 500, 1000, 1500, 2000, 5000)) * 1_000_000
    first = ctx.today - timedelta(days=rng.randint(30, 4000))
    address = random_address(rng, new_style=layout == "b")
    s = Sheet(ctx)
    prov = ctx.office.province.upper()
    left = [f"SỞ KẾ HOẠCH VÀ ĐẦU TƯ {prov}" if layout == "a" else f"SỞ TÀI CHÍNH {prov}",
            "PHÒNG ĐĂNG KÝ KINH DOANH"]
    s.national_header(left)
    s.title("GIẤY CHỨNG NHẬN ĐĂNG KÝ DOANH NGHIỆP",
            sub={"CÔNG TY TNHH": "CÔNG TY TRÁCH NHIỆM HỮU HẠN HAI THÀNH VIÊN TRỞ LÊN",
                 "CÔNG TY CỔ PHẦN": "CÔNG TY CỔ PHẦN",
                 "CÔNG TY TNHH MỘT THÀNH VIÊN": "CÔNG TY TRÁCH NHIỆM HỮU HẠN MỘT THÀNH VIÊN"}[kind])
    f: dict[str, str] = {}
    f["enterprise_code"] = s.field("Mã số doanh nghiệp:", code, bold_value=True)
    s.field("Đăng ký lần đầu:", fmt_date_words(first))
    f["first_registration_date"] = first.isoformat()
    if layout == "b":
        s.field("Đăng ký thay đổi lần thứ:", f"{rng.randint(1, 5)}, {fmt_date_words(ctx.today - timedelta(days=rng.randint(1, 20)))}")
    s.para("1. Tên công ty", bold=True)
    f["enterprise_name"] = s.field("Tên công ty viết bằng tiếng Việt:", name, bold_value=True)
    s.field("Tên công ty viết tắt:", name.split()[-2] + " " + name.split()[-1] + " CO.")
    s.para("2. Địa chỉ trụ sở chính", bold=True)
    f["head_office_address"] = s.field("Địa chỉ:", address.text)
    s.field("Điện thoại:", "0" + str(rng.choice((24, 28, 236))) + f"{rng.randint(1000000, 9999999)}")
    s.para("3. Vốn điều lệ", bold=True)
    s.field("Vốn điều lệ:", f"{capital:,}".replace(",", ".") + " đồng")
    s.field("Bằng chữ:", money_words(capital))
    f["charter_capital"] = str(capital)
    s.para("4. Người đại diện theo pháp luật của công ty", bold=True)
    with s.c.text_line():
        f["legal_representative"] = s.field("* Họ và tên:", p.name.upper(), bold_value=True,
                                             x1=s.x0 + 1300, advance=False)
        s.field("Giới tính:", p.sex, x0=s.x0 + 1330)
    s.field("Chức danh:", rng.choice(("Giám đốc", "Tổng giám đốc", "Chủ tịch Hội đồng thành viên")))
    s.fields_row([("Sinh ngày:", fmt_date(p.dob)), ("Dân tộc:", p.ethnicity), ("Quốc tịch:", "Việt Nam")],
                 [0.4, 0.27, 0.33])
    s.field("Số định danh cá nhân:", p.citizen_id)
    f["representative_id"] = p.citizen_id
    s.field("Địa chỉ thường trú:", p.residence.text)
    s.y += s.lh * 0.5
    s.signature_block(s.x0 + 1450, ["TRƯỞNG PHÒNG"], make_name(rng, rng.choice(("Nam", "Nữ"))),
                      seal_text=f"PHÒNG ĐĂNG KÝ KINH DOANH * {prov} *")
    return RenderedDocument("enterprise_registration", layout, [s.c], f)


SUBMITTED = {
    "Đăng ký khai sinh": [("Tờ khai đăng ký khai sinh", "Bản chính"), ("Giấy chứng sinh", "Bản chính"),
                          ("Căn cước công dân của người yêu cầu", "Bản sao"),
                          ("Giấy chứng nhận kết hôn của cha, mẹ", "Bản sao")],
    "Đăng ký kết hôn": [("Tờ khai đăng ký kết hôn", "Bản chính"),
                        ("Giấy xác nhận tình trạng hôn nhân", "Bản chính"),
                        ("Căn cước công dân của hai bên", "Bản sao")],
    "Cấp bản sao trích lục hộ tịch": [("Đơn đề nghị cấp bản sao trích lục hộ tịch", "Bản chính"),
                                      ("Căn cước công dân", "Bản sao")],
    "Đăng ký thường trú": [("Tờ khai thay đổi thông tin cư trú", "Bản chính"),
                           ("Giấy tờ chứng minh chỗ ở hợp pháp", "Bản sao"),
                           ("Căn cước công dân", "Bản sao")],
}


def render_receipt_appointment(ctx: Ctx, layout: str, procedure: str | None = None) -> RenderedDocument:
    """Giấy tiếp nhận hồ sơ và hẹn trả kết quả, with the list of documents handed in."""
    rng = ctx.rng
    p = ctx.person("applicant")
    procedure = procedure or ctx.procedure or rng.choice(PROCEDURES)
    received = ctx.today
    appoint = received + timedelta(days=rng.choice((1, 3, 5, 7, 10, 15)))
    while appoint.weekday() >= 5:
        appoint += timedelta(days=1)
    code = (f"000.{rng.randint(0, 40):02d}.{rng.randint(1, 40):02d}.H{rng.randint(1, 63):02d}-"
            f"{received:%y%m%d}-{rng.randint(1, 9999):04d}")
    phone = rng.choice(("09", "03", "08", "07")) + f"{rng.randint(0, 99999999):08d}"
    s = Sheet(ctx, size_pt=12.5)
    codes = _receipt_code(s, code)
    left = (["ỦY BAN NHÂN DÂN", ctx.office.ward_upper, "BỘ PHẬN MỘT CỬA"] if layout == "a"
            else ["UBND " + ctx.office.ward_upper, "TRUNG TÂM PHỤC VỤ HÀNH CHÍNH CÔNG"])
    s.national_header(left, date_line=office_date_line(ctx, received))
    s.title("GIẤY TIẾP NHẬN HỒ SƠ VÀ HẸN TRẢ KẾT QUẢ")
    f: dict[str, str] = {}
    f["dossier_code"] = s.field("Mã hồ sơ:", code, bold_value=True)
    s.para(f"Bộ phận tiếp nhận và trả kết quả {ctx.office.ward}", first_indent=0)
    f["applicant_name"] = s.field("Tiếp nhận hồ sơ của:", p.name, bold_value=True)
    f["applicant_id"] = p.citizen_id
    s.field("Số CCCD/Định danh cá nhân:", p.citizen_id)
    s.field("Địa chỉ:", p.residence.text)
    f["phone"] = s.field("Số điện thoại:", phone)
    f["procedure_name"] = s.field("Nội dung yêu cầu giải quyết:", procedure, bold_value=True)
    s.para("1. Thành phần hồ sơ nộp gồm:")
    docs = SUBMITTED.get(procedure, [("Đơn đề nghị", "Bản chính"), ("Căn cước công dân", "Bản sao")])
    rows = [["TT", "Tên giấy tờ", "Hình thức", "Số lượng"]]
    rows += [[str(i + 1), n, form, "01"] for i, (n, form) in enumerate(docs)]
    s.table([s.x0, s.x0 + 110, s.x0 + 1250, s.x0 + 1650, s.x1], rows, center_cols=(0, 2, 3))
    s.field("2. Số lượng hồ sơ:", "01 (bộ)")
    s.field("3. Thời gian giải quyết hồ sơ theo quy định là:", f"{(appoint - received).days:02d} ngày")
    f["received_date"] = received.isoformat()
    f["appointment_date"] = appoint.isoformat()
    s.field("4. Thời gian nhận hồ sơ:", f"{rng.randint(7, 11):02d} giờ {rng.choice((0, 15, 30, 45)):02d} phút, "
                                         f"ngày {fmt_date(received)}")
    s.field("5. Thời gian trả kết quả giải quyết hồ sơ:", f"{rng.choice((8, 9, 14, 15)):02d} giờ 00 phút, "
                                                           f"ngày {fmt_date(appoint)}")
    s.field("6. Đăng ký nhận kết quả tại:", rng.choice(("Bộ phận tiếp nhận và trả kết quả",
                                                          "Dịch vụ bưu chính công ích")))
    s.y += s.lh * 0.5
    y = s.y
    with s.c.text_line():
        s.c.text(s.x0 + 400, y, "NGƯỜI NỘP HỒ SƠ", s.font(bold=True), align="center")
        s.c.text(s.x1 - 450, y, "NGƯỜI TIẾP NHẬN HỒ SƠ", s.font(bold=True), align="center")
    y += s.lh
    with s.c.text_line():
        s.c.text(s.x0 + 400, y, "(Ký và ghi rõ họ tên)", s.font(italic=True, scale=0.9), align="center")
        s.c.text(s.x1 - 450, y, "(Ký và ghi rõ họ tên)", s.font(italic=True, scale=0.9), align="center")
    from . import artwork

    for cx in (s.x0 + 400, s.x1 - 450):
        g = artwork.signature(rng)
        s.c.image(g, cx - g.width / 2, y + s.lh * 0.6)
    y += s.lh * 4.2
    with s.c.text_line():
        s.c.text(s.x0 + 400, y, p.name, s.font(bold=True), align="center")
        s.c.text(s.x1 - 450, y, make_name(rng, rng.choice(("Nam", "Nữ"))), s.font(bold=True), align="center")
    return RenderedDocument("receipt_appointment", layout, [s.c], f, codes)


def _receipt_code(s: Sheet, code: str) -> dict[str, str]:
    """Most receipts print the dossier code as a Code 128 barcode or a QR code in the top
    margin, for the counter's scanner. Drawn from a generator of its own, so the rest of the
    receipt is the same with or without it."""
    import random

    from . import artwork

    roll = random.Random(f"receipt|{code}").random()
    if roll < 0.25:
        return {}
    if roll < 0.65:
        img = artwork.code128(code, 760, 110)
        kind = "barcode"
    else:
        img = artwork.qr_code(code, 170)
        kind = "qr"
    s.c.image(img, s.x1 - img.width, 45)
    return {kind: code}


SCOPES = (
    "Bên B được thay mặt Bên A liên hệ với cơ quan có thẩm quyền để nộp hồ sơ đăng ký khai sinh cho con "
    "của Bên A, nhận kết quả và ký các giấy tờ liên quan.",
    "Bên B được thay mặt Bên A thực hiện thủ tục cấp bản sao trích lục hộ tịch, nộp lệ phí và nhận kết quả.",
    "Bên B được thay mặt Bên A thực hiện thủ tục đăng ký biến động quyền sử dụng đất tại Văn phòng đăng ký "
    "đất đai, ký các giấy tờ và nhận Giấy chứng nhận.",
    "Bên B được thay mặt Bên A thực hiện thủ tục đăng ký doanh nghiệp, nộp hồ sơ và nhận kết quả tại "
    "Phòng Đăng ký kinh doanh.",
)


def render_power_of_attorney(ctx: Ctx, layout: str) -> RenderedDocument:
    """Giấy ủy quyền between two individuals."""
    rng = ctx.rng
    a = ctx.person("applicant")
    b = ctx.person("grantee")
    d = ctx.today - timedelta(days=rng.randint(0, 20))
    s = Sheet(ctx)
    s.national_header(date_line=None)
    s.title("GIẤY ỦY QUYỀN", sub="(Dành cho cá nhân)" if layout == "a" else None)
    s.para("- Căn cứ Bộ luật Dân sự nước Cộng hòa xã hội chủ nghĩa Việt Nam năm 2015;", italic=True)
    s.para(f"Hôm nay, {fmt_date_words(d)}, tại {ctx.office.ward}, {ctx.office.province}, chúng tôi gồm:",
           first_indent=60)
    f: dict[str, str] = {"date": d.isoformat()}
    for head, p, key in (("I. BÊN ỦY QUYỀN (Bên A):", a, "grantor"), ("II. BÊN ĐƯỢC ỦY QUYỀN (Bên B):", b, "grantee")):
        s.para(head, bold=True)
        f[f"{key}_name"] = s.field("Họ và tên:", p.name.upper() if layout == "b" else p.name, bold_value=True)
        s.field("Ngày sinh:", fmt_date(p.dob))
        s.field("Số CCCD:", p.citizen_id)
        f[f"{key}_id"] = p.citizen_id
        s.field("Địa chỉ thường trú:", p.residence.text)
    s.para("III. NỘI DUNG ỦY QUYỀN:", bold=True)
    scope = rng.choice(SCOPES)
    s.para(scope, first_indent=60)
    f["scope"] = scope
    s.para("IV. THỜI HẠN ỦY QUYỀN:", bold=True)
    s.para("Kể từ ngày ký đến khi hoàn thành công việc được ủy quyền.", first_indent=60)
    s.para("Bên A chịu trách nhiệm trước pháp luật về mọi công việc do Bên B thực hiện trong phạm vi ủy "
           "quyền nêu trên.", first_indent=60)
    s.y += s.lh * 0.5
    y = s.y
    with s.c.text_line():
        s.c.text(s.x0 + 400, y, "BÊN ỦY QUYỀN", s.font(bold=True), align="center")
        s.c.text(s.x1 - 450, y, "BÊN ĐƯỢC ỦY QUYỀN", s.font(bold=True), align="center")
    y += s.lh
    with s.c.text_line():
        s.c.text(s.x0 + 400, y, "(Ký, ghi rõ họ tên)", s.font(italic=True, scale=0.9), align="center")
        s.c.text(s.x1 - 450, y, "(Ký, ghi rõ họ tên)", s.font(italic=True, scale=0.9), align="center")
    from . import artwork

    for cx in (s.x0 + 400, s.x1 - 450):
        g = artwork.signature(rng)
        s.c.image(g, cx - g.width / 2, y + s.lh * 0.6)
    y += s.lh * 4.2
    with s.c.text_line():
        s.c.text(s.x0 + 400, y, a.name, s.font(bold=True), align="center")
        s.c.text(s.x1 - 450, y, b.name, s.font(bold=True), align="center")
    return RenderedDocument("power_of_attorney", layout, [s.c], f)


SUBJECTS = ("Cấp bản sao trích lục khai sinh", "Xác nhận thông tin về cư trú", "Đăng ký thường trú",
            "Cấp Giấy xác nhận tình trạng hôn nhân", "Chứng thực chữ ký", "Đính chính thông tin hộ tịch")


def render_application_letter(ctx: Ctx, layout: str) -> RenderedDocument:
    """Generic Đơn đề nghị addressed to the local People's Committee."""
    rng = ctx.rng
    p = ctx.person("applicant")
    d = ctx.today - timedelta(days=rng.randint(0, 5))
    subject = rng.choice(SUBJECTS)
    s = Sheet(ctx)
    s.national_header(date_line=office_date_line(ctx, d) if layout == "b" else None)
    s.title("ĐƠN ĐỀ NGHỊ")
    f: dict[str, str] = {}
    with s.c.text_line():
        e = s.c.text((s.x0 + s.x1) / 2 - 500, s.y, "Về việc:", s.font(italic=True))
        s.c.text(e + 20, s.y, subject, s.font(italic=True, bold=True))
    s.y += s.lh * 1.2
    f["subject"] = subject
    s.field("Kính gửi:", ctx.office.ubnd, label_bold=True)
    f["applicant_name"] = s.field("Tôi tên là:", p.name, bold_value=True)
    s.field("Sinh ngày:", fmt_date(p.dob))
    f["date_of_birth"] = p.dob.isoformat()
    s.field("Số CCCD:", p.citizen_id)
    f["citizen_id"] = p.citizen_id
    f["address"] = s.field("Địa chỉ thường trú:", p.residence.text)
    s.field("Số điện thoại:", "09" + f"{rng.randint(0, 99999999):08d}")
    s.para(f"Nay tôi làm đơn này kính đề nghị {ctx.office.ubnd} xem xét, giải quyết việc "
           f"{subject[0].lower() + subject[1:]} cho tôi theo quy định.", first_indent=60)
    s.para("Tôi xin cam đoan những nội dung trên là đúng sự thật và chịu trách nhiệm trước pháp luật về "
           "lời khai của mình.", first_indent=60)
    s.para("Trân trọng cảm ơn!", first_indent=60)
    s.y += s.lh * 0.4
    f["date"] = d.isoformat()
    s.signature_block(s.x0 + 1450, ["Người làm đơn"], p.name, note="(Ký và ghi rõ họ tên)",
                      date_line=None if layout == "b" else office_date_line(ctx, d))
    return RenderedDocument("application_letter", layout, [s.c], f)
