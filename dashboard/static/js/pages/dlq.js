// Dead letters: groups with dead letters; per group list, show (text,
// JSON, hex), replay selected or all at a rate, purge, NDJSON export.
import { get, post, enc, qs } from "../api.js";
import { h, show, table, errorBox, fmtInt, fmtTime, link, button, field, input, bodyView, okBox } from "../ui.js";

export function render(view, args) {
  if (args[1]) return renderGroup(view, args[0], args[1]);
  const list = h("div", { id: "dlq-groups" });
  show(view, h("h2", {}, "Dead letters"), list);
  get("groups").then((p) => show(list, table([
    { title: "Topic", value: (g) => g.topic },
    { title: "Group", value: (g) => link(`#/dlq/${enc(g.topic)}/${enc(g.group)}`, g.group) },
    { title: "Dead letters", num: true, value: (g) => fmtInt(g.dlq) },
  ], p.groups.filter((g) => g.dlq > 0), { id: "dlq-groups-table" })), (e) => show(list, errorBox(e)));
}

function renderGroup(view, topic, group) {
  const path = `dlq/${enc(topic)}/${enc(group)}`;
  const list = h("div", { id: "dlq-list" });
  const one = h("div", { id: "dlq-show" });
  const out = h("div", { id: "dlq-out" });
  const rate = input("rate", { id: "replay-rate", type: "number", value: "100", min: "1" });
  const selected = new Set();
  let from = 0, stop = false;
  const replaySel = button("Replay selected", async () => {
    const r = await post(path + "/replay", { seqs: [...selected] });
    selected.clear();
    load();
    return r;
  }, { out, id: "replay-selected", done: (r) => `replayed ${r.replayed}` + (r.failed ? `, ${r.failed.length} failed: ` + r.failed.map((f) => `${f.seq}: ${f.error.description}`).join("; ") : "") });
  const replayAll = button("Replay all", async () => {
    stop = false;
    let total = 0;
    for (;;) {
      const r = await post(path + "/replay", { limit: Math.max(1, +rate.value) });
      total += r.replayed;
      show(out, okBox(`replayed ${total}, ${r.remaining} remaining`));
      if (!r.remaining || !r.replayed || stop) break;
      await new Promise((res) => setTimeout(res, 1000));
    }
    load();
    return { replayed: total };
  }, { out, id: "replay-all", confirm: "Click again to replay all", done: (r) => `replayed ${r.replayed}` });
  const stopBtn = h("button", { class: "secondary", onclick: () => { stop = true; } }, "Stop");
  const purge = button("Purge", async () => { const r = await post(path + "/purge"); load(); return r; }, { out, id: "purge-dlq", class: "danger", confirm: "Click again to purge", done: (r) => `purged ${r.purged}` });
  const exp = h("a", { href: "/ui/api/" + path + "/export", id: "export-dlq", download: `${topic}-${group}-dlq.ndjson` }, "Export NDJSON");
  show(view, h("h2", {}, "Dead letters of ", group, " (", topic, ")"),
    h("div", { class: "row" }, replaySel, field("Rate per second", rate), replayAll, stopBtn, purge, exp), out, list, one);
  const showOne = async (seq) => {
    try {
      const d = await get(`${path}/${seq}`);
      show(one, h("h3", {}, "Dead letter ", seq), h("p", {}, `${d.subject} · seq ${d.seq} · ${d.attempts} attempts · dead at ${fmtTime(d.dead_at)} · ${d.last_error}`),
        table([{ title: "Header", value: (kv) => kv[0] }, { title: "Value", value: (kv) => kv[1].join(", ") }], Object.entries(d.headers || {}), { id: "dlq-headers" }),
        bodyView(d.data));
    } catch (e) { show(one, errorBox(e)); }
  };
  const load = async () => {
    try {
      const l = await get(path + qs({ from, limit: 100 }));
      show(list, h("p", {}, `${fmtInt(l.total)} dead letters`), table([
        { title: "", value: (d) => h("input", { type: "checkbox", "data-seq": d.dlq_seq, checked: selected.has(d.dlq_seq), onchange: (e) => (e.target.checked ? selected.add(d.dlq_seq) : selected.delete(d.dlq_seq)) }) },
        { title: "DLQ seq", num: true, value: (d) => h("a", { href: "#", "data-show": d.dlq_seq, onclick: (e) => { e.preventDefault(); showOne(d.dlq_seq); } }, d.dlq_seq) },
        { title: "Key", value: (d) => d.key },
        { title: "Tag", value: (d) => d.tag || "" },
        { title: "Orig seq", num: true, value: (d) => d.seq },
        { title: "Attempts", num: true, value: (d) => d.attempts },
        { title: "Dead at", value: (d) => fmtTime(d.dead_at) },
        { title: "Error", value: (d) => d.last_error },
      ], l.messages, { id: "dlq-table" }),
      h("div", { class: "row" }, from ? h("button", { class: "secondary", onclick: () => { from = 0; load(); } }, "First page") : null,
        l.next ? h("button", { class: "secondary", id: "dlq-next", onclick: () => { from = l.next; load(); } }, "Next page") : null));
    } catch (e) { show(list, errorBox(e)); }
  };
  load();
}
