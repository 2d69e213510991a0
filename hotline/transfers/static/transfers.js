/* External transfers on the call panel: polls the operator's call while the panel is shown,
   offers 120/110/119 one click away (warm: the caller on hold while the operator briefs them),
   the directory's agencies or a typed number, and the hand-over / three-way / cancel buttons.
   Names and numbers are written with textContent, never as HTML. */
(function () {
  "use strict";
  var box = document.getElementById("external-transfer");
  if (!box) return;
  var api = box.getAttribute("data-api");
  var root = api.replace(/\/current$/, "");
  var S = JSON.parse(document.getElementById("external-strings").textContent);
  var csrf = (document.querySelector('meta[name="csrf-token"]') || {}).content || "";
  var $ = function (id) { return document.getElementById(id); };
  var state = null;
  var destinationsKey = "";

  function fill(template, values) {
    return template.replace(/\{(\w+)\}/g, function (_, key) {
      return values[key] === undefined ? "" : String(values[key]);
    });
  }

  function post(action, fields) {
    if (!state || !state.entry_id) return Promise.resolve();
    return fetch(root + "/" + state.entry_id + "/" + action, {
      method: "POST",
      body: new URLSearchParams(fields || {}),
      credentials: "same-origin",
      headers: { "X-CSRFToken": csrf, Accept: "application/json" },
    })
      .then(function (r) { return r.json().catch(function () { return { ok: false, error: S.error }; }); })
      .then(function (result) {
        $("external-state").textContent = result.ok ? "" : (result.error || S.error);
        poll();
      })
      .catch(function () { $("external-state").textContent = S.error; });
  }

  function start(choice) {
    var mode = (document.querySelector('input[name="external-mode"]:checked') || {}).value || "warm";
    var fields = { mode: mode };
    if (choice) fields.choice = choice;
    else if ($("external-choice").value) fields.choice = $("external-choice").value;
    else fields.number = $("external-number").value;
    post("start", fields);
  }

  function drawDestinations(list) {
    var key = JSON.stringify(list);
    if (key === destinationsKey) return;
    destinationsKey = key;
    var buttons = $("emergency-buttons");
    var select = $("external-choice");
    buttons.textContent = "";
    while (select.options.length > 1) select.remove(1);
    list.forEach(function (d) {
      if (d.key.indexOf("emergency:") === 0) {
        var b = document.createElement("button");
        b.type = "button";
        b.className = "danger emergency";
        b.textContent = d.name;
        b.setAttribute("data-choice", d.key);
        b.addEventListener("click", function () { start(d.key); });
        buttons.appendChild(b);
      } else {
        var o = document.createElement("option");
        o.value = d.key;
        o.textContent = d.name + " · " + d.number;
        select.appendChild(o);
      }
    });
  }

  function draw() {
    var onCall = state && state.entry_id && state.connected;
    box.hidden = !onCall;
    if (!onCall) return;
    drawDestinations(state.destinations || []);
    $("readout-name").textContent = state.caller.name || "—";
    $("readout-number").textContent = state.caller.number || "—";
    $("readout-district").textContent = state.caller.district || "—";
    var tr = state.transfer;
    var live = tr && tr.live && tr.status !== "handed_over";
    $("external-start").disabled = !!live;
    Array.prototype.forEach.call($("emergency-buttons").children, function (b) { b.disabled = !!live; });
    $("external-hand-over").hidden = !live || !tr.answered;
    $("external-three-way").hidden = !live || !tr.answered || tr.status === "three_way";
    $("external-cancel").hidden = !live;
    var text = tr ? fill(S[tr.status] || "", { name: tr.name }) : "";
    if ($("external-state").getAttribute("data-status") !== (tr ? tr.id + tr.status : "")) {
      $("external-state").textContent = text;
      $("external-state").setAttribute("data-status", tr ? tr.id + tr.status : "");
    }
  }

  var timer = null;
  function poll() {
    clearTimeout(timer);
    var panel = document.getElementById("current-call");
    if (panel && panel.hidden) {
      // Not on a call (the queue console's own poll shows the panel): nothing to ask.
      state = null;
      box.hidden = true;
      timer = setTimeout(poll, 1000);
      return;
    }
    fetch(api, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (s) { if (s) { state = s; draw(); } })
      .catch(function () {})
      .then(function () { timer = setTimeout(poll, 1500); });
  }

  $("external-start").addEventListener("click", function () { start(null); });
  $("external-hand-over").addEventListener("click", function () { post("hand-over"); });
  $("external-three-way").addEventListener("click", function () { post("three-way"); });
  $("external-cancel").addEventListener("click", function () { post("cancel"); });
  poll();
})();
