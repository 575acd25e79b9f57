// stockledger's web console. The pages work without this script; it adds
// search as you type, the live updates of a SKU's page (server-sent
// events), the history chart and the partitions' refresh. It renders no
// data of its own: it swaps in HTML the server rendered, and draws the
// chart from the points the history page carries.
"use strict";

(function () {
  const SVG = "http://www.w3.org/2000/svg";

  // page fetches a console page and parses it.
  async function page(url) {
    const resp = await fetch(url, { credentials: "same-origin", headers: { Accept: "text/html" } });
    if (!resp.ok) {
      return null;
    }
    return new DOMParser().parseFromString(await resp.text(), "text/html");
  }

  // swap replaces the element with id by the one of the same id on the
  // page at url; it reports whether it could.
  async function swap(url, id) {
    const doc = await page(url);
    const fresh = doc && doc.getElementById(id);
    const old = document.getElementById(id);
    if (!fresh || !old) {
      return false;
    }
    old.replaceWith(document.adoptNode(fresh));
    return true;
  }

  // searchAsYouType reloads the results while the code is typed.
  function searchAsYouType() {
    const q = document.getElementById("q");
    if (!q || !document.getElementById("results")) {
      return;
    }
    let timer = 0;
    let seq = 0;
    q.addEventListener("input", () => {
      clearTimeout(timer);
      timer = setTimeout(async () => {
        const mine = ++seq;
        const url = q.value ? "/?q=" + encodeURIComponent(q.value) : "/";
        const doc = await page(url);
        const fresh = doc && doc.getElementById("results");
        if (mine !== seq || !fresh) {
          return; // a newer search is on its way, or this one failed
        }
        document.getElementById("results").replaceWith(document.adoptNode(fresh));
        history.replaceState(null, "", url);
      }, 150);
    });
  }

  // values maps each data-v cell under root to its text.
  function values(root) {
    const out = new Map();
    root.querySelectorAll("[data-v]").forEach((el) => out.set(el.dataset.v, el.textContent));
    return out;
  }

  // live follows the SKU's state: each "state" event carries the page's
  // live part rendered anew; cells whose number changed are marked.
  function live() {
    const badge = document.getElementById("live");
    const state = document.getElementById("state");
    if (!badge || !state || !window.EventSource) {
      return;
    }
    const es = new EventSource(badge.dataset.stream + "?version=" + encodeURIComponent(badge.dataset.version));
    es.addEventListener("open", () => {
      badge.textContent = "live";
      badge.className = "live on";
    });
    es.addEventListener("error", () => {
      badge.textContent = "reconnecting";
      badge.className = "live off";
    });
    es.addEventListener("state", (e) => {
      const u = JSON.parse(e.data);
      const before = values(state);
      state.innerHTML = u.html; // rendered by the server's templates, escaped there
      state.querySelectorAll("[data-v]").forEach((el) => {
        if (before.has(el.dataset.v) && before.get(el.dataset.v) !== el.textContent) {
          el.classList.add("changed");
        }
      });
      badge.dataset.version = String(u.version);
      badge.title = "updated " + new Date().toLocaleTimeString();
    });
    es.addEventListener("moved", () => {
      es.close();
      location.reload(); // the page now says which instance owns the SKU
    });
  }

  // refresh reloads a region that says data-refresh (milliseconds).
  function refresh() {
    const el = document.querySelector("[data-refresh]");
    if (!el || !el.id) {
      return;
    }
    const every = Number(el.dataset.refresh) || 5000;
    const tick = async () => {
      try {
        await swap(location.href, el.id);
      } finally {
        setTimeout(tick, every);
      }
    };
    setTimeout(tick, every);
  }

  function svg(name, attrs, parent) {
    const el = document.createElementNS(SVG, name);
    for (const [k, v] of Object.entries(attrs)) {
      el.setAttribute(k, String(v));
    }
    if (parent) {
      parent.appendChild(el);
    }
    return el;
  }

  // ticks returns about n round values from lo to hi.
  function ticks(lo, hi, n) {
    const raw = (hi - lo) / n;
    const mag = Math.pow(10, Math.floor(Math.log10(raw)));
    const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) || raw;
    const out = [];
    for (let v = Math.ceil(lo / step) * step; v <= hi + 1e-9; v += step) {
      out.push(Math.round(v * 1e6) / 1e6);
    }
    return out;
  }

  function timeLabel(ms, span) {
    const d = new Date(ms);
    const iso = d.toISOString();
    return span > 2 * 86400e3 ? iso.slice(5, 10) + " " + iso.slice(11, 16) : iso.slice(11, 19);
  }

  // drawChart draws each channel's available over event time as a step
  // line, with a dot per event (data-channel, data-t, data-v say what it
  // shows; its title says it in words).
  function drawChart() {
    const area = document.getElementById("chart");
    const data = document.getElementById("history-data");
    if (!area || !data) {
      return;
    }
    const d = JSON.parse(data.textContent);
    area.textContent = "";
    if (!d.points || d.points.length === 0 || d.channels.length === 0) {
      area.innerHTML = '<p class="muted">No channel had an available to chart in this range.</p>';
      return;
    }
    const W = 960, H = 300, L = 56, R = 16, T = 14, B = 34;
    const ts = d.points.map((p) => Date.parse(p.t));
    let t0 = Math.min(...ts), t1 = Math.max(...ts);
    if (t1 === t0) {
      t0 -= 60e3;
      t1 += 60e3;
    }
    const vs = d.points.flatMap((p) => d.channels.filter((c) => c in p.v).map((c) => p.v[c]));
    const v0 = Math.min(0, ...vs);
    const v1 = Math.max(1, ...vs);
    const x = (t) => L + ((t - t0) / (t1 - t0)) * (W - L - R);
    const y = (v) => T + (1 - (v - v0) / (v1 - v0)) * (H - T - B);
    const dense = d.points.length > 120 ? " dense" : ""; // dots that would hide the lines
    const root = svg("svg", { viewBox: `0 0 ${W} ${H}`, class: "chart-svg" + dense, role: "img", "aria-label": "available per channel over event time" });
    for (const v of ticks(v0, v1, 5)) {
      svg("line", { x1: L, x2: W - R, y1: y(v), y2: y(v), class: "grid-line" }, root);
      svg("text", { x: L - 8, y: y(v) + 4, class: "axis y" }, root).textContent = v.toLocaleString("en-US");
    }
    for (let i = 0; i <= 4; i++) {
      const t = t0 + ((t1 - t0) * i) / 4;
      const edge = i === 0 ? " first" : i === 4 ? " last" : "";
      svg("text", { x: x(t), y: H - 10, class: "axis x" + edge }, root).textContent = timeLabel(t, t1 - t0);
    }
    const r = dense ? 1.5 : 3;
    d.channels.forEach((ch, i) => drawLine(root, d, ts, ch, "c" + (i % 8), x, y, W - R, r));
    area.appendChild(root);
    const legend = document.createElement("div");
    legend.className = "legend";
    d.channels.forEach((ch, i) => {
      const item = document.createElement("span");
      item.className = "key c" + (i % 8);
      item.textContent = ch;
      legend.appendChild(item);
    });
    area.appendChild(legend);
  }

  function drawLine(root, d, ts, ch, cls, x, y, right, r) {
    let path = "";
    let last = null;
    const dots = [];
    d.points.forEach((p, k) => {
      if (!(ch in p.v)) {
        return;
      }
      const px = x(ts[k]), py = y(p.v[ch]);
      path += last === null ? `M${px},${py}` : `H${px}V${py}`;
      last = py;
      dots.push({ px, py, p });
    });
    if (last === null) {
      return;
    }
    path += `H${right}`;
    svg("path", { d: path, class: "line " + cls }, root);
    for (const { px, py, p } of dots) {
      const dot = svg("circle", { cx: px, cy: py, r, class: "dot " + cls, "data-channel": ch, "data-t": p.t, "data-v": p.v[ch], "data-offset": p.offset }, root);
      svg("title", {}, dot).textContent = `${ch}: ${p.v[ch]} after ${p.type} at ${p.t} (offset ${p.offset})`;
    }
  }

  document.addEventListener("DOMContentLoaded", () => {
    searchAsYouType();
    live();
    drawChart();
    refresh();
  });
})();
