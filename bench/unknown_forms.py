"""Identity fields on forms of kinds the project has no definition for.

    python -m bench.unknown_forms [--seed 2] [--forms 24] [--workers 2] [--misses]

Every Vietnamese form carries the same personal-data block ("Họ, chữ đệm và tên", "Ngày,
tháng, năm sinh", "Số định danh cá nhân", "Nơi thường trú"...), whatever the form is for. This
renders forms of four kinds none of the document types describes (a job application, a health
declaration, a school enrolment form, a land dispute petition), each with that block in a
layout, label wording and order drawn from the seed, degrades some of them as a scanner
would, reads them with the pipeline's OCR and extraction, and scores the person's name, date
of birth, ID number and residence exact. A form a definition does match by its keywords (a
petition is an "đơn đề nghị") counts through that definition's own fields for the same data.

Seed 1 is for studying misses while choosing rules; report on another seed. OCR is cached
under ``.dossier/bench/unknown/`` by the page's content, so a rerun after a change to
extraction costs seconds.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from sample_scans.generator.data import Person, fmt_date, make_name, make_person
from sample_scans.generator.degrade import apply_plan, plan_degradations
from sample_scans.generator.fonts import FONT_FAMILIES
from sample_scans.generator.registry import new_ctx
from sample_scans.generator.sheet import Sheet, office_date_line

__all__ = ["IDENTITY", "KINDS", "UnknownForm", "render_form", "identity_values", "main"]

IDENTITY = ("full_name", "date_of_birth", "citizen_id", "residence")
KINDS = ("job_application", "health_declaration", "school_enrolment", "land_dispute_petition")

NAME_LABELS = ("Họ, chữ đệm và tên:", "Họ và tên:", "Họ, chữ đệm, tên:", "Họ tên:", "HỌ VÀ TÊN:")
DOB_LABELS = ("Ngày, tháng, năm sinh:", "Ngày sinh:", "Sinh ngày:")
ID_LABELS = ("Số định danh cá nhân:", "Số CCCD:", "Số căn cước công dân:", "Số căn cước:")
RESIDENCE_LABELS = ("Nơi thường trú:", "Nơi cư trú:", "Địa chỉ thường trú:", "Địa chỉ:")
PHONE_LABELS = ("Số điện thoại:", "Điện thoại:", "Số điện thoại liên hệ:")


@dataclass
class UnknownForm:
    kind: str
    style: str
    page: object  # the rendered Canvas
    truth: dict[str, str]
    degradation: str = "clean"
    labels: list[str] = field(default_factory=list)


@dataclass
class _Item:
    label: str
    value: str
    key: str | None = None  # the identity field it is the truth of


def _items(rng: random.Random, p: Person) -> list[list[_Item]]:
    """The personal-data block as rows of items: one item a row, or two or three side by side
    (name and sex, birth date and ethnicity and nationality, ID and phone)."""
    upper = rng.random() < 0.25
    name = _Item(rng.choice(NAME_LABELS), p.name.upper() if upper else p.name, "full_name")
    sex = _Item("Giới tính:", p.sex)
    dob = _Item(rng.choice(DOB_LABELS), fmt_date(p.dob), "date_of_birth")
    eth = _Item("Dân tộc:", p.ethnicity)
    nat = _Item("Quốc tịch:", "Việt Nam")
    cid = _Item(rng.choice(ID_LABELS), p.citizen_id, "citizen_id")
    phone = _Item(rng.choice(PHONE_LABELS), "09" + f"{rng.randint(0, 99999999):08d}")
    origin = _Item("Quê quán:", p.origin.text)
    res = _Item(rng.choice(RESIDENCE_LABELS), p.residence.text, "residence")
    job = _Item("Nghề nghiệp:", rng.choice(("Giáo viên", "Kỹ sư", "Nông dân", "Kế toán",
                                            "Công nhân", "Lao động tự do")))
    if rng.random() < 0.5:
        rows = [[name, sex], [dob, eth, nat], [cid, phone]]
        middle = [[origin], [res]]
    else:
        rows = [[name], [dob], [sex], [cid]]
        middle = [[origin], [res], [phone]]
    if rng.random() < 0.5:
        middle.append([job])
    rng.shuffle(middle)
    if rng.random() < 0.4:
        # The ID before the birth date, or the residence first of all after the name.
        rest = rows[1:] + middle
        rng.shuffle(rest)
        return [rows[0], *rest]
    return rows + middle


def _block(s: Sheet, rng: random.Random, p: Person, style: str) -> tuple[dict[str, str], list[str]]:
    truth: dict[str, str] = {}
    labels: list[str] = []
    rows = _items(rng, p)
    if style == "table":
        # A ruled table: a label cell and a value cell a row, no colons.
        items = [it for row in rows for it in row]
        s.table([s.x0, s.x0 + 720, s.x1], [[it.label.rstrip(":"), it.value] for it in items],
                header_rows=0, scale=1.0)
        rows = [items]
    for n, row in enumerate([] if style == "table" else rows, 1):
        if style == "numbered":
            row = [_Item(f"{n}. {row[0].label}", row[0].value, row[0].key), *row[1:]]
        if len(row) == 1:
            it = row[0]
            if style == "plain":
                _plain(s, it.label, it.value)
            else:
                s.field(it.label, it.value)
        elif style == "plain":
            _inline(s, [(it.label, it.value) for it in row])
        else:
            widths = {2: [0.62, 0.38], 3: [0.4, 0.3, 0.3]}[len(row)]
            s.fields_row([(it.label, it.value) for it in row], widths)
    for it in (it for row in rows for it in row):
        labels.append(it.label)
        if it.key:
            truth[it.key] = it.value if it.key != "date_of_birth" else p.dob.isoformat()
    return truth, labels


def _plain(s: Sheet, label: str, value: str) -> None:
    """A label and its value with no dotted leader, the value wrapping under the label."""
    lf, vf = s.font(), s.font()
    end = s.c.text(s.x0, s.y, label, lf) + s.fs * 0.4
    parts = s.c.wrap(value, vf, s.x1 - s.x0, first_width=s.x1 - end)
    for i, part in enumerate(parts):
        s.c.text(end if i == 0 else s.x0, s.y, part, vf)
        s.y += s.lh


def _inline(s: Sheet, items: list[tuple[str, str]]) -> None:
    """Several labels and values on one line a few spaces apart, no leaders: "Họ và tên:
    Nguyễn Văn An   Giới tính: Nam"."""
    f = s.font()
    x = s.x0
    with s.c.text_line():
        for label, value in items:
            x = s.c.text(x, s.y, f"{label} {value}", f) + s.fs * s.ctx.rng.choice((0.6, 1.2, 2.5))
    s.y += s.lh


