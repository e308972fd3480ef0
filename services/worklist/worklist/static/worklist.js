// carepath worklist: live countdowns to each deadline on the services' clock, and live updates from the
// server (server-sent events). Without JavaScript the page still works; it just does not move by itself.
(function () {
  "use strict";
  var body = document.body;

  function clockOf(el) {
    return { now: Date.parse(el.dataset.now), scale: parseFloat(el.dataset.scale || "1"), loaded: Date.now() };
  }
  var clock = clockOf(body);
  function simulatedNow() { return clock.now + (Date.now() - clock.loaded) * clock.scale; }

  function describe(ms) {
    var s = Math.round(Math.abs(ms) / 1000);
    var d = Math.floor(s / 86400), h = Math.floor((s % 86400) / 3600), m = Math.floor((s % 3600) / 60);
    if (d > 0) return d + " d " + h + " h";
    if (h > 0) return h + " h " + m + " min";
    if (m > 0) return m + " min";
    return s + " s";
  }

  function tick() {
    var now = simulatedNow();
    document.querySelectorAll("[data-countdown]").forEach(function (el) {
      var left = Date.parse(el.dataset.countdown) - now;
      var late = left <= 0;
      el.textContent = late ? "(overdue by " + describe(left) + ")" : "(in " + describe(left) + ")";
      el.classList.toggle("late", late);
      var row = el.closest("tr");
      if (late && row && !row.classList.contains("overdue")) {
        row.classList.add("overdue");
        var state = row.querySelector('[data-label="State"]');
        if (state && !state.querySelector(".overdue-mark")) {
          var mark = document.createElement("strong");
          mark.className = "overdue-mark";
          mark.textContent = "OVERDUE";
          state.insertBefore(document.createTextNode(" "), state.firstChild);
          state.insertBefore(mark, state.firstChild);
        }
      }
    });
  }

  function setLive(on) {
    var el = document.getElementById("live");
    if (!el) return;
    el.className = "live " + (on ? "on" : "off");
    el.textContent = on ? "Live" : "Not live: new alerts will not appear until the connection is back";
  }

  var rows = document.getElementById("rows");
  function keyOf(tr) { return tr.dataset.escalation ? "e:" + tr.dataset.escalation : "x:" + tr.dataset.expectation; }
  function remember(root) {
    // each row as the server sent it, before the countdown touches it: the row is kept while that holds
    root.querySelectorAll("tr[data-escalation], tr[data-expectation]").forEach(function (tr) { tr._sent = tr.outerHTML; });
  }
  if (rows) remember(rows);

  // The rows as the server renders them now. A row whose content did not change stays the same element
  // (so a click, the focus or a screen reader's place in it is not lost); changed and new rows are swapped in.
  var refreshing = false, again = false;
  function refresh(fresh) {
    if (!rows) return;
    if (refreshing) { again = true; return; }
    refreshing = true;
    var url = rows.dataset.rowsUrl + window.location.search;
    fetch(url, { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (r) {
        if (r.status === 401) { window.location.reload(); return null; }
        return r.ok ? r.text() : null;
      })
      .then(function (html) {
        if (html === null) return;
        var held = {};
        rows.querySelectorAll("tr[data-escalation], tr[data-expectation]").forEach(function (tr) { held[keyOf(tr)] = tr; });
        var next = document.createElement("div");
        next.innerHTML = html;
        remember(next);
        next.querySelectorAll("tr[data-escalation], tr[data-expectation]").forEach(function (tr) {
          var old = held[keyOf(tr)];
          if (old && old._sent === tr._sent) tr.replaceWith(old);
          else if (!old && fresh && tr.dataset.escalation === fresh) tr.classList.add("fresh");
        });
        rows.replaceChildren.apply(rows, Array.prototype.slice.call(next.childNodes));
        var inner = document.getElementById("rows-inner");
        if (inner) clock = clockOf(inner);
        tick();
      })
      .catch(function () { setLive(false); })
      .finally(function () {
        refreshing = false;
        if (again) { again = false; refresh(null); }
      });
  }

  function announce(text) {
    var el = document.getElementById("announce");
    if (el) el.textContent = text;
  }

  function connect() {
    if (!body.dataset.liveUrl || !window.EventSource) { setLive(false); return; }
    var source = new EventSource(body.dataset.liveUrl);
    source.addEventListener("status", function (e) {
      setLive(e.data === "live");
      if (e.data === "live") refresh(null);
    });
    source.addEventListener("change", function (e) {
      var change = JSON.parse(e.data);
      if (change.kind === "escalation" && change.change === "raised") {
        announce("New " + change.severity + " escalation, rule " + change.rule);
      }
      refresh(change.kind === "escalation" ? change.escalation_id : null);
    });
    source.onerror = function () { setLive(false); };
  }

  tick();
  window.setInterval(tick, 1000);
  connect();
})();
