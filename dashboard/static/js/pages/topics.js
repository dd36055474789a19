// Topics: the list, create, and one topic's partitions, update, delete and
// a test message.
import { get, post, put, del, enc, qs } from "../api.js";
import { h, show, table, errorBox, fmtInt, fmtBytes, link, button, field, input } from "../ui.js";

export function render(view, args) {
  if (args[0]) return renderTopic(view, args[0]);
  const list = h("div", { id: "topics-list" });
  const out = h("div", { id: "create-out" });
  const f = { name: input("name", { id: "new-topic-name", placeholder: "orders" }), partitions: input("partitions", { id: "new-topic-partitions", type: "number", value: "4", min: "1" }),
    replicas: input("replicas", { type: "number", value: "1", min: "1" }), max_age: input("max_age", { value: "168h" }) };
  const create = button("Create topic", async () => {
    const r = await post("topics/" + enc(f.name.value), { partitions: +f.partitions.value, replicas: +f.replicas.value, max_age: f.max_age.value });
    load(true);
    return r;
  }, { out, id: "create-topic", done: (r) => (r.created ? "created " : "exists already: ") + r.config.name });
  show(view, h("h2", {}, "Topics"), list,
    h("h3", {}, "Create a topic"), h("div", { class: "row" }, field("Name", f.name), field("Partitions", f.partitions), field("Replicas", f.replicas), field("Max age", f.max_age), create), out);
  const load = async (fresh) => {
    try {
      const p = await get("topics" + qs({ fresh: fresh ? 1 : "" }));
      show(list, table([
        { title: "Topic", value: (t) => link("#/topics/" + enc(t.name), t.name) },
        { title: "Partitions", num: true, value: (t) => t.partitions },
        { title: "Messages", num: true, value: (t) => fmtInt(t.messages) },
        { title: "Bytes", num: true, value: (t) => fmtBytes(t.bytes) },
        { title: "Replicas", num: true, value: (t) => `${t.replicas_current}/${t.replicas}` },
        { title: "Max age", value: (t) => t.max_age },
        { title: "Groups", num: true, value: (t) => t.groups },
        { title: "Delayed", num: true, value: (t) => fmtInt(t.delayed) },
        { title: "Open txns", num: true, value: (t) => fmtInt(t.txn_open) },
        { title: "DLQ", num: true, value: (t) => fmtInt(t.dlq) },
      ], p.topics, { id: "topics-table" }), p.total > p.topics.length ? h("p", { class: "muted" }, `${p.topics.length} of ${p.total}`) : null);
    } catch (e) { show(list, errorBox(e)); }
  };
  load(false);
  const timer = setInterval(() => load(false), 5000);
  return () => clearInterval(timer);
}

function renderTopic(view, name) {
  const info = h("div", { id: "topic-info" });
  const upd = h("div", { id: "update-out" });
  const sendOut = h("div", { id: "send-out" });
  const delOut = h("div", { id: "delete-out" });
  const parts = input("partitions", { id: "update-partitions", type: "number", min: "1" });
  const maxAge = input("max_age", { id: "update-max-age" });
  const force = h("input", { type: "checkbox", id: "update-force" });
  const update = button("Update", async () => {
    const body = {};
    if (parts.value) body.partitions = +parts.value;
    if (maxAge.value) body.max_age = maxAge.value;
    if (force.checked) body.force = true;
    const r = await put("topics/" + enc(name), body);
    load();
    return r;
  }, { out: upd, id: "update-topic", done: (r) => `updated: ${r.config.partitions} partitions, max age ${r.config.max_age}` });
  const remove = button("Delete topic", async () => del("topics/" + enc(name)), { out: delOut, id: "delete-topic", class: "danger", confirm: "Click again to delete " + name, done: (r) => "deleted " + r.deleted });
  show(view, h("h2", {}, "Topic ", name), info,
    h("h3", {}, "Update"), h("div", { class: "row" }, field("Partitions", parts), field("Max age", maxAge), field("Force (despite ordered groups)", force), update), upd,
    h("h3", {}, "Send a test message"), sendForm(name, sendOut), sendOut,
    h("h3", {}, "Delete"), remove, delOut);
  const load = async () => {
    try {
      const t = await get("topics/" + enc(name));
      const c = t.config;
      show(info, h("p", {}, `${c.partitions} partitions · ${fmtInt(t.messages)} messages · ${fmtBytes(t.bytes)} · replicas ${c.replicas} · storage ${c.storage} · max age ${c.max_age} · max delay ${c.max_delay} · delayed ${fmtInt(t.delayed)} · sequences ${t.first_seq}–${t.last_seq}`),
        table([
          { title: "Partition", num: true, value: (p) => p.partition },
          { title: "Messages", num: true, value: (p) => fmtInt(p.messages) },
        ], t.partition_messages || [], { id: "partitions-table" }),
        h("p", {}, link("#/groups/" + enc(name), "groups of " + name), " · ", link("#/messages/" + enc(name), "messages"), " · ", link("#/delayed/" + enc(name), "delayed")));
    } catch (e) { show(info, errorBox(e)); }
  };
  load();
}

function sendForm(topic, out) {
  const key = input("key", { id: "send-key", placeholder: "key (empty: keyless)" });
  const tag = input("tag", { id: "send-tag", placeholder: "tag" });
  const data = h("textarea", { id: "send-data", rows: "2", placeholder: "body" });
  const delay = input("delay", { id: "send-delay", placeholder: "delay, e.g. 90s" });
  const txid = input("txid", { id: "send-txid", placeholder: "transaction id" });
  const pg = input("pg", { id: "send-pg", placeholder: "producer group" });
  const send = button("Send", async () => {
    const body = { key: key.value, tag: tag.value, data: data.value };
    if (delay.value) body.delay = delay.value;
    if (txid.value) body.txn = { id: txid.value, producer_group: pg.value };
    return post("topics/" + enc(topic) + "/send", body);
  }, { out, id: "send-message", done: (r) => "stored: " + JSON.stringify(r) });
  return h("div", {}, h("div", { class: "row" }, field("Key", key), field("Tag", tag), field("Delay", delay), field("Transaction", txid), field("Producer group", pg)),
    h("div", { class: "row" }, field("Body", data), send));
}
