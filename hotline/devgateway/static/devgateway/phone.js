// The dev phone: polls the gateway's JSON API every 500 ms (which keeps this number registered),
// speaks prompts with speechSynthesis, sends keys, typed speech, hang-ups and SMS.
// Everything that came from the app or a user is put in the page with textContent only.
"use strict";

(() => {
  const NUMBER = document.body.dataset.number;
  const $ = (id) => document.getElementById(id);
  const ENDED = ["completed", "busy", "failed", "no-answer", "canceled"];
  const ACTIVITY = {
    "ringing": ["响铃中", "Ringing"],
    "in-progress": ["通话中", "In call"],
    "speaking": ["正在播放提示", "Playing a prompt"],
    "playing": ["正在播放录音", "Playing audio"],
    "gathering": ["请听提示，可以随时按键", "Prompt playing, keys accepted"],
    "listening": ["请按键或说话", "Waiting for your input"],
    "queued": ["排队等候中", "Waiting in the queue"],
    "dialing": ["正在为您转接", "Connecting you"],
    "connected": ["已接通", "Connected"],
    "conference": ["会议通话中", "In the conference"],
    "conference-waiting": ["等待对方加入", "Waiting for the conference to start"],
    "on-hold": ["保持中，请稍候", "On hold"],
    "recording": ["录音中", "Recording"],
    "ended": ["通话已结束", "Call ended"],
  };

  let since = 0;
  let firstPoll = true;
  let state = null;
  let lastTranscriptCall = null;
  let inboxSignature = "";

  // ------------------------------------------------------------------ audio

  function mapLang(lang) {
    const table = { "yue-hk": "zh-HK", "zh-hk": "zh-HK", "cmn-cn": "zh-CN", "zh-cn": "zh-CN", "cmn-tw": "zh-TW" };
    return table[(lang || "").toLowerCase()] || lang || "en-US";
  }

  function pickVoice(lang) {
    if (!("speechSynthesis" in window)) return null;
    const voices = window.speechSynthesis.getVoices();
    const wanted = lang.toLowerCase();
    return voices.find((v) => v.lang.replace("_", "-").toLowerCase() === wanted)
      || voices.find((v) => v.lang.toLowerCase().startsWith(wanted.split("-")[0]))
      || null;
  }

  // One thing at a time, like a phone line: a spoken segment, a pause, an audio URL.
  const media = {
    items: [],
    busy: false,
    audio: null,
    timer: null,
    push(item) {
      if (!$("sound").checked) return;
      this.items.push(item);
      if (!this.busy) this.next();
    },
    clear() {
      this.items = [];
      if ("speechSynthesis" in window) window.speechSynthesis.cancel();
      if (this.audio) { this.audio.pause(); this.audio = null; }
      clearTimeout(this.timer);
      this.busy = false;
    },
    next() {
      clearTimeout(this.timer);
      const item = this.items.shift();
      if (!item) { this.busy = false; return; }
      this.busy = true;
      let finished = false;
      const done = () => { if (!finished) { finished = true; this.next(); } };
      if (item.type === "say") {
        if (!("speechSynthesis" in window)) { done(); return; }
        const utterance = new SpeechSynthesisUtterance(item.text);
        utterance.lang = item.lang;
        utterance.rate = item.rate || 1;
        const voice = pickVoice(item.lang);
        if (voice) utterance.voice = voice;
        utterance.onend = done;
        utterance.onerror = done;
        window.speechSynthesis.speak(utterance);
        // Some browsers never fire onend: do not let the queue stall.
        this.timer = setTimeout(done, (item.text.length / 3 / (item.rate || 1) + 3) * 1000);
      } else if (item.type === "pause") {
        this.timer = setTimeout(done, item.seconds * 1000);
      } else if (item.type === "play") {
        const audio = new Audio(item.url);
        this.audio = audio;
        audio.onended = done;
        audio.onerror = done;
        audio.play().catch(done);
      } else {
        done();
      }
    },
  };

  function speakEvent(event) {
    if (event.kind === "stop") { media.clear(); return; }
    if (event.kind === "play" && event.url && /^https?:\/\//.test(event.url)) {
      media.push({ type: "play", url: event.url });
      return;
    }
    if (event.kind === "peer") {
      // What the other party typed: read aloud, as if they had said it.
      media.push({ type: "say", text: event.text, rate: 1, lang: /[\u3400-\u9fff]/.test(event.text) ? "zh-CN" : "en-US" });
      return;
    }
    if (event.kind !== "say" && !(event.kind === "error" && event.speech_lang)) return;
    const segments = event.segments && event.segments.length ? event.segments : [{ text: event.text, rate: event.rate }];
    for (const segment of segments) {
      if (segment.pause) media.push({ type: "pause", seconds: segment.pause });
      if (segment.text) {
        media.push({
          type: "say",
          text: segment.text,
          rate: segment.rate || event.rate || 1,
          lang: segment.language ? mapLang(segment.language) : (event.speech_lang || "en-US"),
        });
      }
    }
  }

  // ------------------------------------------------------------------ API

  async function api(method, path, body) {
    const options = { method, headers: {} };
    if (body !== undefined) {
      options.headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(body);
    }
    const response = await fetch(path, options);
    let data = null;
    try { data = await response.json(); } catch (e) { data = null; }
    if (!response.ok) throw new Error((data && (data.error || data.message)) || response.statusText);
    return data;
  }

  function phonePath(suffix) {
    return "/api/phones/" + encodeURIComponent(NUMBER) + (suffix || "");
  }

  function flashError(message) {
    const box = $("status-error");
    box.textContent = "⚠ " + message;
    box.hidden = false;
  }

  async function act(method, path, body) {
    try {
      return await api(method, path, body);
    } catch (error) {
      flashError(error.message);
      return null;
    }
  }

  // ------------------------------------------------------------------ rendering

  function timeOf(epochSeconds) {
    return new Date(epochSeconds * 1000).toLocaleTimeString("zh-CN", { hour12: false });
  }

  function li(className, children) {
    const item = document.createElement("li");
    item.className = className;
    for (const child of children) item.appendChild(child);
    return item;
  }

  function span(className, text) {
    const element = document.createElement("span");
    element.className = className;
    element.textContent = text;
    return element;
  }

  const KIND_LABEL = {
    say: "🔊", play: "🎵", music: "🎵", pause: "…", listen: "👂", key: "⌨", speech: "🗣",
    record: "⏺", ring: "📞", status: "ℹ", connected: "🔗", conference: "👥", peer: "💬",
    note: "·", warning: "⚠", error: "⛔", stop: "✋", queue: "⏳",
  };

  function appendTranscript(event) {
    const list = $("transcript");
    if (event.call_sid !== lastTranscriptCall) {
      lastTranscriptCall = event.call_sid;
      list.appendChild(li("call-start kind-note", [span("time", timeOf(event.at)), span("text", "通话 Call " + event.call_sid)]));
    }
    const body = document.createElement("div");
    body.appendChild(span("text", (KIND_LABEL[event.kind] || "") + " " + event.text));
    const meta = [];
    if (event.kind === "say") {
      if (event.language) meta.push(event.language);
      if (event.rate && event.rate !== 1) meta.push("rate " + Math.round(event.rate * 100) + "%");
      if (event.voice) meta.push(event.voice);
    }
    if (event.url && event.kind !== "play") meta.push(event.url);
    if (meta.length) body.appendChild(span("meta", meta.join(" · ")));
    list.appendChild(li("kind-" + event.kind, [span("time", timeOf(event.at)), body]));
    list.scrollTop = list.scrollHeight;
  }

  function describeCall(call) {
    const [zh, en] = ACTIVITY[call.activity] || ACTIVITY[call.status] || [call.status, call.status];
    const main = $("status-main");
    main.textContent = zh + " ";
    main.appendChild(span("en", en));
    const detail = [];
    const other = call.direction === "inbound" ? call.to : call.from;
    detail.push((call.direction === "inbound" ? "呼出 to " : "来电 from ") + other);
    if (call.queue) detail.push("队列 " + call.queue.name + " · 第 " + call.queue.position + " 位 / 共 " + call.queue.size + " 人");
    if (call.connected_with.length) detail.push("与 " + call.connected_with.map((c) => c.number).join(", ") + " 通话");
    if (call.conference) {
      const others = call.conference.participants.filter((p) => p.call_sid !== call.sid)
        .map((p) => (p.number || p.call_sid) + (p.hold ? " (保持)" : "") + (p.muted ? " (静音)" : ""));
      detail.push("会议 " + call.conference.name + "：" + (others.length ? others.join(", ") : "只有你"));
    }
    $("status-detail").textContent = detail.join(" · ");
    const expecting = call.expecting;
    let hint = "";
    if (expecting && expecting.type === "gather") {
      const parts = [];
      if (expecting.input.includes("dtmf")) parts.push(expecting.num_digits ? "按 " + expecting.num_digits + " 位键" : "按键" + (expecting.finish_on_key ? "，以 " + expecting.finish_on_key + " 结束" : ""));
      if (expecting.input.includes("speech")) parts.push("或直接说话 (" + expecting.language + ")");
      hint = "👂 " + parts.join(" ") + " · " + expecting.timeout + " 秒";
    } else if (expecting && expecting.type === "record") {
      hint = "⏺ 请说出留言（在下面打字），按 " + (expecting.finish_on_key || "挂断") + " 结束";
    }
    $("status-expect").textContent = hint;
  }

  function render(next) {
    state = next;
    const registration = $("registration");
    registration.textContent = next.registered ? "✓ 已在线，可以接听来电 (registered)" : "未注册 (not registered)";
    registration.className = "registration" + (next.registered ? " on" : "");

    const incoming = next.incoming[0];
    $("incoming").hidden = !incoming;
    if (incoming) $("incoming-from").textContent = incoming.from;

    const status = $("status");
    const call = next.call;
    status.className = "status" + (call ? " live" : "") + (incoming ? " ringing" : "");
    if (call) {
      describeCall(call);
      if (call.error) flashError(call.error.code + ": " + call.error.message);
    } else {
      const main = $("status-main");
      main.textContent = "空闲 ";
      main.appendChild(span("en", "Idle"));
      const last = next.last_call;
      $("status-detail").textContent = last && ENDED.includes(last.status)
        ? "上次通话 Last call: " + last.status + (last.end_reason ? " — " + last.end_reason : "")
        : "";
      $("status-expect").textContent = "";
    }
    const live = Boolean(call);
    document.querySelectorAll(".key, #speech-form button, #skip").forEach((b) => { b.disabled = !live; });
    $("hangup").disabled = !live && !incoming;
    $("dial").disabled = live;

    for (const event of next.events) {
      appendTranscript(event);
      if (!firstPoll) speakEvent(event);
      if (event.kind === "status" && event.data && ENDED.includes(event.data.status)) media.clear();
    }
    renderInbox(next.messages);
  }

  function renderInbox(messages) {
    const signature = messages.map((m) => m.sid + m.status).join("|");
    if (signature === inboxSignature) return;
    inboxSignature = signature;
    const list = $("inbox");
    list.replaceChildren();
    for (const message of messages) {
      const mine = message.from === NUMBER;
      const item = li(mine ? "in" : "out", [
        span("meta", message.created_at.slice(11, 19) + " · " + message.from + " → " + message.to + " · " + message.status + " · " + message.segments + " 段"),
        span("body", message.body),
      ]);
      list.appendChild(item);
    }
    list.scrollTop = list.scrollHeight;
  }

  async function poll() {
    try {
      const next = await api("GET", phonePath("?since=" + since));
      render(next);
      since = next.last_event_id;
      firstPoll = false;
      setTimeout(poll, 500);
    } catch (error) {
      $("registration").textContent = "⚠ 网关连接失败 Gateway unreachable: " + error.message;
      $("registration").className = "registration";
      setTimeout(poll, 2000);
    }
  }

  // ------------------------------------------------------------------ actions

  function liveSid() {
    return state && state.call ? state.call.sid : null;
  }

  // Keys and words reach the call in the order they were given: one request at a time.
  let inputChain = Promise.resolve();

  function inOrder(task) {
    inputChain = inputChain.then(task, task);
    return inputChain;
  }

  function press(key) {
    const sid = liveSid();
    if (!sid) return;
    const button = document.querySelector('.key[data-key="' + CSS.escape(key) + '"]');
    if (button) { button.classList.add("flash"); setTimeout(() => button.classList.remove("flash"), 150); }
    inOrder(() => act("POST", "/api/calls/" + sid + "/digits", { digits: key, timeout: 5 }));
  }

  async function hangUp() {
    media.clear();
    const sid = liveSid() || (state && state.incoming[0] && state.incoming[0].call_sid);
    if (sid) await act("POST", "/api/calls/" + sid + "/hangup", { wait: "none" });
  }

  $("dial-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    $("status-error").hidden = true;
    media.clear();
    await act("POST", phonePath("/calls"), { to: $("line").value, wait: "none" });
  });

  $("speech-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const sid = liveSid();
    const text = $("speech").value.trim();
    if (!sid || !text) return;
    $("speech").value = "";
    const path = state.call.expecting && state.call.expecting.type === "record" ? "/record" : "/speech";
    const body = path === "/record" ? { text, finish_key: null } : { text, confidence: Number($("confidence").value) };
    await inOrder(() => act("POST", "/api/calls/" + sid + path, body));
  });

  $("sms-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = $("sms-body").value.trim();
    if (!body) return;
    $("sms-body").value = "";
    await act("POST", phonePath("/messages"), { to: $("line").value, body, wait: "none" });
  });

  document.querySelectorAll(".key").forEach((button) => {
    button.addEventListener("click", () => press(button.dataset.key));
  });
  $("hangup").addEventListener("click", hangUp);
  $("skip").addEventListener("click", async () => {
    const sid = liveSid();
    if (sid) { media.clear(); await act("POST", "/api/calls/" + sid + "/timeout", { wait: "none" }); }
  });
  $("answer").addEventListener("click", async () => {
    const incoming = state && state.incoming[0];
    if (incoming) await act("POST", "/api/calls/" + incoming.call_sid + "/answer", { wait: "none" });
  });
  $("answer-machine").addEventListener("click", async () => {
    // Answering-machine detection: the call is answered, AnsweredBy says a machine (the hotline
    // then leaves a short message, and a check-in counts the call as missed).
    const incoming = state && state.incoming[0];
    if (incoming) {
      await act("POST", "/api/calls/" + incoming.call_sid + "/answer",
        { wait: "none", answered_by: "machine_end_beep" });
    }
  });
  $("decline").addEventListener("click", async () => {
    const incoming = state && state.incoming[0];
    if (incoming) await act("POST", "/api/calls/" + incoming.call_sid + "/decline", { wait: "none" });
  });
  $("sound").addEventListener("change", () => { if (!$("sound").checked) media.clear(); });

  document.addEventListener("keydown", (event) => {
    const typing = event.target.matches && event.target.matches(
      "input:not([type=checkbox]):not([type=radio]), textarea, select");
    if (event.key === "Escape") { event.preventDefault(); hangUp(); return; }
    if (typing || event.ctrlKey || event.metaKey || event.altKey) return;
    if (/^[0-9*#]$/.test(event.key) && liveSid()) { event.preventDefault(); press(event.key); return; }
    if (event.key === "Enter" && state && state.incoming.length && event.target.tagName !== "BUTTON") {
      event.preventDefault();
      $("answer").click();
    }
  });

  if ("speechSynthesis" in window) window.speechSynthesis.getVoices();
  poll();
})();
