/* The floor pages: tables that sort by a click on their headers, and the live board's polling.
   Everything from the server is written with textContent, never as HTML. */
(function () {
  "use strict";

  // ------------------------------------------------------------------ sortable tables
  // A header button names a data-* attribute of the rows (data-key) and, for numbers,
  // data-type="number". A click sorts by it; a second click reverses the order.
  function sortRows(table, key, numeric, descending) {
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (a, b) {
      var x = a.getAttribute("data-" + key) || "";
      var y = b.getAttribute("data-" + key) || "";
      var order = numeric ? (parseFloat(x) || 0) - (parseFloat(y) || 0) : x.localeCompare(y, "zh-CN");
      if (order === 0) order = (a.getAttribute("data-name") || "").localeCompare(b.getAttribute("data-name") || "", "zh-CN");
      return descending ? -order : order;
    });
    rows.forEach(function (row) { body.appendChild(row); });
  }

  function currentSort(table) {
    var th = table.querySelector("th[aria-sort=ascending], th[aria-sort=descending]");
    if (!th) return null;
    var button = th.querySelector("button");
    return { key: button.getAttribute("data-key"), numeric: button.getAttribute("data-type") === "number",
             descending: th.getAttribute("aria-sort") === "descending" };
  }

  function applySort(table) {
    var sort = currentSort(table);
    if (sort) sortRows(table, sort.key, sort.numeric, sort.descending);
  }

  Array.prototype.forEach.call(document.querySelectorAll("table.sortable"), function (table) {
    Array.prototype.forEach.call(table.querySelectorAll("th button[data-key]"), function (button) {
      button.addEventListener("click", function () {
        var th = button.parentNode;
        var descending = th.getAttribute("aria-sort") === "ascending";
        Array.prototype.forEach.call(table.querySelectorAll("th[aria-sort]"), function (other) {
          other.setAttribute("aria-sort", "none");
        });
        th.setAttribute("aria-sort", descending ? "descending" : "ascending");
        applySort(table);
      });
    });
    applySort(table);
  });

  // ------------------------------------------------------------------ the live board
  var boardApp = document.getElementById("floor-board");
  if (!boardApp) return;
  var S = JSON.parse(document.getElementById("floor-strings").textContent);
  var api = boardApp.getAttribute("data-api");
  var pollMs = parseInt(boardApp.getAttribute("data-poll-ms"), 10) || 2000;
  var table = document.getElementById("board-table");

  function fill(text, values) {
    return text.replace(/\{(\w+)\}/g, function (_m, name) { return values[name]; });
  }
  function duration(seconds) {
    if (seconds === null || seconds === undefined) return "";
    if (seconds < 60) return fill(S.seconds, { n: seconds });
    if (seconds < 3600) return fill(S.minutes, { m: Math.floor(seconds / 60), s: seconds % 60 });
    return fill(S.hours, { h: Math.floor(seconds / 3600), m: Math.floor((seconds % 3600) / 60) });
  }
  function cell(row, text, className) {
    var td = document.createElement("td");
    if (className) td.className = className;
    td.textContent = text;
    row.appendChild(td);
    return td;
  }

  function draw(state) {
    var st = state.stats;
    document.getElementById("board-stats").textContent = fill(S.stats, {
      waiting: st.waiting, available: st.available_operators, busy: st.busy_operators, wrap: st.wrap_up_operators,
    });
    var body = document.getElementById("board-rows");
    var rows = state.operators.map(function (op) {
      var tr = document.createElement("tr");
      var caller = op.caller;
      tr.setAttribute("data-operator", op.id);
      tr.setAttribute("data-name", op.name);
      tr.setAttribute("data-state", op.state_order);
      tr.setAttribute("data-since", op.since_seconds === null ? -1 : op.since_seconds);
      tr.setAttribute("data-caller", caller ? (caller.name || caller.number) : "");
      tr.setAttribute("data-wait", caller && caller.waited_seconds !== null ? caller.waited_seconds : -1);
      tr.setAttribute("data-talk", caller && caller.talk_seconds !== null ? caller.talk_seconds : -1);
      var th = document.createElement("th");
      th.scope = "row";
      th.textContent = op.name;
      tr.appendChild(th);
      var stateCell = cell(tr, "");
      var badge = document.createElement("span");
      badge.className = "presence";
      badge.setAttribute("data-presence", op.presence);
      badge.textContent = op.presence_label;
      stateCell.appendChild(badge);
      if (!op.is_reachable && op.presence !== "busy" && op.presence !== "offline") {
        stateCell.appendChild(document.createTextNode(" · " + S.not_reachable));
      }
      var since = duration(op.since_seconds);
      if (op.wrap_up_seconds_left !== null) since += " · " + fill(S.wrap_left, { s: op.wrap_up_seconds_left });
      cell(tr, since, "num");
      cell(tr, op.reason_label);
      cell(tr, op.languages_label);
      if (caller) {
        var words = [caller.name || caller.number, caller.language_label];
        if (caller.state === "connecting") words.push(S.connecting);
        if (caller.is_on_hold) words.push(S.on_hold);
        if (caller.is_transfer) words.push(S.transfer);
        cell(tr, words.filter(Boolean).join(" · "));
        cell(tr, duration(caller.waited_seconds), "num");
        cell(tr, duration(caller.talk_seconds), "num");
      } else {
        cell(tr, "");
        cell(tr, "");
        cell(tr, "");
      }
      return tr;
    });
    while (body.firstChild) body.removeChild(body.firstChild);
    rows.forEach(function (row) { body.appendChild(row); });
    applySort(table);
    boardApp.setAttribute("data-loaded", "1");
  }

  function poll() {
    fetch(api, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        if (!response.ok) throw new Error(response.status);
        return response.json();
      })
      .then(function (state) {
        document.getElementById("board-error").hidden = true;
        draw(state);
      })
      .catch(function () { document.getElementById("board-error").hidden = false; })
      .then(function () { setTimeout(poll, pollMs); });
  }
  poll();
})();
