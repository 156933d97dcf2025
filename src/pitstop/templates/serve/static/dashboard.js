/* pitstop serve: each page polls the JSON API (/api/...) and updates itself in place. */
"use strict";
(function () {
  const REFRESH_MS = 2000;
  const COLORS = { restart: "#2563eb", stall: "#f59e0b", crash: "#dc2626", preemption: "#7c3aed" };
  const ENDED = new Set(["succeeded", "failed", "cancelled", "rejected", "invalid"]);

  // the write token arrives as #token=... (never sent to the server in a URL) and is kept
  // for this tab only
  const m = /(?:^#|&)token=([^&]+)/.exec(location.hash);
  if (m) {
    sessionStorage.setItem("pitstop-token", decodeURIComponent(m[1]));
    history.replaceState(null, "", location.pathname + location.search);
  }

  function el(tag, attrs, ...kids) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === "class") e.className = v; else if (k === "text") e.textContent = v; else e.setAttribute(k, v);
    }
    for (const k of kids) e.append(k instanceof Node ? k : document.createTextNode(k == null ? "" : String(k)));
    return e;
  }
  // a number the API could not give (null: it was NaN or infinite in S3) shows as "-"
  const fixed = (x, n) => (typeof x === "number" ? x.toFixed(n) : "-");
  const duration = (s) => (s >= 3600 ? (s / 3600).toFixed(1) + " h" : s >= 60 ? Math.round(s / 60) + " min" : Math.round(s) + " s");
  const short = (iso) => (iso ? iso.replace("T", " ").replace(/\.\d+Z$|Z$/, "") : "-");
  const status = (text, err) => {
    const s = document.getElementById("status");
    s.textContent = text; s.className = "status" + (err ? " err" : "");
  };
  async function getJSON(url) {
    const r = await fetch(url, { cache: "no-store" });
    const doc = await r.json();
    if (!r.ok) throw new Error(doc.error || r.statusText);
    return doc;
  }
  function poll(fn) {
    const tick = async () => {
      try { await fn(); status("updated " + new Date().toLocaleTimeString()); }
      catch (e) { status(String(e.message || e), true); }
      setTimeout(tick, REFRESH_MS);
    };
    tick();
  }
  function stateBadge(state) { return el("span", { class: "state st-" + state, text: state }); }

  async function cancelJob(id) {
    if (!confirm("Cancel job " + id + "? A running job is stopped at its supervisor's next heartbeat; checkpoints are kept.")) return;
    let token = sessionStorage.getItem("pitstop-token");
    if (!token) {
      token = prompt("The write token that 'pitstop serve' printed at start:");
      if (!token) return;
      sessionStorage.setItem("pitstop-token", token);
    }
    const r = await fetch("/api/jobs/" + encodeURIComponent(id) + "/cancel", { method: "POST", headers: { "X-Pitstop-Token": token } });
    const doc = await r.json();
    if (r.status === 403) sessionStorage.removeItem("pitstop-token");
    alert(r.ok ? id + ": " + (doc.state === "cancelled" ? "cancelled" : "cancel requested") : "refused: " + doc.error);
  }

  // -- queue ------------------------------------------------------------------------------
  function queuePage() {
    let filter = "";
    document.querySelectorAll("#filters button").forEach((b) => b.addEventListener("click", () => {
      filter = b.dataset.state;
      document.querySelectorAll("#filters button").forEach((x) => x.classList.toggle("on", x === b));
      refresh();
    }));
    function row(j) {
      const link = j.invalid ? el("code", { text: JSON.stringify(j.id) }) : el("a", { href: "/jobs/" + encodeURIComponent(j.id), text: j.id });
      const act = el("td");
      if (!j.invalid && !ENDED.has(j.state) && !j.cancel_requested) {
        const b = el("button", { type: "button", class: "danger", text: "Cancel" });
        b.addEventListener("click", () => cancelJob(j.id).then(refresh));
        act.append(b);
      } else if (j.cancel_requested && !ENDED.has(j.state)) act.append("cancel requested");
      const tr = el("tr", { "data-job": j.id, "data-state": j.state, "data-kind": j.kind },
        el("td", {}, link, el("div", { class: "name", text: j.name })), el("td", {}, stateBadge(j.state)),
        el("td", { text: j.attempts + (j.restarts ? " (" + j.restarts + " restarts)" : "") }), el("td", { text: j.instance_id || "-" }),
        el("td", { class: "ckpt", text: j.last_checkpoint || "-" }), el("td", { text: short(j.created_at) }),
        el("td", { text: fixed(j.instance_hours, 2) }), el("td", { text: j.cost == null ? "-" : "$" + fixed(j.cost, 2) }), act);
      if (j.reason) tr.title = j.reason;
      return tr;
    }
    async function refresh() {
      const doc = await getJSON("/api/jobs");
      document.getElementById("count-all").textContent = doc.total;
      document.querySelectorAll("#filters button[data-state]").forEach((b) => {
        if (b.dataset.state) document.getElementById("count-" + b.dataset.state).textContent = doc.counts[b.dataset.state] || 0;
      });
      const rows = doc.jobs.filter((j) => !filter || j.state === filter);
      document.querySelectorAll("#jobs section.kind").forEach((sec) => {
        const mine = rows.filter((j) => (j.kind || "training") === sec.dataset.kind);
        sec.hidden = mine.length === 0;
        sec.querySelector("h2 .n").textContent = String(mine.length);
        sec.querySelector("tbody").replaceChildren(...mine.map(row));
      });
      document.getElementById("empty").hidden = rows.length > 0;
    }
    poll(refresh);
  }

  // -- one job ------------------------------------------------------------------------------
  function markersPlugin(getMarkers) {
    return { hooks: { draw: [(u) => {
      const ctx = u.ctx, top = u.bbox.top, h = u.bbox.height;
      ctx.save();
      ctx.font = Math.round(11 * devicePixelRatio) + "px sans-serif";
      getMarkers().forEach((mk, i) => {
        const x = Math.round(u.valToPos(mk.t, "x", true));
        if (x < u.bbox.left || x > u.bbox.left + u.bbox.width) return;
        ctx.strokeStyle = ctx.fillStyle = COLORS[mk.kind] || "#000";
        ctx.lineWidth = 2 * devicePixelRatio;
        ctx.setLineDash(mk.kind === "restart" ? [6, 4] : []);
        ctx.beginPath(); ctx.moveTo(x, top); ctx.lineTo(x, top + h); ctx.stroke();
        ctx.fillText(mk.kind, x + 4, top + (12 + 13 * (i % 2)) * devicePixelRatio);
      });
      ctx.restore();
    }] } };
  }

  function chartData(series) {
    const xs = [], reward = [], progress = [];
    series.forEach((s, k) => {
      if (k > 0 && xs.length && s.points.length) { // a gap between attempts
        xs.push((xs[xs.length - 1] + s.points[0][0]) / 2); reward.push(null); progress.push(null);
      }
      for (const [t, r, p] of s.points) {
        if (xs.length && t <= xs[xs.length - 1]) continue; // uPlot needs x ascending
        xs.push(t); reward.push(r); progress.push(p);
      }
    });
    return [xs, reward, progress];
  }

  function jobPage() {
    const id = document.body.dataset.job;
    let chart = null, markers = [], logName = null, logOffset = 0, ended = false;
    const select = document.getElementById("log-name");
    select.addEventListener("change", () => { logName = select.value; logOffset = 0; document.getElementById("log").textContent = ""; });
    select.hidden = true;
    document.getElementById("cancel").addEventListener("click", () => cancelJob(id));

    function drawChart(doc) {
      const data = chartData(doc.series);
      markers = doc.markers;
      const box = document.getElementById("chart");
      box.dataset.points = data[0].length;
      box.dataset.markers = markers.length;
      box.dataset.markerKinds = [...new Set(markers.map((mk) => mk.kind))].sort().join(" ");
      if (data[0].length === 0) { box.textContent = "no episodes yet"; return; }
      // markers outside the episodes still show: widen x to them
      const lo = Math.min(data[0][0], ...markers.map((mk) => mk.t)), hi = Math.max(data[0][data[0].length - 1], ...markers.map((mk) => mk.t));
      const pad = Math.max(1, (hi - lo) * 0.02);
      const opts = {
        width: box.clientWidth || 900, height: 380,
        scales: { x: { time: true, range: [lo - pad, hi + pad] }, "%": { range: [0, 100] } },
        series: [{}, { label: "reward", stroke: "#0f766e", width: 1.5, spanGaps: false, points: { size: 3 } },
          { label: "progress %", stroke: "#9ca3af", width: 1, scale: "%", spanGaps: false, points: { show: false } }],
        axes: [{}, { label: "reward" }, { side: 1, scale: "%", label: "progress %", grid: { show: false } }],
        plugins: [markersPlugin(() => markers)],
      };
      if (chart) { chart.setData(data, false); chart.setScale("x", { min: lo - pad, max: hi + pad }); }
      else { box.textContent = ""; chart = new uPlot(opts, data, box); }
    }

    async function refresh() {
      const doc = await getJSON("/api/jobs/" + encodeURIComponent(id));
      const job = doc.job;
      ended = doc.ended;
      document.getElementById("job-name").textContent = job.name;
      document.getElementById("job-state").replaceChildren(stateBadge(job.state));
      document.getElementById("job-reason").textContent = job.reason || "";
      document.getElementById("job-failure").textContent = doc.failure ? "last failure: " + doc.failure : "";
      document.getElementById("cancel").hidden = ended || job.cancel_requested;
      document.getElementById("facts").replaceChildren(
        ...[["instance", job.instance_id || "-"], ["attempts", job.attempts.length], ["restarts", job.restarts],
          ["trained", duration(doc.trained_s)], ["last checkpoint", doc.last_checkpoint || "-"], ["instance hours", fixed(doc.instance_hours, 3)],
          ["cost", doc.cost == null ? "- (--spot-price)" : "$" + fixed(doc.cost, 2)]]
          .map(([k, v]) => el("div", {}, el("b", { text: k }), String(v))));
      const noEpisodes = doc.laps != null && !doc.series.some((x) => x.points.length);
      document.getElementById("chart-section").hidden = noEpisodes;
      if (!noEpisodes) drawChart(doc);
      document.getElementById("markers").replaceChildren(...doc.markers.map((mk) =>
        el("li", { class: "marker marker-" + mk.kind, "data-kind": mk.kind, text: mk.kind + " (" + mk.event + (mk.attempt ? ", attempt " + mk.attempt : "") + ") " + new Date(mk.t * 1000).toISOString().slice(11, 19) })));
      document.querySelector("#attempts tbody").replaceChildren(...job.attempts.map((a) => el("tr", {},
        el("td", { text: a.n }), el("td", { text: a.instance_id || "-" }), el("td", { text: short(a.started_at) }),
        el("td", { text: short(a.ended_at) }), el("td", { text: (a.outcome || "-") + (a.failure ? " (" + a.failure + ")" : "") }),
        el("td", { text: a.pretrained_checkpoint || "-" }), el("td", { text: a.last_checkpoint || "-" }))));
      document.getElementById("checkpoints").replaceChildren(...doc.checkpoints.slice().reverse().map((c) => el("li", { text: (c.checkpoint || "?") + " (attempt " + c.attempt + ")" })));
      document.getElementById("checkpoint-count").textContent = doc.checkpoints.length ? "(" + doc.checkpoints.length + ", newest first)" : "";
      document.getElementById("checkpoints-empty").hidden = doc.checkpoints.length > 0;
      const evaluation = doc.laps != null; // an evaluation job (a tune candidate too)
      document.getElementById("laps-section").hidden = !evaluation;
      if (evaluation) {
        const laps = doc.laps || [];
        document.querySelector("#laps tbody").replaceChildren(...laps.map((l) => el("tr", { "data-status": l.status },
          el("td", { text: l.trial }), el("td", { text: fixed(l.time_ms / 1000, 3) }), el("td", { text: l.status }),
          el("td", { text: l.resets }), el("td", { text: l.off_tracks }), el("td", { text: fixed(l.completion, 1) }))));
        document.getElementById("laps-empty").hidden = laps.length > 0;
      }
      document.querySelector("#events tbody").replaceChildren(...job.events.slice().reverse().map((e) => el("tr", {},
        el("td", { text: short(e.at) }), el("td", { text: e.event }), el("td", { text: e.attempt || "-" }),
        el("td", { class: "reason", text: e.reason || e.checkpoint || "" }))));
      const names = doc.logs.map((l) => l.name).filter((n) => /trainer\.log$/.test(n)).concat(doc.logs.map((l) => l.name).filter((n) => !/trainer\.log$/.test(n)));
      if (names.join() !== [...select.options].map((o) => o.value).join()) {
        const keep = logName;
        select.replaceChildren(...names.map((n) => el("option", { value: n, text: n })));
        const latest = names.filter((n) => /trainer\.log$/.test(n)).sort((a, b) => parseInt(a.slice(8)) - parseInt(b.slice(8))).pop() || names[0];
        logName = keep && names.includes(keep) && keep !== latest && !ended ? keep : latest;
        if (logName !== keep) { logOffset = 0; document.getElementById("log").textContent = ""; }
        if (logName) select.value = logName;
        select.hidden = names.length === 0;
      }
      await tail();
    }

    async function tail() {
      if (!logName) {
        const pre = document.getElementById("log");
        if (!pre.textContent) pre.append(el("span", { class: "waiting", text: ended ? "no log was uploaded" : "waiting for the first upload (a supervisor ships its logs every heartbeat)" }));
        else if (ended && pre.querySelector(".waiting")) pre.querySelector(".waiting").textContent = "no log was uploaded";
        return;
      }
      const doc = await getJSON("/api/jobs/" + encodeURIComponent(id) + "/log?name=" + encodeURIComponent(logName) + "&offset=" + logOffset);
      const pre = document.getElementById("log");
      if (doc.reset) pre.textContent = "";
      if (doc.text) {
        const waiting = pre.querySelector(".waiting");
        if (waiting) waiting.remove();
        const atEnd = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 8;
        pre.textContent += doc.text;
        if (atEnd) pre.scrollTop = pre.scrollHeight;
      }
      pre.dataset.bytes = doc.offset;
      logOffset = doc.offset;
      document.getElementById("log-live").textContent = ended ? "" : "following";
    }
    poll(refresh);
  }

  // -- fleet --------------------------------------------------------------------------------
  function fleetPage() {
    poll(async () => {
      const [doc, q] = await Promise.all([getJSON("/api/fleet"), getJSON("/api/jobs")]);
      document.querySelector("#fleet tbody").replaceChildren(...doc.instances.map((i) => el("tr", { "data-instance": i.instance_id },
        el("td", { text: i.instance_id }), el("td", { text: i.hostname || "-" }), el("td", {}, i.stale ? el("span", { class: "state stale", "data-stale": "true", title: "no heartbeat for " + Math.round(i.age_s) + " s (more than " + Math.round(doc.stale_after_s) + " s): the supervisor may be gone", text: "stale (" + (i.state || "idle") + ")" }) : stateBadge(i.state || "idle")),
        el("td", {}, i.job_id ? el("a", { href: "/jobs/" + encodeURIComponent(i.job_id), text: i.job_id }) : "-"),
        el("td", { text: i.attempt || "-" }), el("td", { text: i.last_checkpoint || "-" }), el("td", { text: short(i.at) }),
        el("td", { class: i.stale ? "stale" : "", text: Math.round(i.age_s) + " s" }), el("td", { text: i.version || "-" }), el("td", { text: i.interruption || "-" }))));
      document.getElementById("empty").hidden = doc.instances.length > 0;
      const stale = doc.instances.filter((i) => i.stale).length;
      document.getElementById("summary").textContent = doc.instances.length + " instance(s), " + doc.busy + " training" + (stale ? ", " + stale + " stale (no heartbeat for over " + Math.round(doc.stale_after_s) + " s)" : "");
      const hours = q.jobs.reduce((s, j) => s + (j.instance_hours || 0), 0);
      const parts = [hours.toFixed(2) + " instance hours across " + q.total + " job(s)"];
      if (doc.spot_price != null) parts.push("spot $" + (hours * doc.spot_price).toFixed(2));
      if (doc.on_demand_price != null) parts.push("on-demand equivalent $" + (hours * doc.on_demand_price).toFixed(2));
      if (doc.spot_price == null) parts.push("(start with --spot-price and --on-demand-price for dollars)");
      document.getElementById("cost").textContent = parts.join(" · ");
    });
  }

  // -- leaderboard --------------------------------------------------------------------------
  function leaderboardPage() {
    const secs = (ms) => (ms == null ? "-" : (ms / 1000).toFixed(3));
    poll(async () => {
      const doc = await getJSON("/api/leaderboard");
      document.getElementById("empty").hidden = doc.boards.length > 0;
      document.getElementById("boards").replaceChildren(...doc.boards.map((b) => el("section", { "data-world": b.world },
        el("h2", { text: b.world }),
        el("div", { class: "scroll" }, el("table", { class: "grid board" },
          el("thead", {}, el("tr", {}, ...["rank", "best lap s", "resets", "model", "checkpoint", "speed", "laps s", "median s", "evaluation"].map((h) => el("th", { text: h })))),
          el("tbody", {}, ...b.entries.map((e) => el("tr", { "data-job": e.job_id },
            el("td", { text: e.rank }), el("td", { text: secs(e.lap_ms) }), el("td", { text: e.resets }),
            el("td", { class: "wrap" }, /\//.test(e.model) ? e.model : el("a", { href: "/jobs/" + encodeURIComponent(e.model), text: e.model })),
            el("td", { class: "wrap", text: e.checkpoint || "-" }), el("td", { text: "x" + e.speed_scale }),
            el("td", { class: "laps", text: e.laps_ms.map(secs).join("  ") }), el("td", { text: secs(e.median_ms) }),
            el("td", {}, el("a", { href: "/jobs/" + encodeURIComponent(e.job_id), text: e.job_id }))))))))));
    });
  }

  const page = document.body.dataset.page;
  if (page === "queue") queuePage(); else if (page === "job") jobPage(); else if (page === "fleet") fleetPage();
  else if (page === "leaderboard") leaderboardPage();
  else status("");
})();
