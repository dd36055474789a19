// Messages: look up by key, sequence or time range (bounded, paged); a
// message's body, headers and trace per group; resend it.
import { get, post, enc, qs } from "../api.js";
import { h, show, table, errorBox, fmtTime, button, field, input, bodyView, badge } from "../ui.js";

export function render(view, args) {
  const topic = input("topic", { id: "msg-topic", value: args[0] || "", placeholder: "topic" });
  const key = input("key", { id: "msg-key", placeholder: "key" });
  const seq = input("seq", { id: "msg-seq", type: "number", min: "1", placeholder: "from sequence" });
  const start = input("start", { id: "msg-start", placeholder: "from time (RFC 3339)" });
  const end = input("end", { id: "msg-end", placeholder: "to time (RFC 3339)" });
  const limit = input("limit", { id: "msg-limit", type: "number", value: "50", min: "1", max: "1000" });
  const list = h("div", { id: "msg-list" });
  const one = h("div", { id: "msg-detail" });
  let query = null;
  const find = async (next) => {
    query = query && next ? query : { key: key.value, start_seq: key.value ? "" : seq.value, start_time: key.value || seq.value ? "" : start.value, end_time: key.value || seq.value ? "" : end.value, limit: limit.value };
    if (!query.key && !query.start_seq && !query.start_time) query.start_seq = 1;
    try {
      const l = await get(`msgs/${enc(topic.value)}` + qs({ ...query, next: next || "" }));
      show(list, table([
        { title: "Seq", num: true, value: (m) => h("a", { href: "#", "data-seq": m.seq, onclick: (e) => { e.preventDefault(); open(m.seq); } }, m.seq) },
        { title: "Subject", value: (m) => m.subject },
        { title: "Partition", num: true, value: (m) => m.partition },
        { title: "Key", value: (m) => m.key },
        { title: "Tag", value: (m) => m.tag || "" },
        { title: "Time", value: (m) => fmtTime(m.time) },
        { title: "Size", num: true, value: (m) => m.size },
      ], l.messages, { id: "msg-table" }), l.next ? h("button", { class: "secondary", id: "msg-next", onclick: () => find(l.next) }, "Next page") : null);
    } catch (e) { show(list, errorBox(e)); }
  };
  const open = async (n) => {
    try {
      const [m, tr] = await Promise.all([get(`msgs/${enc(topic.value)}/${n}`), get(`msgs/${enc(topic.value)}/${n}/trace`)]);
      const group = input("group", { id: "resend-group", placeholder: "group (optional)" });
      const out = h("div", { id: "resend-out" });
      const resend = button("Resend", () => post(`msgs/${enc(topic.value)}/${n}/resend`, group.value ? { group: group.value } : {}), { out, id: "resend", done: (r) => `resent as ${r.seq}` });
      show(one, h("h3", {}, "Message ", n), h("p", {}, `${m.subject} · partition ${m.partition} · stored ${fmtTime(m.time)} · ${m.size} bytes`),
        table([{ title: "Header", value: (kv) => kv[0] }, { title: "Value", value: (kv) => kv[1].join(", ") }], Object.entries(m.headers || {})),
        m.data_omitted ? h("p", { class: "muted" }, "body too large to show") : bodyView(m.data),
        h("h3", {}, "Trace"), traceTable(tr),
        h("h3", {}, "Resend"), h("p", { class: "muted" }, "Publishes a copy to the topic (every group whose tags select it receives it; Mq-Resend-For names the group)."),
        h("div", { class: "row" }, field("For group", group), resend), out);
    } catch (e) { show(one, errorBox(e)); }
  };
  show(view, h("h2", {}, "Messages"),
    h("div", { class: "row" }, field("Topic", topic), field("Key", key), field("or from sequence", seq), field("or from", start), field("to", end), field("Limit", limit),
      h("button", { id: "msg-find", onclick: () => find(0) }, "Find")), list, one);
  if (args[0] && args[1]) { key.value = args[1]; find(0); }
}

function traceTable(tr) {
  const rows = [];
  for (const g of tr.groups) {
    for (const c of g.consumers.length ? g.consumers : [{ consumer: "", state: "no consumer" }]) rows.push({ g, c });
  }
  return table([
    { title: "Group", value: (r) => r.g.group + ` (${r.g.mode}${r.g.ordered ? ", ordered" : ""})` },
    { title: "Consumer", value: (r) => r.c.consumer + (r.c.member ? ` (${r.c.member})` : "") },
    { title: "State", value: (r) => badge(r.c.state, r.c.state === "acked" ? "ok" : r.c.state === "filtered" ? "" : "warn") },
    { title: "Redelivered", value: (r) => (r.c.redelivered === undefined ? "?" : r.c.redelivered ? "yes" : "no") },
    { title: "Last delivery", value: (r) => fmtTime(r.c.last_delivered) },
    { title: "Last ack", value: (r) => fmtTime(r.c.last_ack) },
    { title: "Dead-lettered", value: (r) => (r.g.dead_lettered ? badge(`DLQ ${r.g.dlq_seq} at ${fmtTime(r.g.dead_at)} after ${r.g.attempts}`, "bad") : "no") },
  ], rows, { id: "trace-table" });
}
