// Groups: the list (optionally of one topic), create, and one group's
// config, lag per partition and member, ordered ownership (live), reset
// and delete.
import { get, post, del, enc, qs } from "../api.js";
import { h, show, table, errorBox, fmtInt, fmtTime, link, button, field, input, badge, tile } from "../ui.js";

export function render(view, args) {
  if (args[1]) return renderGroup(view, args[0], args[1]);
  const topic = args[0] || "";
  const list = h("div", { id: "groups-list" });
  const out = h("div", { id: "create-group-out" });
  const f = { topic: input("topic", { id: "new-group-topic", value: topic, placeholder: "topic" }), name: input("name", { id: "new-group-name", placeholder: "group" }),
    mode: h("select", { id: "new-group-mode" }, h("option", {}, "clustering"), h("option", {}, "broadcasting")), ordered: h("input", { type: "checkbox", id: "new-group-ordered" }),
    tags: input("tags", { placeholder: "tags, comma separated" }) };
  const create = button("Create group", async () => {
    const body = { mode: f.mode.value, ordered: f.ordered.checked };
    if (f.tags.value) body.tags = f.tags.value.split(",").map((s) => s.trim());
    const r = await post(`groups/${enc(f.topic.value)}/${enc(f.name.value)}`, body);
    load(true);
    return r;
  }, { out, id: "create-group", done: (r) => (r.created ? "created " : "exists already: ") + r.config.name });
  show(view, h("h2", {}, "Groups", topic ? " of " + topic : ""), list,
    h("h3", {}, "Create a group"), h("div", { class: "row" }, field("Topic", f.topic), field("Name", f.name), field("Mode", f.mode), field("Ordered", f.ordered), field("Tags", f.tags), create), out);
  const load = async (fresh) => {
    try {
      const p = await get("groups" + qs({ topic, fresh: fresh ? 1 : "" }));
      show(list, table([
        { title: "Topic", value: (g) => g.topic },
        { title: "Group", value: (g) => link(`#/groups/${enc(g.topic)}/${enc(g.group)}`, g.group) },
        { title: "Mode", value: (g) => g.mode + (g.ordered ? " · ordered" : "") },
        { title: "Tags", value: (g) => (g.tags || []).join(", ") },
        { title: "Retry ladder", value: (g) => `${g.max_reconsume} × ${g.retry_backoff.join(" ")}` },
        { title: "Lag", num: true, value: (g) => fmtInt(g.lag) },
        { title: "Ack pending", num: true, value: (g) => fmtInt(g.ack_pending) },
        { title: "Redelivered", num: true, value: (g) => fmtInt(g.redelivered) },
        { title: "DLQ", num: true, value: (g) => (g.dlq ? link(`#/dlq/${enc(g.topic)}/${enc(g.group)}`, fmtInt(g.dlq)) : "0") },
        { title: "Live members", num: true, value: (g) => g.members_live },
      ], p.groups, { id: "groups-table" }), p.total > p.groups.length ? h("p", { class: "muted" }, `${p.groups.length} of ${p.total}`) : null);
    } catch (e) { show(list, errorBox(e)); }
  };
  load(false);
  const timer = setInterval(() => load(false), 5000);
  return () => clearInterval(timer);
}

