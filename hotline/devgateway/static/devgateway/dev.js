// The developer page: problems, calls, REST requests, SMS and webhook exchanges, newest first.
// Everything is inserted with textContent, so whatever the app sent is shown escaped.
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);
  let selectedCall = null;
  const signatures = {};

  async function api(path) {
    const response = await fetch(path);
    if (!response.ok) throw new Error(response.status + " " + response.statusText);
    return response.json();
  }

  function el(tag, text, className) {
    const element = document.createElement(tag);
    if (text !== undefined && text !== null) element.textContent = String(text);
    if (className) element.className = className;
    return element;
  }

  function row(cells, className) {
    const tr = document.createElement("tr");
    if (className) tr.className = className;
    for (const cell of cells) {
      if (cell instanceof Node) {
        const td = document.createElement("td");
        td.appendChild(cell);
        tr.appendChild(td);
      } else {
        tr.appendChild(el("td", cell));
      }
    }
    return tr;
  }

  function time(epochSeconds) {
    return new Date(epochSeconds * 1000).toLocaleTimeString("zh-CN", { hour12: false });
  }

  function isoTime(iso) {
    return iso ? new Date(iso).toLocaleTimeString("zh-CN", { hour12: false }) : "";
  }

  function pairs(list) {
    return list.map(([key, value]) => key + " = " + value).join("\n");
  }

  function changed(name, value) {
    const signature = JSON.stringify(value);
    if (signatures[name] === signature) return false;
    signatures[name] = signature;
    return true;
  }

  function renderProblems(problems) {
    if (!changed("problems", problems)) return;
    const errors = problems.filter((p) => p.severity === "error").length;
    $("problems").className = "problems" + (errors ? " has-errors" : "");
    $("problem-count").textContent = errors ? errors + " 个错误 errors" : "无错误 no errors";
    $("problem-count").className = "count" + (errors ? "" : " good");
    const list = $("problem-list");
    list.replaceChildren();
    for (const problem of problems) {
      const item = el("li", null, problem.severity);
      item.appendChild(el("span", time(problem.at) + " [" + problem.code + "] " + problem.message));
      const detail = [problem.url, problem.call_sid, problem.detail].filter(Boolean).join(" · ");
      if (detail) item.appendChild(el("span", detail, "detail"));
      list.appendChild(item);
    }
  }

  function renderCalls(calls) {
    if (!changed("calls", [calls, selectedCall])) return;
    const body = $("calls");
    body.replaceChildren();
    for (const call of calls) {
      const tr = row([
        isoTime(call.created_at), call.sid, call.from + " → " + call.to, call.direction,
        call.status + (call.end_reason ? " (" + call.end_reason + ")" : ""),
        call.activity + (call.error ? " ⚠ " + call.error.code : ""),
      ], "clickable" + (call.sid === selectedCall ? " selected" : ""));
      tr.tabIndex = 0;
      tr.addEventListener("click", () => { selectedCall = call.sid; refresh(); });
      tr.addEventListener("keydown", (event) => { if (event.key === "Enter") { selectedCall = call.sid; refresh(); } });
      body.appendChild(tr);
    }
  }

  function renderRooms(queues, conferences) {
    if (!changed("rooms", [queues, conferences])) return;
    const list = $("rooms");
    list.replaceChildren();
    for (const queue of queues) {
      const waiting = queue.members.map((m) => m.number + " (" + m.wait_time + " s)").join(", ") || "—";
      list.appendChild(el("li", "队列 Queue " + queue.name + " " + queue.sid + ": " + waiting));
    }
    for (const conference of conferences) {
      const people = conference.participants.map((p) => (p.label ? p.label + " " : "") + (p.number || p.call_sid) + " [" + p.status + (p.hold ? ", hold" : "") + (p.muted ? ", muted" : "") + "]").join(", ") || "—";
      list.appendChild(el("li", "会议 Conference " + conference.name + " (" + conference.status + "): " + people));
    }
    if (!list.children.length) list.appendChild(el("li", "—"));
  }

  function renderRest(requests) {
    if (!changed("rest", requests.length ? requests[0].id + ":" + requests[0].status_code + ":" + requests.length : "")) return;
    const body = $("rest");
    body.replaceChildren();
    for (const request of requests) {
      const params = el("td", pairs(request.form.length ? request.form : request.query), "params");
      const tr = row([time(request.at), request.method, request.path, request.status_code + (request.authorized ? "" : " (unauthorized)")]);
      tr.appendChild(params);
      body.appendChild(tr);
    }
  }

  function renderSms(messages) {
    if (!changed("sms", messages)) return;
    const body = $("sms");
    body.replaceChildren();
    for (const message of messages) {
      body.appendChild(row([isoTime(message.created_at), message.from + " → " + message.to, message.direction, message.status, message.body]));
    }
  }

  function exchangeItem(exchange) {
    const failed = exchange.error || !exchange.status_code || exchange.status_code >= 400;
    const item = el("li", null, failed ? "failed" : "");
    const details = document.createElement("details");
    const summary = el("summary", time(exchange.at) + " " + exchange.kind + " " + exchange.method + " " + exchange.url + " → "
      + (exchange.error || exchange.status_code) + " (" + exchange.elapsed_ms + " ms)" + (exchange.note ? " · " + exchange.note : ""));
    details.appendChild(summary);
    details.appendChild(el("h4", "请求参数 Request params"));
    details.appendChild(el("pre", pairs(exchange.params)));
    details.appendChild(el("h4", "响应 Response " + (exchange.content_type || "")));
    details.appendChild(el("pre", exchange.response_body || "(empty)"));
    item.appendChild(details);
    return item;
  }

  function renderExchanges(target, exchanges, name) {
    if (!changed(name, exchanges.length ? exchanges[0].id + ":" + exchanges.length : "")) return;
    const list = $(target);
    list.replaceChildren();
    for (const exchange of exchanges) list.appendChild(exchangeItem(exchange));
  }

  async function renderDetail() {
    if (!selectedCall) return;
    const call = await api("/api/calls/" + selectedCall);
    $("call-detail").hidden = false;
    $("detail-sid").textContent = call.sid + " · " + call.from + " → " + call.to + " · " + call.status;
    if (changed("detail-transcript", [call.sid, call.transcript.length])) {
      const list = $("detail-transcript");
      list.replaceChildren();
      for (const event of call.transcript) {
        const item = el("li", null, "kind-" + event.kind);
        item.appendChild(el("span", time(event.at), "time"));
        item.appendChild(el("span", event.kind + ": " + event.text + (event.kind === "say" && event.rate !== 1 ? " (rate " + event.rate + ")" : ""), "text"));
        list.appendChild(item);
      }
    }
    renderExchanges("detail-exchanges", call.exchanges.slice().reverse(), "detail-exchanges-" + call.sid);
  }

  async function refresh() {
    try {
      const [problems, calls, rest, sms, exchanges, queues, conferences] = await Promise.all([
        api("/api/problems"), api("/api/calls"), api("/api/rest-requests"), api("/api/messages"),
        api("/api/exchanges"), api("/api/queues"), api("/api/conferences"),
      ]);
      renderProblems(problems.problems);
      renderCalls(calls.calls);
      renderRooms(queues.queues, conferences.conferences);
      renderRest(rest.requests);
      renderSms(sms.messages);
      renderExchanges("exchanges", exchanges.exchanges.slice(0, 60), "exchanges");
      await renderDetail();
    } catch (error) {
      $("problem-count").textContent = "⚠ 网关连接失败 Gateway unreachable: " + error.message;
    }
  }

  async function loop() {
    if (!$("pause").checked) await refresh();
    setTimeout(loop, 1000);
  }

  loop();
})();
