// Checks as values are typed: the rules of review/validation.py, which the server applies
// again on save. Its limits (years, name joiners, the ID's century table, the kinds of
// several lines) and the province codes come from the server with the page (RULES,
// review-provinces): the script has no copy of them.
import { readJSON } from "./dom.js";
import { CONFIG, field } from "./state.js";

const RULES = CONFIG.rules;
const PROVINCES = new Set(readJSON("review-provinces"));
const MULTI_KINDS = new Set(RULES.multiline_kinds);

// -- values shown vs stored: dates are shown as dd/mm/yyyy, stored ISO ------------------------
export const show = (f, v) => {
  if (v == null) return "";
  const m = f.kind === "date" && /^(\d{4})-(\d{2})-(\d{2})$/.exec(v);
  return m ? `${m[3]}/${m[2]}/${m[1]}` : v;
};

// A value of several lines keeps its line breaks; spaces are made one either way.
export const multiline = (f, raw) => MULTI_KINDS.has(f.kind) || raw.includes("\n");
export function clean(v, several) {
  v = v.normalize("NFC");
  if (!several) return v.replace(/\s+/g, " ").trim();
  return v.split(/\r\n|\r|\n/).map((l) => l.replace(/[^\S\n\r]+/g, " ").trim())
    .filter(Boolean).join("\n");
}

const ISO = /^([0-9]{4})-([0-9]{1,2})-([0-9]{1,2})$/;
const DMY = /^([0-9]{1,2})\s*[/.\-]\s*([0-9]{1,2})\s*[/.\-]\s*([0-9]{4})$/;
const escapeClass = (chars) => chars.replace(/[\]\\^-]/g, "\\$&");
const NAME_WORD = new RegExp(`^\\p{L}+(?:[${escapeClass(RULES.name_joiners)}]\\p{L}+)*$`, "u");

// {y, mo, d}, null when not written as a date, "bad" when no such day exists.
function parseDate(v) {
  let m = ISO.exec(v);
  let y, mo, d;
  if (m) { [y, mo, d] = [+m[1], +m[2], +m[3]]; }
  else {
    m = DMY.exec(v);
    if (!m) return null;
    [d, mo, y] = [+m[1], +m[2], +m[3]];
  }
  // Counted, not Date(): Date maps the years 0-99 onto 1900-1999.
  const leap = y % 4 === 0 && (y % 100 !== 0 || y % 400 === 0);
  const days = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][mo - 1];
  if (y < 1 || !days || d < 1 || d > days) return "bad";
  return { y, mo, d };
}

// The birth year a 12-digit ID encodes (century/sex digit, two digits), or null.
function idYear(digits) {
  const base = /^[0-9]{12}$/.test(digits) ? RULES.centuries[digits[3]] : undefined;
  return base === undefined ? null : base + +digits.slice(4, 6);
}

// The same person's ID (for a birth date) or birth date (for an ID), once it is settled:
// whichever of the two is decided second is checked against the first.
function partner(f) {
  const o = f.pair ? field(f.pair) : null;
  return o && o.settled && o.value ? o.value : null;
}

// The problems' codes (none: valid); the server checks the same again on save.
export function validate(f, raw) {
  const v = clean(raw, multiline(f, raw));
  if (!v) return ["empty"];
  if (f.kind === "citizen_id") {
    const digits = v.replace(/ /g, "");
    if (!/^[0-9]{12}$/.test(digits)) return ["id12"];
    const out = [];
    if (!PROVINCES.has(digits.slice(0, 3))) out.push("province");
    const year = idYear(digits);
    const birth = partner(f);
    if (year === null) out.push("century");
    else if (birth && ISO.test(birth) && +birth.slice(0, 4) !== year) out.push("id_birth");
    return out;
  }
  if (f.kind === "date") {
    const p = parseDate(v);
    if (p === null) return ["date_format"];
    if (p === "bad") return ["date_real"];
    if (p.y < RULES.years[0] || p.y > RULES.years[1]) return ["date_range"];
    const id = partner(f);
    const year = id ? idYear(id) : null;
    return year !== null && p.y !== year ? ["id_birth"] : [];
  }
  if (f.kind === "person_name") {
    const words = v.split(" ");
    if (!words.every((w) => NAME_WORD.test(w))) return ["name_letters"];
    if (words.length < 2) return ["name_words"];
    return [];
  }
  if (["phone", "enterprise_code", "number"].includes(f.kind)) {
    return /^[0-9]+$/.test(v.replace(/[ .]/g, "")) ? [] : ["digits"];
  }
  return [];
}

// A typed value as the server stores it, for the page's own checks of the other fields
// (a date as yyyy-mm-dd, an ID without spaces).
export function storedForm(f, v) {
  if (v == null) return v;
  if (f.kind === "date") {
    const p = parseDate(v);
    if (p && p !== "bad") {
      const two = (n) => String(n).padStart(2, "0");
      return `${String(p.y).padStart(4, "0")}-${two(p.mo)}-${two(p.d)}`;
    }
  }
  if (f.kind === "citizen_id") return v.replace(/ /g, "");
  return v;
}
