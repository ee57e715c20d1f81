// What the page works on: the record as the server last sent it, the clerk's decisions not
// stored yet, and the page's own state. Modules read and change it here.
import { $, readJSON } from "./dom.js";

export const CONFIG = readJSON("review-config");
const initial = readJSON("review-state");

export const ctx = {
  state: initial,  // replaced by the server's answer to each save
  readonly: CONFIG.readonly || initial.held_by_other,  // also once the lease is lost
  page: 0,  // the page image shown
  zoom: 1,
  busy: false,  // a call that stores is in flight
  focusedName: null,
  conflicted: false,  // someone else changed the record: nothing more can be stored
};

// Decisions made on the page and not stored yet, by field, in the order they were made
// (the server checks each against those before it, as the page did): the decision sent,
// and the field as the page shows it meanwhile.
export const pending = new Map();

// A field as stored, and as the page shows it: with the clerk's decision not stored yet.
export const stored = (name) => ctx.state.fields.find((f) => f.name === name);
export function field(name) {
  const f = stored(name);
  const p = pending.get(name);
  return p ? Object.assign({}, f, { value: p.value, status: p.status, settled: true,
                                    pending: true }) : f;
}
export const input = (name) => $(`input-${name}`);

export function nextUnresolved(after) {
  const names = ctx.state.fields.map((f) => f.name);
  const start = after ? names.indexOf(after) + 1 : 0;
  for (let k = 0; k < names.length; k++) {
    const f = field(names[(start + k) % names.length]);
    if (!f.settled) return f.name;
  }
  return null;
}

export function unresolvedCount() {
  return ctx.state.fields.filter((f) => !field(f.name).settled).length;
}