def _job_application(s: Sheet, rng: random.Random, p: Person, style: str):
    company = rng.choice(("Công ty TNHH An Phát", "Công ty Cổ phần Minh Khang",
                          "Công ty TNHH Sao Việt", "Ngân hàng TMCP Đại Nam"))
    position = rng.choice(("Nhân viên kinh doanh", "Kế toán viên", "Nhân viên hành chính",
                           "Kỹ thuật viên"))
    s.national_header()
    s.title(rng.choice(("ĐƠN XIN VIỆC", "ĐƠN ỨNG TUYỂN")))
    s.field("Kính gửi:", f"Ban Giám đốc {company}", label_bold=True)
    s.para(f"Qua thông tin tuyển dụng, tôi được biết {company} đang cần tuyển vị trí "
           f"{position}. Tôi xin trình bày thông tin cá nhân như sau:", first_indent=60)
    truth, labels = _block(s, rng, p, style)
    s.field("Trình độ chuyên môn:", rng.choice(("Cử nhân Kinh tế", "Kỹ sư Cơ khí",
                                                "Cao đẳng Kế toán")))
    s.para("Tôi mong được làm việc tại Quý Công ty và xin hứa hoàn thành tốt mọi nhiệm vụ "
           "được giao.", first_indent=60)
    return truth, labels, "Người viết đơn"