function renderGroup(view, topic, group) {
  const path = `groups/${enc(topic)}/${enc(group)}`;
  const body = h("div", { id: "group-detail" });
  const out = h("div", { id: "group-action-out" });
  const seq = input("seq", { id: "reset-seq", type: "number", min: "1", placeholder: "sequence" });
  const time = input("time", { id: "reset-time", placeholder: "RFC 3339 time" });
  const reset = button("Reset", async () => post(path + "/reset", seq.value ? { seq: +seq.value } : { time: time.value }), { out, id: "reset-group", confirm: "Click again to reset", done: (r) => `reset to ${r.seq}` });
  const remove = button("Delete group", async () => del(path), { out, id: "delete-group", class: "danger", confirm: "Click again to delete " + group, done: () => "deleted" });
  show(view, h("h2", {}, "Group ", group, " of ", link("#/topics/" + enc(topic), topic)), body,
    h("h3", {}, "Reset (to a sequence, or the first message at or after a time) or delete"), h("div", { class: "row" }, field("Sequence", seq), field("or time", time), reset, remove), out);
  const load = async () => {
    let d;
    try { d = await get(path); } catch (e) { show(body, errorBox(e)); return; }
    const st = d.info, c = st.config, lag = d.lag || { partitions: [], members: [] };
    show(body,
      h("p", { id: "group-config" }, `mode ${c.mode}${c.ordered ? " · ordered" : ""} · tags ${(c.tags || []).join(", ") || "none"} · max reconsume ${c.max_reconsume} · retry ${(c.retry_backoff || []).join(" ")} · start ${c.start}`),
      h("div", { class: "tiles" }, tile("Lag", fmtInt(lag.total)), tile("Pending", fmtInt(st.pending)), tile("Ack pending", fmtInt(st.ack_pending)),
        tile("Redelivered", fmtInt(st.redelivered)), tile("DLQ", st.dlq ? link(`#/dlq/${enc(topic)}/${enc(group)}`, fmtInt(st.dlq)) : "0"), tile("Live members", `${st.members_live}/${st.members_total}`)),
      d.lag_error ? errorBox(Object.assign(new Error(d.lag_error.description), d.lag_error)) : null,
      st.partitions ? [h("h3", {}, "Ordered ownership (live)"), table([
        { title: "Partition", num: true, value: (p) => p.partition },
        { title: "Owner", value: (p) => p.owner || badge("free", "warn") },
        { title: "Epoch", num: true, value: (p) => p.epoch },
        { title: "State", value: (p) => [p.revoking ? badge("revoking", "warn") : null, p.suspended ? badge("suspended", "warn") : null, p.stalled ? badge("stalled", "bad") : null] },
        { title: "Pending", num: true, value: (p) => fmtInt(p.pending) },
        { title: "Ack pending", num: true, value: (p) => fmtInt(p.ack_pending) },
        { title: "Waiting pulls", num: true, value: (p) => p.waiting },
      ], st.partitions, { id: "owners-table" })] : null,
      lag.partitions.length ? [h("h3", {}, "Lag per partition"), lagTable(lag.partitions, "lag-table")] : null,
      (lag.members || []).map((m) => [h("h3", {}, `Lag of member ${m.member} (${fmtInt(m.total)})`), lagTable(m.partitions, "lag-" + m.member)]),
      h("h3", {}, "Members"), table([
        { title: "Member", value: (m) => m.member },
        { title: "Live", value: (m) => (m.live ? badge("live", "ok") : badge("gone", "bad")) },
        { title: "Last seen", value: (m) => fmtTime(m.last_seen) },
        { title: "Consumer", value: (m) => m.consumer || "(shared)" },
        { title: "Pending", num: true, value: (m) => (m.consumer ? fmtInt(m.pending) : "") },
        { title: "Ack pending", num: true, value: (m) => (m.consumer ? fmtInt(m.ack_pending) : "") },
        { title: "Redelivered", num: true, value: (m) => (m.consumer ? fmtInt(m.redelivered) : "") },
      ], st.members, { id: "members-table" }));
  };
  load();
  const timer = setInterval(load, 1000);
  return () => clearInterval(timer);
}

function lagTable(rows, id) {
  return table([
    { title: "Partition", num: true, value: (p) => p.partition },
    { title: "Lag", num: true, value: (p) => fmtInt(p.lag) + (p.exact ? "" : " ≤") },
    { title: "Pending", num: true, value: (p) => fmtInt(p.pending) },
    { title: "Ack pending", num: true, value: (p) => fmtInt(p.ack_pending) },
    { title: "Ack floor", num: true, value: (p) => p.ack_floor },
  ], rows, { id });
}

