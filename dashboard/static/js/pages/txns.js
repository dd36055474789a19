// Transactions: open and parked transactions of every topic with their
// age, checks, producer group and messages; an operator commits or rolls
// one back (Mq-Txn-By: operator).
import { get, post, enc, qs } from "../api.js";
import { h, show, table, errorBox, fmtAge, fmtTime, button, badge } from "../ui.js";

export function render(view, args) {
  const topic = args[0] || "";
  const list = h("div", { id: "txns-list" });
  const detail = h("div", { id: "txn-detail" });
  const out = h("div", { id: "txn-action-out" });
  show(view, h("h2", {}, "Transactions", topic ? " of " + topic : ""), h("p", { class: "muted" }, "Open (pending or parked) transactions; parked ones are checked no more and wait for an operator."), out, list, detail);
  const end = (t, how) => button(how === "commit" ? "Commit" : "Roll back", async () => {
    const r = await post(`txns/${enc(t.topic)}/${enc(t.txid)}/${how}`);
    load(true);
    return r;
  }, { out, class: how === "commit" ? null : "danger", action: `${how}-${t.txid}`, confirm: (how === "commit" ? "Commit " : "Roll back ") + t.txid + "?",
    done: (r) => `${r.txid}: ${r.state}${r.duplicate ? " (already)" : ""}, ${r.messages} message(s)` });
  const showDetail = async (t) => {
    try {
      const d = await get(`txns/${enc(t.topic)}/${enc(t.txid)}`);
      show(detail, h("h3", {}, "Transaction ", d.txid, " of ", d.topic), h("p", {}, `${d.state} · producer group ${d.group || ""} · ${d.checks} checks · prepared ${fmtTime(d.prepared_at)}`),
        table([
          { title: "Part", value: (m) => m.part },
          { title: "Key", value: (m) => m.key || "" },
          { title: "Tag", value: (m) => m.tag || "" },
          { title: "Size", num: true, value: (m) => m.size },
          { title: "Headers", value: (m) => Object.entries(m.headers || {}).map(([k, v]) => `${k}: ${v.join(", ")}`).join("; ") },
        ], d.messages || [], { id: "txn-messages" }));
    } catch (e) { show(detail, errorBox(e)); }
  };
  const load = async (fresh) => {
    try {
      const l = await get("txns" + qs({ topic, fresh: fresh ? 1 : "" }));
      show(list, table([
        { title: "Topic", value: (t) => t.topic },
        { title: "Transaction", value: (t) => h("a", { href: "#", onclick: (e) => { e.preventDefault(); showDetail(t); } }, t.txid) },
        { title: "State", value: (t) => badge(t.state, t.state === "PARKED" ? "bad" : "warn") },
        { title: "Age", num: true, value: (t) => fmtAge(t.age_ms) },
        { title: "Checks", num: true, value: (t) => t.checks },
        { title: "Producer group", value: (t) => t.group },
        { title: "Messages", num: true, value: (t) => t.messages },
        { title: "", value: (t) => [end(t, "commit"), " ", end(t, "rollback")] },
      ], l.transactions, { id: "txns-table" }), l.truncated ? h("p", { class: "muted" }, "more than listed") : null);
    } catch (e) { show(list, errorBox(e)); }
  };
  load(true);
  const timer = setInterval(() => load(false), 3000);
  return () => clearInterval(timer);
}