def _health_declaration(s: Sheet, rng: random.Random, p: Person, style: str):
    s.national_header()
    s.title("TỜ KHAI Y TẾ", sub="(Phòng chống dịch bệnh truyền nhiễm)")
    truth, labels = _block(s, rng, p, style)
    s.para("Trong vòng 14 ngày qua, Anh/Chị có thấy xuất hiện dấu hiệu nào sau đây không?")
    rows = [["Triệu chứng", "Có", "Không"]]
    for sym in ("Sốt", "Ho", "Khó thở", "Đau họng"):
        yes = rng.random() < 0.15
        rows.append([sym, "X" if yes else "", "" if yes else "X"])
    s.table([s.x0, s.x0 + 900, s.x0 + 1200, s.x0 + 1500], rows, center_cols=(1, 2))
    s.para("Tôi cam kết những thông tin trên là đúng sự thật.", italic=True, first_indent=60)
    return truth, labels, "Người khai"


def _school_enrolment(s: Sheet, rng: random.Random, p: Person, style: str):
    school = rng.choice(("Trường Trung học phổ thông Nguyễn Du", "Trường Cao đẳng Y tế",
                         "Trường Trung học phổ thông Lê Quý Đôn"))
    s.national_header()
    s.title("ĐƠN XIN NHẬP HỌC")
    s.field("Kính gửi:", f"Ban Giám hiệu {school}", label_bold=True)
    truth, labels = _block(s, rng, p, style)
    s.field("Họ tên cha (mẹ) hoặc người giám hộ:", make_name(rng, rng.choice(("Nam", "Nữ"))))
    s.field("Xin nhập học vào lớp:", rng.choice(("10A1", "10A3", "Điều dưỡng K12")))
    s.para("Em xin hứa chấp hành nghiêm chỉnh nội quy của nhà trường.", first_indent=60)
    return truth, labels, "Người làm đơn"


def _land_dispute_petition(s: Sheet, rng: random.Random, p: Person, style: str):
    other = make_name(rng, rng.choice(("Nam", "Nữ")))
    s.national_header()
    s.title(rng.choice(("ĐƠN YÊU CẦU GIẢI QUYẾT TRANH CHẤP ĐẤT ĐAI",
                        "ĐƠN ĐỀ NGHỊ HÒA GIẢI TRANH CHẤP ĐẤT ĐAI")))
    s.field("Kính gửi:", s.ctx.office.ubnd, label_bold=True)
    s.para("Người yêu cầu:", bold=True)
    truth, labels = _block(s, rng, p, style)
    s.para(f"Người bị yêu cầu: {other}, cư trú tại cùng thôn.")
    s.para(f"Nội dung: gia đình tôi và gia đình {other} có tranh chấp về ranh giới giữa hai "
           f"thửa đất liền kề. Kính mong Ủy ban xem xét, hòa giải theo quy định.",
           first_indent=60)
    return truth, labels, "Người làm đơn"


_RENDER = {"job_application": _job_application, "health_declaration": _health_declaration,
           "school_enrolment": _school_enrolment, "land_dispute_petition": _land_dispute_petition}


def render_form(kind: str, rng: random.Random) -> UnknownForm:
    """One form of ``kind`` with its identity block drawn from ``rng``; truth of the block."""
    family = rng.choice(sorted(FONT_FAMILIES))
    ctx = new_ctx(rng, family)
    born = (2006, 2010) if kind == "school_enrolment" else (1960, 2004)
    p = make_person(rng, born=born)
    style = rng.choice(("leaders", "leaders", "numbered", "plain", "table"))
    s = Sheet(ctx, size_pt=rng.choice((12.0, 12.5, 13.0)), leading=rng.choice((1.45, 1.55)))
    truth, labels, signer = _RENDER[kind](s, rng, p, style)
    s.y += s.lh * 0.4
    d = ctx.today - timedelta(days=rng.randint(0, 5))
    s.signature_block(s.x0 + 1450, [signer], p.name, note="(Ký và ghi rõ họ tên)",
                      date_line=office_date_line(ctx, d))
    return UnknownForm(kind, style, s.c, truth, labels=labels)


def forms(seed: int, count: int) -> list[tuple[UnknownForm, object]]:
    """``count`` forms, the kinds in turn, each with its page image (some scanned lightly)."""
    out = []
    for i in range(count):
        rng = random.Random(seed * 100_003 + i)
        form = render_form(KINDS[i % len(KINDS)], rng)
        plan = plan_degradations(rng, rng.choice(("clean", "light")))
        form.degradation = "+".join(plan.names) or plan.level
        out.append((form, apply_plan(form.page, plan, rng)))
    return out


