// The clerk's hold on the document (a lease) is renewed while the page is open, a third of
// its length apart; a lost lease makes the page read-only.
import { banner, T } from "./messages.js";
import { CONFIG, ctx } from "./state.js";
import { post } from "./api.js";

export function keepLease() {
  const every = Math.max(5, Math.floor(CONFIG.lease_seconds / 3)) * 1000;
  setInterval(async () => {
    const r = await post(`/review/${ctx.state.record_id}/lease`, {});
    if (r.status === 409) { ctx.readonly = true; banner(T.lease_lost, true); }
  }, every);
}
