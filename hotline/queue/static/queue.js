/* The live queue console.
 *
 * Polls the JSON endpoint every data-poll-ms (1 s) and redraws. Every value that came from a
 * caller or an operator (names, what callers said) is written with textContent, never innerHTML,
 * so markup in it stays inert text. Actions are POSTs with the CSRF token in X-CSRFToken.
 * A new waiting caller, while this operator is available, gives a visible alert and (when the
 * sound is on) a short WebAudio beep.
 */
(function () {
  "use strict";

  var app = document.getElementById("queue-app");
  if (!app) return;
  var S = JSON.parse(document.getElementById("queue-strings").textContent);
  var api = app.getAttribute("data-api");
  var pollMs = parseInt(app.getAttribute("data-poll-ms"), 10) || 1000;
  var csrf = (document.querySelector('meta[name="csrf-token"]') || {}).content || "";
  var $ = function (id) { return document.getElementById(id); };

  // Exposed for tests and for the curious: what the console has done so far.
  var stats = (window.hotlineQueue = { polls: 0, alerts: 0, beeps: 0, state: null });
  var seenWaiting = null; // ids of callers already seen waiting (null before the first poll)
  var lastCurrentId = null;
  var lastWrapUp = false;
  var audio = null;
  var alertTimer = null;
  var titleBase = document.title;

  function fill(template, values) {
    return template.replace(/\{(\w+)\}/g, function (_, key) {
      return values[key] === undefined ? "" : String(values[key]);
    });
  }

  function duration(seconds) {
    if (seconds < 60) return fill(S.seconds, { n: seconds });
    return fill(S.minutes, { m: Math.floor(seconds / 60), s: seconds % 60 });
  }

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function say(message, isError) {
    var box = $("queue-message");
    box.textContent = message || "";
    box.hidden = !message;
    box.className = "flash" + (isError ? " flash-error" : "");
  }

  // ------------------------------------------------------------------ sound and alert

  function ensureAudio() {
    var Ctx = window.AudioContext || window.webkitAudioContext;
    if (!Ctx) return null;
    if (!audio) {
      try { audio = new Ctx(); } catch (e) { audio = null; }
    }
    if (audio && audio.state === "suspended" && audio.resume) audio.resume();
    return audio;
  }

  // Browsers only allow sound after the operator has touched the page once.
  document.addEventListener("click", ensureAudio, { once: true });
  document.addEventListener("keydown", ensureAudio, { once: true });

  function beep() {
    if (!$("sound-on").checked) return;
    var ctx = ensureAudio();
    stats.beeps += 1;
    if (!ctx) return;
    [0, 0.3].forEach(function (offset) {
      var osc = ctx.createOscillator();
      var gain = ctx.createGain();
      osc.type = "sine";
      osc.frequency.value = 880;
      gain.gain.setValueAtTime(0.0001, ctx.currentTime + offset);
      gain.gain.exponentialRampToValueAtTime(0.3, ctx.currentTime + offset + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, ctx.currentTime + offset + 0.2);
      osc.connect(gain).connect(ctx.destination);
      osc.start(ctx.currentTime + offset);
      osc.stop(ctx.currentTime + offset + 0.22);
    });
  }

  function alertNewCaller(entry) {
    stats.alerts += 1;
    var box = $("new-caller-alert");
    box.textContent = S.new_caller + " " + (entry.caller_name || S.unknown) + " · " + entry.priority_label;
    box.hidden = false;
    document.title = "(!) " + titleBase;
    beep();
    clearTimeout(alertTimer);
    alertTimer = setTimeout(function () {
      box.hidden = true;
      document.title = titleBase;
    }, 10000);
  }

  // ------------------------------------------------------------------ drawing

  function drawMe(state) {
    var me = state.me;
    var badge = $("my-presence");
    badge.textContent = me.presence_label + (me.away_reason_label ? " · " + me.away_reason_label : "");
    badge.setAttribute("data-presence", me.presence);
    var st = state.stats;
    $("queue-stats").textContent = " · " + fill(S.waiting_count, { n: st.waiting }) +
      " · " + fill(S.longest, { w: duration(st.longest_wait_seconds) }) +
      " · " + fill(S.available_ops, { n: st.available_operators });
    $("my-skills").textContent = fill(S.my_skills, { languages: me.languages_label, lines: me.lines_label });
    var onCall = !!state.current;
    $("take-next").disabled = onCall || state.waiting.length === 0;
    $("set-available").disabled = onCall || me.presence === "available";
    $("set-away").disabled = onCall || me.presence === "away";
  }

  function badge(entry) {
    var names = { 0: "badge-urgent", 1: "badge-callback", 2: "badge-older" };
    return el("span", "badge " + (names[entry.priority] || ""), entry.priority_label);
  }

  function drawWaiting(state) {
    var body = $("queue-body");
    var rows = document.createDocumentFragment();
    var onCall = !!state.current;
    state.waiting.forEach(function (entry) {
      var tr = el("tr");
      tr.setAttribute("data-entry", entry.id);
      tr.appendChild(el("td", "pos", entry.position));
      tr.appendChild(el("td", "wait", duration(entry.waited_seconds)));

      var who = el("td", "who");
      who.appendChild(el("strong", "caller-name", entry.caller_name || S.unknown));
      who.appendChild(el("div", "muted", entry.caller_number));
      // A family member calling about their elder: the elder is who the call is about.
      if (entry.family_of) who.appendChild(el("div", "family-of", entry.family_of));
      var extras = [];
      if (entry.is_older_caller) extras.push(S.older);
      if (entry.is_hard_of_hearing) extras.push(S.hard_of_hearing);
      if (entry.is_repeat_caller) extras.push(S.repeat);
      extras.push(fill(S.cases, { n: entry.earlier_cases }));
      who.appendChild(el("div", "muted", extras.join(" · ")));
      tr.appendChild(who);

      var why = el("td", "why");
      why.appendChild(badge(entry));
      // Why routing offers this caller to me ("粤语 · 等了 2 分钟"), and the one "take the next
      // caller" would take.
      if (entry.offer_label) why.appendChild(el("div", "offer-reason", entry.offer_label));
      if (entry.is_next_for_me) {
        tr.classList.add("next-for-me");
        why.appendChild(el("div", "next-for-me-tag", S.next_for_me));
      }
      var reasons = [entry.priority_reason_label, entry.reason_label, entry.scenario_label]
        .filter(Boolean).join(" · ");
      why.appendChild(el("div", "muted", reasons));
      if (entry.requeue_count) why.appendChild(el("div", "muted", fill(S.requeued, { n: entry.requeue_count })));
      if (entry.preferred_operator) {
        why.appendChild(el("div", "muted",
          entry.is_reserved_for_other ? fill(S.for_other, { name: entry.preferred_operator }) : S.for_me));
      }
      tr.appendChild(why);

      var where = el("td", "where");
      where.appendChild(el("div", null, entry.line));
      where.appendChild(el("div", "muted", entry.language_label));
      tr.appendChild(where);

      tr.appendChild(el("td", "said", entry.said));

      var act = el("td", "act");
      var button = el("button", "take-one", S.take);
      button.type = "button";
      button.setAttribute("aria-label", fill(S.take_label, { name: entry.caller_name || S.unknown }));
      button.disabled = onCall;
      button.addEventListener("click", function () { take(entry.id); });
      act.appendChild(button);
      tr.appendChild(act);
      rows.appendChild(tr);
    });
    // Keep keyboard focus on the same caller's button across redraws.
    var focused = document.activeElement;
    var focusedEntry = focused && focused.closest && focused.closest("tr[data-entry]");
    var focusedId = focusedEntry ? focusedEntry.getAttribute("data-entry") : null;
    body.replaceChildren(rows);
    if (focusedId) {
      var again = body.querySelector('tr[data-entry="' + focusedId + '"] button');
      if (again) again.focus();
    }
    $("queue-empty").hidden = state.waiting.length > 0;
    $("waiting-count").textContent = "(" + state.waiting.length + ")";
  }

  function drawCurrent(state) {
    var box = $("current-call");
    var current = state.current;
    box.hidden = !current;
    if (!current) {
      lastCurrentId = null;
      return;
    }
    var text;
    if (current.is_transfer_target) text = fill(S.transferred_to_you, { name: current.operator });
    else if (current.state === "connecting") text = $("via").value === "browser" ? S.connecting_browser : S.connecting;
    else if (current.is_on_hold) text = S.on_hold;
    else text = S.connected + " · " + duration(current.connected_seconds);
    $("current-state").textContent = text;
    box.setAttribute("data-state", current.is_on_hold ? "on_hold" : current.state);
    $("current-name").textContent = current.caller_name || S.unknown;
    $("current-family").textContent = current.family_of || "";
    $("current-family").hidden = !current.family_of;
    $("current-number").textContent = current.caller_number;
    $("current-language").textContent = current.language_label;
    $("current-priority").textContent = [
      current.priority_label,
      current.priority_reason_label,
      current.reason_label,
      current.is_hard_of_hearing ? S.hard_of_hearing : "",
    ].filter(Boolean).join(" · ");
    $("current-scenario").textContent = current.scenario_label || "-";
    $("current-cases").textContent = String(current.earlier_cases) +
      (current.is_repeat_caller ? " · " + S.repeat : "");
    setLink($("current-case"), current.case_url);
    $("current-said").textContent = current.said || "-";

    var mine = !current.is_transfer_target;
    var connected = current.state === "connected";
    $("hold").hidden = !mine || current.is_on_hold;
    $("hold").disabled = !connected;
    $("resume").hidden = !mine || !current.is_on_hold;
    $("hangup").hidden = !mine;
    var transfer = current.transfer;
    $("transfer").hidden = !mine || !!transfer;
    $("transfer").disabled = !connected || state.transfer_to.length === 0;
    $("transfer-to").parentNode.hidden = !mine || !!transfer;
    $("hand-over").hidden = !mine || !transfer || !transfer.joined;
    $("cancel-transfer").hidden = !mine || !transfer;
    $("transfer-state").textContent = transfer
      ? fill(transfer.joined ? S.transfer_joined : S.transfer_ringing, { name: transfer.operator })
      : "";

    var select = $("transfer-to");
    var chosen = select.value;
    var options = document.createDocumentFragment();
    state.transfer_to.forEach(function (op) {
      var option = el("option", null, op.name);
      option.value = String(op.id);
      options.appendChild(option);
    });
    select.replaceChildren(options);
    if (chosen) select.value = chosen;

    if (lastCurrentId !== current.id) {
      lastCurrentId = current.id;
      $("current-heading").focus();
    }
  }

  // Our own URLs only (built by the server with url_for); hidden when there is none. The case
  // buttons submit a POST form (opening a case changes data): their formaction is the URL.
  function setLink(button, url) {
    button.hidden = !url;
    if (url && url.charAt(0) === "/") button.setAttribute("formaction", url);
  }

  function drawWrapUp(state) {
    var box = $("wrap-up");
    var wrap = state.wrap_up && !state.current;
    box.hidden = !wrap;
    if (wrap) {
      $("wrapup-caller").textContent = state.wrap_up.caller_name || "";
      setLink($("wrapup-case"), state.wrap_up.case_url);
      var left = state.wrap_up.seconds_left;
      $("wrapup-left").textContent = left === null || left === undefined ? "" : fill(S.wrap_up_left, { s: left });
      if (!lastWrapUp) $("wrapup-heading").focus();
    }
    lastWrapUp = !!wrap;
  }

  function noticeNewCallers(state) {
    var ids = {};
    var fresh = [];
    state.waiting.forEach(function (entry) {
      ids[entry.id] = true;
      if (seenWaiting && !seenWaiting[entry.id]) fresh.push(entry);
    });
    seenWaiting = ids;
    if (fresh.length && state.me.presence === "available" && !state.current) alertNewCaller(fresh[0]);
  }

  function draw(state) {
    stats.state = state;
    if (state.current) {
      // On a call now: the alert about a new caller has done its job.
      clearTimeout(alertTimer);
      $("new-caller-alert").hidden = true;
      document.title = titleBase;
    }
    drawMe(state);
    drawWaiting(state);
    drawCurrent(state);
    drawWrapUp(state);
    noticeNewCallers(state);
  }

  // ------------------------------------------------------------------ talking to the server

  var pollTimer = null;

  function poll() {
    clearTimeout(pollTimer);
    fetch(api, { headers: { Accept: "application/json" }, credentials: "same-origin", cache: "no-store" })
      .then(function (response) {
        if (response.status === 401) {
          window.location.href = app.getAttribute("data-login");
          throw new Error("signed out");
        }
        if (!response.ok) throw new Error("HTTP " + response.status);
        return response.json();
      })
      .then(function (state) {
        stats.polls += 1;
        if ($("queue-message").getAttribute("data-offline")) {
          $("queue-message").removeAttribute("data-offline");
          say("");
        }
        draw(state);
      })
      .catch(function () {
        $("queue-message").setAttribute("data-offline", "1");
        say(S.offline, true);
      })
      .then(function () { pollTimer = setTimeout(poll, pollMs); });
  }

  function post(path, fields) {
    var body = new URLSearchParams(fields || {});
    return fetch(path, {
      method: "POST",
      body: body,
      credentials: "same-origin",
      headers: { "X-CSRFToken": csrf, Accept: "application/json" },
    })
      .then(function (response) {
        return response.json().catch(function () { return { ok: false, error: S.error }; });
      })
      .then(function (result) {
        if (!result.ok) say(result.error || S.error, true);
        else say("");
        poll();
        return result;
      })
      .catch(function () { say(S.error, true); });
  }

  function base() { return api.replace(/\/?$/, ""); }

  function take(entryId) {
    ensureAudio();
    var path = entryId ? base() + "/" + entryId + "/take" : base() + "/take-next";
    return post(path, { via: $("via").value });
  }

  function action(name, fields) {
    var current = stats.state && stats.state.current;
    if (!current) return;
    post(base() + "/" + current.id + "/" + name, fields);
  }

  var apiRoot = api.replace(/\/queue\/?$/, "");
  $("take-next").addEventListener("click", function () { take(null); });
  $("set-available").addEventListener("click", function () { post(apiRoot + "/presence", { presence: "available" }); });
  $("set-away").addEventListener("click", function () {
    post(apiRoot + "/presence", { presence: "away", reason: $("away-reason").value });
  });
  $("hold").addEventListener("click", function () { action("hold"); });
  $("resume").addEventListener("click", function () { action("resume"); });
  $("hangup").addEventListener("click", function () { action("hangup"); });
  $("transfer").addEventListener("click", function () { action("transfer", { to: $("transfer-to").value }); });
  $("hand-over").addEventListener("click", function () { action("hand-over"); });
  $("cancel-transfer").addEventListener("click", function () { action("cancel-transfer"); });
  $("wrap-up-done").addEventListener("click", function () { post(apiRoot + "/wrap-up/done"); });
  $("wrap-up-extend").addEventListener("click", function () { post(apiRoot + "/wrap-up/extend"); });

  // ------------------------------------------------------------------ answering in the browser
  // Only where the line allows it and the page loaded Twilio's Voice JS SDK (TWILIO_VOICE_SDK_URL).
  // The app rings "client:operator-<id>"; the operator accepts here. Not exercised by the tests:
  // the SDK needs Twilio's servers.
  var device = null;
  function setUpBrowserPhone() {
    if (device || !window.Twilio || !window.Twilio.Device) return;
    fetch(app.getAttribute("data-token-url"), { credentials: "same-origin" })
      .then(function (r) { return r.json(); })
      .then(function (result) {
        if (!result.ok) return;
        device = new window.Twilio.Device(result.token, { closeProtection: true });
        device.on("incoming", function (call) {
          call.accept();
        });
        device.on("tokenWillExpire", function () {
          fetch(app.getAttribute("data-token-url"), { credentials: "same-origin" })
            .then(function (r) { return r.json(); })
            .then(function (again) { if (again.ok) device.updateToken(again.token); });
        });
        device.register();
      })
      .catch(function () { say(S.error, true); });
  }
  var via = $("via");
  if (via && via.tagName === "SELECT") {
    via.addEventListener("change", function () { if (via.value === "browser") setUpBrowserPhone(); });
  }

  poll();
})();