def _ocr(scans: list, workers: int, cache: Path) -> list:
    import numpy as np

    from models.ocr import PageOCR
    from ocr.loading import LoadedPage
    from ocr.pipeline import OcrOptions, ocr_loaded_page

    def one(scan) -> PageOCR:
        img = np.asarray(scan.image.convert("RGB"))[:, :, ::-1].copy()
        key = hashlib.sha256(img.tobytes()).hexdigest()[:24]
        path = cache / f"{key}.json"
        if path.exists():
            return PageOCR.from_dict(json.loads(path.read_text(encoding="utf-8")))
        page = ocr_loaded_page(LoadedPage(img, scan.dpi, 0), OcrOptions(), index=0).ocr
        cache.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.part")
        tmp.write_text(json.dumps(page.export(), ensure_ascii=False), encoding="utf-8")
        os.replace(tmp, path)
        return page

    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        return list(pool.map(one, scans))


def identity_values(docs, doctypes) -> tuple[str, dict[str, str | None]]:
    """The document type the page was read as, and its identity values: the generic fields of
    a form no definition matched, or the fields of the matched definition that hold the same
    data (``extraction.identity.identity_roles``)."""
    from extraction.identity import identity_roles

    if not docs:
        return "-", dict.fromkeys(IDENTITY)
    doc = docs[0]
    by_id = {d.id: d for d in doctypes}
    roles = identity_roles(by_id[doc.doctype]) if doc.doctype in by_id else \
        {n: n for n in IDENTITY}
    values = {}
    for n in IDENTITY:
        f = doc.field(roles[n]) if n in roles else None
        values[n] = f.value if f is not None else None
    return doc.doctype, values


def run(seed: int, count: int, workers: int, cache: Path, say, misses: bool = False) -> dict:
    from bench.scoring import normalize_value
    from extraction import extract_documents, load_doctypes

    made = forms(seed, count)
    say(f"{len(made)} forms of {len(KINDS)} kinds, seed {seed}; OCR (cached under {cache})")
    pages = _ocr([scan for _, scan in made], workers, cache)
    doctypes = load_doctypes()
    right = total = 0
    per_field = {n: [0, 0] for n in IDENTITY}
    per_kind: dict[str, list[int]] = {}
    read_as: dict[str, int] = {}
    for i, ((form, _), page) in enumerate(zip(made, pages, strict=True)):
        docs = extract_documents([page], doctypes)
        doctype, values = identity_values(docs, doctypes)
        read_as[doctype] = read_as.get(doctype, 0) + 1
        for n in IDENTITY:
            ok = normalize_value(values[n]) == normalize_value(form.truth[n])
            right += ok
            total += 1
            per_field[n][0] += ok
            per_field[n][1] += 1
            k = per_kind.setdefault(form.kind, [0, 0])
            k[0] += ok
            k[1] += 1
            if misses and not ok:
                say(f"  miss #{i} {form.kind}/{form.style}/{form.degradation} as {doctype} {n}: "
                    f"{values[n]!r} (truth {form.truth[n]!r})")
    say(f"identity values exact: {right} of {total} = {right / total:.3f}")
    for n, (r, t) in per_field.items():
        say(f"  {n:15s} {r:3d} of {t:3d}")
    for k, (r, t) in per_kind.items():
        say(f"  {k:22s} {r:3d} of {t:3d}")
    say("  read as: " + ", ".join(f"{k} {v}" for k, v in sorted(read_as.items())))
    return {"right": right, "total": total, "per_field": per_field, "per_kind": per_kind,
            "read_as": read_as}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.unknown_forms", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seed", type=int, default=2, help="1 is the seed to study misses on")
    ap.add_argument("--forms", type=int, default=24)
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--misses", action="store_true", help="list every wrong value")
    ap.add_argument("--data-dir", type=Path, default=Path(".dossier"))
    args = ap.parse_args(argv)
    run(args.seed, args.forms, args.workers, args.data_dir / "bench" / "unknown",
        lambda m: print(m, flush=True), misses=args.misses)
    return 0


if __name__ == "__main__":
    sys.exit(main())
