// Delayed: topics with delayed messages; one topic's waiting messages with
// their due times, and cancel.
import { get, post, enc, qs } from "../api.js";
import { h, show, table, errorBox, fmtInt, fmtTime, link, button } from "../ui.js";

export function render(view, args) {
  if (args[0]) return renderTopic(view, args[0]);
  const list = h("div", { id: "delayed-topics" });
  show(view, h("h2", {}, "Delayed messages"), list);
  get("topics").then((p) => show(list, table([
    { title: "Topic", value: (t) => link("#/delayed/" + enc(t.name), t.name) },
    { title: "Waiting", num: true, value: (t) => fmtInt(t.delayed) },
  ], p.topics.filter((t) => t.delayed > 0), { id: "delayed-topics-table" }), h("p", {}, "Other topic: ", ...p.topics.filter((t) => !t.delayed).slice(0, 50).map((t) => [link("#/delayed/" + enc(t.name), t.name), " "]))), (e) => show(list, errorBox(e)));
}

function renderTopic(view, topic) {
  const list = h("div", { id: "delayed-list" });
  const out = h("div", { id: "delayed-out" });
  let from = 0;
  show(view, h("h2", {}, "Delayed messages of ", topic), out, list);
  const load = async () => {
    try {
      const l = await get(`delayed/${enc(topic)}` + qs({ from, limit: 100 }));
      show(list, h("p", {}, `${fmtInt(l.total)} waiting`), table([
        { title: "Id", value: (d) => d.id },
        { title: "Due", value: (d) => fmtTime(d.deliver_at) },
        { title: "Subject", value: (d) => d.subject },
        { title: "Key", value: (d) => d.key },
        { title: "Tag", value: (d) => d.tag || "" },
        { title: "Size", num: true, value: (d) => d.size },
        { title: "", value: (d) => button("Cancel", async () => {
          const r = await post(`delayed/${enc(topic)}/${enc(d.id)}/cancel`);
          load();
          return r;
        }, { action: "cancel-" + d.id, out, confirm: "Cancel " + d.id + "?", done: (r) => `cancelled ${r.id} (due ${fmtTime(r.deliver_at)})` }) },
      ], l.delayed, { id: "delayed-table" }),
      l.next ? h("button", { class: "secondary", id: "delayed-next", onclick: () => { from = l.next; load(); } }, "Next page") : null);
    } catch (e) { show(list, errorBox(e)); }
  };
  load();
  const timer = setInterval(load, 5000);
  return () => clearInterval(timer);
}
