// resque-web (resque-rs): relative times, confirmations, live polling. No dependencies.
// Everything inserted into the page is either text (textContent) or HTML the server
// rendered and escaped; nothing from Redis is turned into markup here.
(function () {
  "use strict";

  function ago(date) {
    var s = Math.round((Date.now() - date.getTime()) / 1000);
    var future = s < 0;
    s = Math.abs(s);
    var n, unit;
    if (s < 60) { n = s; unit = "second"; }
    else if (s < 3600) { n = Math.floor(s / 60); unit = "minute"; }
    else if (s < 86400) { n = Math.floor(s / 3600); unit = "hour"; }
    else { n = Math.floor(s / 86400); unit = "day"; }
    var text = n + " " + unit + (n === 1 ? "" : "s");
    return future ? "in " + text : text + " ago";
  }

  // Ruby's "relatize": times read "5 minutes ago"; a click shows the stored text again.
  function relatize(root) {
    root.querySelectorAll("time[datetime]").forEach(function (t) {
      var iso = t.getAttribute("datetime");
      if (!iso || t.dataset.raw !== undefined) { return; }
      var d = new Date(iso);
      if (isNaN(d.getTime())) { return; }
      t.dataset.raw = t.textContent;
      t.title = t.textContent;
      t.textContent = ago(d);
      t.classList.add("relatized");
      t.addEventListener("click", function (ev) {
        ev.preventDefault();
        var showingRaw = t.textContent === t.dataset.raw;
        t.textContent = showingRaw ? ago(d) : t.dataset.raw;
      });
    });
  }

  // Destructive forms ask first.
  document.addEventListener("submit", function (ev) {
    var f = ev.target;
    var q = f.getAttribute && f.getAttribute("data-confirm");
    if (q && !window.confirm(q)) { ev.preventDefault(); }
  });

  // The Overview's live graph: processed and failed jobs per poll, from the counters each
  // poll brings (data-processed / data-failed on .counts), the last 60 polls, drawn as two
  // polylines of numbers into #live-graph after every swap.
  var SVG = "http://www.w3.org/2000/svg";
  var live = { last: null, points: [] };
  function liveGraph(root) {
    var counts = root.querySelector(".counts[data-processed]");
    var svg = root.querySelector("#live-graph");
    if (!counts || !svg) { return; }
    var now = { p: Number(counts.dataset.processed), f: Number(counts.dataset.failed) };
    if (!isFinite(now.p) || !isFinite(now.f)) { return; }
    if (live.last) {
      live.points.push({ p: Math.max(0, now.p - live.last.p), f: Math.max(0, now.f - live.last.f) });
      if (live.points.length > 60) { live.points.shift(); }
    }
    live.last = now;
    var note = root.querySelector("#live-note");
    if (note) {
      note.textContent = live.points.length
        ? "Last poll: " + live.points[live.points.length - 1].p + " processed, " +
          live.points[live.points.length - 1].f + " failed."
        : "Live: waiting for the next poll.";
    }
    var max = 1;
    live.points.forEach(function (pt) { max = Math.max(max, pt.p, pt.f); });
    ["ok", "fail"].forEach(function (kind) {
      var line = document.createElementNS(SVG, "polyline");
      line.setAttribute("class", kind);
      line.setAttribute("points", live.points.map(function (pt, i) {
        var v = kind === "ok" ? pt.p : pt.f;
        return (i * 360 / 59).toFixed(1) + "," + (118 - v * 116 / max).toFixed(1);
      }).join(" "));
      svg.appendChild(line);
    });
  }

  // Live poll: the link's .poll URL is fetched every few seconds and replaces #main.
  function startPolling(href) {
    var main = document.getElementById("main");
    var every = parseInt(document.body.dataset.pollMs, 10) || 2000;
    function tick() {
      fetch(href, { credentials: "same-origin", headers: { "X-Requested-With": "XMLHttpRequest" } })
        .then(function (r) { return r.ok ? r.text() : Promise.reject(r.status); })
        .then(function (html) {
          main.innerHTML = html;
          main.classList.remove("stale");
          relatize(main);
          liveGraph(main);
        })
        .catch(function () { main.classList.add("stale"); })
        .then(function () { window.setTimeout(tick, every); });
    }
    tick();
  }

  document.addEventListener("click", function (ev) {
    var a = ev.target.closest && ev.target.closest("a[rel=poll]");
    if (!a) { return; }
    ev.preventDefault();
    liveGraph(document);
    startPolling(a.getAttribute("href"));
  });

  document.addEventListener("DOMContentLoaded", function () { relatize(document); });
})();
