// Overview: nodes, meta leader, stream leaders, storage, rates, alerts.
import { get } from "../api.js";
import { h, show, table, errorBox, fmtInt, fmtBytes, badge, link, tile } from "../ui.js";
import { RateChart, formatRate } from "../chart.js";

const LAG_ALERT = 1000; // a group with more unacknowledged messages is flagged
const DELAY_ALERT = 10000; // a delayed backlog beyond this is flagged

export function render(view) {
  const tiles = h("div", { class: "tiles", id: "tiles" });
  const alerts = h("div", { class: "tiles", id: "alerts" });
  const canvas = h("canvas", { class: "chart", id: "rate-chart" });
  const nodes = h("div", { id: "nodes" });
  const leaders = h("div", { id: "leaders" });
  const err = h("div");
  show(view, h("h2", {}, "Overview"), err, tiles, h("h3", {}, "Alerts"), alerts,
    h("h3", {}, "Publish and consume rate"), h("div", { class: "legend" }, h("span", { class: "pub" }, "— published/s"), h("span", { class: "con" }, "— acknowledged/s")), canvas,
    h("div", { class: "cols" }, h("div", {}, h("h3", {}, "Nodes"), nodes), h("div", {}, h("h3", {}, "Stream leaders"), leaders)));
  const chart = new RateChart(canvas, [{ name: "published", color: "#1f6feb" }, { name: "acked", color: "#2f855a" }]);
  let prev = null, firstDLQ = null;
  const tick = async () => {
    let o;
    try { o = await get("overview"); } catch (e) { show(err, errorBox(e)); return; }
    show(err);
    const t = Date.parse(o.at), tot = o.totals;
    let pub = 0, con = 0;
    if (prev && t > prev.t) {
      const dt = (t - prev.t) / 1000;
      pub = Math.max(0, tot.published - prev.published) / dt;
      con = Math.max(0, tot.acked - prev.acked) / dt;
      chart.add(t, [pub, con]);
    } else if (!prev) chart.add(t, [0, 0]);
    if (!prev || t > prev.t) prev = { t, published: tot.published, acked: tot.acked, pub, con };
    if (firstDLQ === null) firstDLQ = tot.dlq;
    const st = o.storage || {};
    const healthy = o.cluster.nodes.filter((n) => n.healthy).length;
    show(tiles,
      tile("Nodes healthy", `${healthy}/${o.cluster.nodes.length}`, healthy < o.cluster.nodes.length ? "alert" : ""),
      tile("Meta leader", o.cluster.meta_leader || "none", o.cluster.meta_leader ? "" : "alert", "tile-meta-leader", true),
      tile("Topics", fmtInt(tot.topics)), tile("Groups", fmtInt(tot.groups)),
      tile("Messages", fmtInt(tot.messages)), tile("Stored", fmtBytes(st.store) + (st.memory ? " + " + fmtBytes(st.memory) + " mem" : "")),
      tile("Published/s", formatRate(prev.pub || 0)), tile("Acknowledged/s", formatRate(prev.con || 0)));
    const lagging = o.top_lag.filter((g) => g.lag > LAG_ALERT);
    show(alerts,
      tile("Groups lagging > " + fmtInt(LAG_ALERT), lagging.length ? lagging.map((g) => `${g.topic}/${g.group}: ${fmtInt(g.lag)}`).join(", ") : "0", lagging.length ? "alert" : "", "alert-lag"),
      tile("Parked transactions", fmtInt(tot.txn_parked), tot.txn_parked ? "alert" : "", "alert-parked"),
      tile("Open transactions", fmtInt(tot.txn_open), tot.txn_open ? "warn" : "", "alert-open"),
      tile("Dead letters (growth since open)", `${fmtInt(tot.dlq)} (+${fmtInt(Math.max(0, tot.dlq - firstDLQ))})`, tot.dlq > firstDLQ ? "alert" : tot.dlq ? "warn" : "", "alert-dlq"),
      tile("Delayed backlog", fmtInt(tot.delayed), tot.delayed > DELAY_ALERT ? "alert" : "", "alert-delayed"));
    show(nodes, table([
      { title: "Node", value: (n) => n.name + (n.self ? " (this)" : "") },
      { title: "Role", value: (n) => (n.leader ? badge("meta leader", "ok") : "follower") },
      { title: "Health", value: (n) => (n.healthy ? badge("healthy", "ok") : badge(n.problem || "unhealthy", "bad")) },
      { title: "Leads topics", num: true, value: (n) => fmtInt(o.leaders[n.name] || 0) },
    ], o.cluster.nodes, { id: "nodes-table" }));
    show(leaders, o.imbalanced ? h("div", { class: "errorbox", id: "imbalance" }, "Leadership is imbalanced: " + Object.entries(o.leaders).map(([k, v]) => `${k} leads ${v}`).join(", ")) : null,
      table([
        { title: "Topic", value: (l) => link("#/topics/" + encodeURIComponent(l.topic), l.topic) },
        { title: "Leader", value: (l) => l.leader || "" },
        { title: "Replicas current", num: true, value: (l) => `${l.replicas_current}/${l.replicas}` },
      ], o.topic_leaders.slice(0, 200), { id: "leaders-table" }),
      o.topic_leaders.length > 200 ? h("p", { class: "muted" }, `first 200 of ${o.topic_leaders.length}`) : null);
  };
  tick();
  const timer = setInterval(tick, 2000);
  return () => clearInterval(timer);
}

// tile is one figure; a long name (a node id) is cut to the tile's width
// with the whole of it as the tooltip.
