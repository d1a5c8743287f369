/*!
 * Handoff chat widget.
 * <script src="https://handoff.example.com/widget.js" data-agent="CONNECTION_KEY" async></script>
 * Optional: data-open="true" opens the chat on load.
 * API: window.HandoffWidget.open() / .close() / .toggle()
 *
 * One file, no dependencies, ES2018. Everything lives in a shadow root so the host
 * page and the widget cannot restyle each other. Message text only ever goes in
 * through textContent.
 */
(function () {
  "use strict";

  if (window.HandoffWidget || window.__handoffWidgetLoaded) return;
  window.__handoffWidgetLoaded = true;

  var script = document.currentScript || document.querySelector('script[data-agent][src*="widget.js"]');
  if (!script) return;
  var KEY = script.getAttribute("data-agent") || "";
  if (!KEY) {
    if (window.console) console.warn("Handoff widget: the script tag needs a data-agent attribute.");
    return;
  }
  var baseUrl;
  try {
    baseUrl = new URL(script.src, window.location.href);
  } catch (error) {
    return;
  }
  var SOCKET_BASE = (baseUrl.protocol === "https:" ? "wss://" : "ws://") + baseUrl.host;
  var OPEN_ON_LOAD = String(script.getAttribute("data-open") || "").toLowerCase() === "true";

  var TOKEN_KEY = "handoff:token:" + KEY;
  var OUTBOX_KEY = "handoff:outbox:" + KEY;
  var PING_EVERY_MS = 25000;
  var BACKOFF_MIN_MS = 1000;
  var BACKOFF_MAX_MS = 30000;
  var MAX_LENGTH = 20000;

  // ------------------------------------------------------------ storage

  var memoryStore = {};
  var store = {
    get: function (key) {
      try {
        return window.localStorage.getItem(key);
      } catch (error) {
        return Object.prototype.hasOwnProperty.call(memoryStore, key) ? memoryStore[key] : null;
      }
    },
    set: function (key, value) {
      try {
        window.localStorage.setItem(key, value);
      } catch (error) {
        memoryStore[key] = value;
      }
    },
    remove: function (key) {
      try {
        window.localStorage.removeItem(key);
      } catch (error) {
        delete memoryStore[key];
      }
    },
  };

  function loadOutbox() {
    try {
      var parsed = JSON.parse(store.get(OUTBOX_KEY) || "[]");
      if (!Array.isArray(parsed)) return [];
      return parsed.filter(function (item) {
        return item && typeof item.client_id === "string" && typeof item.text === "string";
      });
    } catch (error) {
      return [];
    }
  }

  function saveOutbox() {
    if (state.outbox.length) store.set(OUTBOX_KEY, JSON.stringify(state.outbox));
    else store.remove(OUTBOX_KEY);
  }

  function uuid() {
    var cryptoObj = window.crypto || window.msCrypto;
    if (cryptoObj && typeof cryptoObj.randomUUID === "function") {
      try {
        return cryptoObj.randomUUID();
      } catch (error) {
        // not a secure context: fall through
      }
    }
    var bytes = new Uint8Array(16);
    if (cryptoObj && typeof cryptoObj.getRandomValues === "function") {
      cryptoObj.getRandomValues(bytes);
    } else {
      for (var i = 0; i < 16; i++) bytes[i] = Math.floor(Math.random() * 256);
    }
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    var hex = [];
    for (var j = 0; j < 16; j++) hex.push((bytes[j] + 0x100).toString(16).slice(1));
    return hex.slice(0, 4).join("") + "-" + hex.slice(4, 6).join("") + "-" + hex.slice(6, 8).join("") + "-" +
      hex.slice(8, 10).join("") + "-" + hex.slice(10, 16).join("");
  }

  // ------------------------------------------------------------ state

  var state = {
    token: store.get(TOKEN_KEY) || "",
    agentName: "",
    messages: {}, // id -> WidgetMessage
    outbox: loadOutbox(), // [{client_id, text, created_at, state: "sending"|"failed", error}]
    open: false,
    unread: false,
    ready: false, // hello received on the current socket
    everConnected: false,
    unavailable: false,
  };

  // ------------------------------------------------------------ DOM

  var STYLE = [
    ":host{all:initial;}",
    ".hw{--accent:#4f46e5;--accent-strong:#4338ca;--on-accent:#fff;--bg:#fff;--surface:#f4f5f8;--border:#e4e7ec;",
    "--text:#1d2330;--muted:#667085;--danger:#c0362c;--focus:#6366f1;",
    "font-family:system-ui,-apple-system,'Segoe UI',Roboto,'Helvetica Neue',Arial,'Noto Sans',sans-serif;",
    "font-size:14.5px;line-height:1.45;color:var(--text);-webkit-font-smoothing:antialiased;}",
    "@media (prefers-color-scheme:dark){.hw{--accent:#6366f1;--accent-strong:#818cf8;--bg:#171b23;--surface:#232936;",
    "--border:#2f3644;--text:#e6e8ee;--muted:#9aa3b2;--danger:#f28b82;--focus:#a5b4fc;}}",
    ".hw *,.hw *::before,.hw *::after{box-sizing:border-box;}",
    "[hidden]{display:none !important;}",
    "button,textarea{font:inherit;color:inherit;}",
    ":focus-visible{outline:2px solid var(--focus);outline-offset:2px;}",
    // launcher
    ".launcher{position:fixed;right:20px;bottom:20px;z-index:2147483000;width:58px;height:58px;border:0;border-radius:50%;",
    "background:var(--accent);color:var(--on-accent);cursor:pointer;display:grid;place-items:center;",
    "box-shadow:0 6px 20px rgba(16,24,40,.28);transition:transform .15s ease,background-color .15s;}",
    ".launcher:hover{transform:scale(1.05);background:var(--accent-strong);}",
    ".launcher:active{transform:scale(.97);}",
    ".launcher svg{width:26px;height:26px;}",
    ".launcher .icon-close{display:none;}",
    ".launcher[aria-expanded=true] .icon-chat{display:none;}",
    ".launcher[aria-expanded=true] .icon-close{display:block;}",
    ".dot{position:absolute;top:3px;right:3px;width:14px;height:14px;border-radius:50%;background:#ef4444;border:2px solid #fff;}",
    // panel
    ".panel{position:fixed;right:20px;bottom:90px;z-index:2147483000;width:360px;height:520px;",
    "max-height:calc(100vh - 110px);max-width:calc(100vw - 40px);display:flex;flex-direction:column;overflow:hidden;",
    "background:var(--bg);border:1px solid var(--border);border-radius:16px;box-shadow:0 16px 48px rgba(16,24,40,.22);",
    "animation:hw-in .18s ease-out;transform-origin:bottom right;}",
    "@keyframes hw-in{from{opacity:0;transform:translateY(8px) scale(.98);}}",
    ".header{display:flex;align-items:center;gap:10px;padding:14px 12px 14px 16px;background:var(--accent);color:var(--on-accent);}",
    ".avatar{flex:none;display:grid;place-items:center;width:36px;height:36px;border-radius:50%;",
    "background:rgba(255,255,255,.2);font-weight:700;font-size:14px;}",
    ".titles{flex:1;min-width:0;}",
    ".title{font-weight:650;font-size:15.5px;overflow:hidden;text-overflow:ellipsis;white-space:nowrap;}",
    ".subtitle{font-size:12.5px;opacity:.85;}",
    ".close{flex:none;display:grid;place-items:center;width:34px;height:34px;border:0;border-radius:8px;background:transparent;",
    "color:inherit;cursor:pointer;}",
    ".close:hover{background:rgba(255,255,255,.16);}",
    ".close:focus-visible{outline-color:#fff;outline-offset:-2px;}",
    ".status{padding:6px 12px;font-size:12.5px;text-align:center;color:var(--muted);background:var(--surface);border-bottom:1px solid var(--border);}",
    ".status[data-kind=error]{color:var(--danger);}",
    ".messages{flex:1;min-height:0;overflow-y:auto;padding:16px 14px 8px;display:flex;flex-direction:column;gap:3px;",
    "overscroll-behavior:contain;}",
    ".intro{margin:4px auto 14px;max-width:260px;text-align:center;color:var(--muted);font-size:13.5px;}",
    ".intro strong{display:block;margin-bottom:2px;color:var(--text);font-size:15px;}",
    ".msg{display:flex;flex-direction:column;max-width:82%;}",
    ".msg.first{margin-top:10px;}",
    ".msg-user{align-self:flex-end;align-items:flex-end;}",
    ".msg-ai,.msg-teammate{align-self:flex-start;align-items:flex-start;}",
    ".author{margin:0 6px 3px;font-size:12px;color:var(--muted);font-weight:600;}",
    ".bubble{padding:8px 12px;border-radius:16px;white-space:pre-wrap;overflow-wrap:anywhere;word-break:break-word;}",
    ".msg-user .bubble{background:var(--accent);color:var(--on-accent);border-bottom-right-radius:5px;}",
    ".msg-ai .bubble,.msg-teammate .bubble{background:var(--surface);border-bottom-left-radius:5px;}",
    ".msg-teammate .bubble{box-shadow:inset 3px 0 0 var(--accent);}",
    ".msg.pending .bubble{opacity:.7;}",
    ".msg.failed .bubble{background:transparent;color:var(--text);border:1px solid var(--danger);}",
    ".meta{margin:3px 6px 0;font-size:11.5px;color:var(--muted);}",
    ".meta.error{color:var(--danger);}",
    ".retry{padding:0;border:0;background:none;color:var(--accent);font-size:inherit;font-weight:600;text-decoration:underline;cursor:pointer;}",
    ".msg-system{align-self:center;max-width:92%;margin:10px 0;}",
    ".notice{padding:5px 12px;border-radius:999px;background:var(--surface);color:var(--muted);font-size:12.5px;",
    "text-align:center;overflow-wrap:anywhere;}",
    ".composer{display:flex;align-items:flex-end;gap:8px;margin:8px 10px 4px;padding:6px 6px 6px 12px;",
    "border:1px solid var(--border);border-radius:14px;background:var(--bg);}",
    ".composer:focus-within{border-color:var(--focus);box-shadow:0 0 0 3px rgba(99,102,241,.2);}",
    ".input{flex:1;min-height:22px;max-height:120px;padding:6px 0;border:0;outline:none;resize:none;background:transparent;line-height:1.4;}",
    ".input::placeholder{color:var(--muted);}",
    ".send{flex:none;display:grid;place-items:center;width:36px;height:36px;border:0;border-radius:10px;",
    "background:var(--accent);color:var(--on-accent);cursor:pointer;}",
    ".send:hover{background:var(--accent-strong);}",
    ".send:disabled{opacity:.45;cursor:default;}",
    ".typing{min-height:18px;padding:0 16px;font-size:12px;color:var(--muted);font-style:italic;}",
    ".typing-dots{display:inline-block;margin-left:2px;animation:hw-blink 1.2s ease-in-out infinite;}",
    "@keyframes hw-blink{50%{opacity:.3;}}",
    ".brand{padding:2px 0 8px;text-align:center;font-size:11px;color:var(--muted);}",
    "@media (max-width:480px){",
    ".panel{inset:0;right:0;bottom:0;width:100%;height:100%;max-width:none;max-height:none;border-radius:0;border:0;}",
    ".launcher[aria-expanded=true]{display:none;}",
    ".launcher{right:16px;bottom:16px;}",
    "}",
    "@media (prefers-reduced-motion:reduce){.panel{animation:none;}.launcher{transition:none;}}",
  ].join("");

  var ICON_CHAT = '<svg class="icon-chat" viewBox="0 0 24 24" fill="none" aria-hidden="true"><path d="M4 5.5A2.5 2.5 0 0 1 6.5 3h11A2.5 2.5 0 0 1 20 5.5v8a2.5 2.5 0 0 1-2.5 2.5H10l-4.2 3.6c-.5.4-1.3.1-1.3-.6V16A2.5 2.5 0 0 1 4 13.5v-8Z" fill="currentColor"/></svg>';
  var ICON_CLOSE = '<svg class="icon-close" viewBox="0 0 24 24" fill="none" aria-hidden="true"><path d="M6 6l12 12M18 6 6 18" stroke="currentColor" stroke-width="2.2" stroke-linecap="round"/></svg>';
  var ICON_CLOSE_SMALL = '<svg width="18" height="18" viewBox="0 0 24 24" fill="none" aria-hidden="true"><path d="M6 6l12 12M18 6 6 18" stroke="currentColor" stroke-width="2" stroke-linecap="round"/></svg>';
  var ICON_SEND = '<svg width="18" height="18" viewBox="0 0 24 24" fill="none" aria-hidden="true"><path d="M4.5 12 20 4.5 15.5 20l-3.2-6.3L4.5 12Z" stroke="currentColor" stroke-width="1.9" stroke-linejoin="round"/></svg>';

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    if (attrs) {
      for (var name in attrs) {
        if (Object.prototype.hasOwnProperty.call(attrs, name) && attrs[name] !== null && attrs[name] !== undefined) {
          if (name === "className") node.className = attrs[name];
          else node.setAttribute(name, attrs[name]);
        }
      }
    }
    if (text !== undefined && text !== null) node.textContent = text;
    return node;
  }

  function icon(markup) {
    // Static icons only; never used with data.
    var holder = document.createElement("span");
    holder.innerHTML = markup;
    return holder.firstChild;
  }

  function clear(node) {
    while (node.firstChild) node.removeChild(node.firstChild);
  }

  var host = document.createElement("handoff-widget");
  host.setAttribute("data-handoff-widget", "");
  var shadow = host.attachShadow({ mode: "open" });

  var styleNode = document.createElement("style");
  styleNode.textContent = STYLE;

  var wrapper = el("div", { className: "hw" });

  var panel = el("section", {
    className: "panel",
    "data-testid": "widget-panel",
    role: "dialog",
    "aria-label": "Chat",
    id: "handoff-panel",
  });
  panel.hidden = true;

  var header = el("div", { className: "header" });
  var avatar = el("div", { className: "avatar", "aria-hidden": "true" }, "");
  var titles = el("div", { className: "titles" });
  var title = el("div", { className: "title" }, "Chat with us");
  var subtitle = el("div", { className: "subtitle" }, "We're here to help");
  titles.appendChild(title);
  titles.appendChild(subtitle);
  var closeButton = el("button", { type: "button", className: "close", "aria-label": "Close chat" });
  closeButton.appendChild(icon(ICON_CLOSE_SMALL));
  header.appendChild(avatar);
  header.appendChild(titles);
  header.appendChild(closeButton);

  var statusLine = el("div", { className: "status", "data-testid": "widget-status", role: "status", "aria-live": "polite" });
  statusLine.hidden = true;

  var list = el("div", {
    className: "messages",
    "data-testid": "widget-messages",
    role: "log",
    "aria-live": "polite",
    "aria-label": "Messages",
    tabindex: "0",
  });

  var form = el("form", { className: "composer" });
  var input = el("textarea", {
    className: "input",
    "data-testid": "widget-input",
    rows: "1",
    maxlength: String(MAX_LENGTH),
    placeholder: "Write a message…",
    "aria-label": "Message",
  });
  var sendButton = el("button", { type: "submit", className: "send", "data-testid": "widget-send", "aria-label": "Send" });
  sendButton.appendChild(icon(ICON_SEND));
  form.appendChild(input);
  form.appendChild(sendButton);

  var brand = el("div", { className: "brand" }, "Powered by Handoff");

  // "Ana is typing…": shown for a few seconds after each typing frame from a teammate.
  var typingLine = el("div", { className: "typing", "data-testid": "widget-typing", "aria-live": "polite" });
  typingLine.hidden = true;

  panel.appendChild(header);
  panel.appendChild(statusLine);
  panel.appendChild(list);
  panel.appendChild(typingLine);
  panel.appendChild(form);
  panel.appendChild(brand);

  var launcher = el("button", {
    type: "button",
    className: "launcher",
    "data-testid": "widget-launcher",
    "aria-label": "Open chat",
    "aria-expanded": "false",
    "aria-controls": "handoff-panel",
  });
  launcher.appendChild(icon(ICON_CHAT));
  launcher.appendChild(icon(ICON_CLOSE));
  var dot = el("span", { className: "dot", "data-testid": "widget-unread", "aria-hidden": "true" });
  dot.hidden = true;
  launcher.appendChild(dot);

  wrapper.appendChild(panel);
  wrapper.appendChild(launcher);
  shadow.appendChild(styleNode);
  shadow.appendChild(wrapper);

  // ------------------------------------------------------------ rendering

  function sortedMessages() {
    var items = [];
    for (var id in state.messages) {
      if (Object.prototype.hasOwnProperty.call(state.messages, id)) items.push(state.messages[id]);
    }
    items.sort(function (a, b) {
      return Number(a.id) - Number(b.id);
    });
    return items;
  }

  function authorLabel(message) {
    if (message.author_kind === "teammate") return (message.author_name || "Team") + " · Team";
    if (message.author_kind === "ai") return message.author_name || state.agentName || "Assistant";
    return "";
  }

  function formatTime(iso) {
    var date = new Date(iso);
    if (isNaN(date.getTime())) return "";
    try {
      return date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
    } catch (error) {
      return "";
    }
  }

  function nearBottom() {
    return list.scrollHeight - list.scrollTop - list.clientHeight < 60;
  }

  function render(forceScroll) {
    var stick = forceScroll || nearBottom();
    clear(list);

    var messages = sortedMessages();
    if (!messages.length && !state.outbox.length) {
      var intro = el("div", { className: "intro" });
      intro.appendChild(el("strong", null, "Hi there \uD83D\uDC4B"));
      intro.appendChild(document.createTextNode("Ask us anything. We usually answer right away."));
      list.appendChild(intro);
    }

    var previousKey = null;
    messages.forEach(function (message) {
      var kind = message.author_kind;
      var groupKey = kind + ":" + (message.author_name || "");
      var node;
      if (kind === "system") {
        node = el("div", {
          className: "msg msg-system",
          "data-testid": "widget-message",
          "data-author-kind": "system",
          "data-message-id": String(message.id),
        });
        node.appendChild(el("div", { className: "notice" }, message.text));
        previousKey = null;
      } else {
        var first = groupKey !== previousKey;
        node = el("div", {
          className: "msg msg-" + (kind === "user" ? "user" : kind === "teammate" ? "teammate" : "ai") + (first ? " first" : ""),
          "data-testid": "widget-message",
          "data-author-kind": kind,
          "data-message-id": String(message.id),
          title: formatTime(message.created_at),
        });
        if (kind !== "user" && first) node.appendChild(el("div", { className: "author" }, authorLabel(message)));
        node.appendChild(el("div", { className: "bubble" }, message.text));
        previousKey = groupKey;
      }
      list.appendChild(node);
    });

    state.outbox.forEach(function (item) {
      var first = previousKey !== "user:";
      var node = el("div", {
        className: "msg msg-user " + (item.state === "failed" ? "failed" : "pending") + (first ? " first" : ""),
        "data-testid": "widget-message",
        "data-author-kind": "user",
        "data-client-id": item.client_id,
        "data-state": item.state === "failed" ? "failed" : "sending",
      });
      node.appendChild(el("div", { className: "bubble" }, item.text));
      if (item.state === "failed") {
        var meta = el("div", { className: "meta error" });
        meta.appendChild(document.createTextNode((item.error || "Not sent.") + " "));
        var retry = el("button", { type: "button", className: "retry", "data-testid": "widget-retry" }, "Retry");
        retry.addEventListener("click", (function (clientId) {
          return function () {
            retryMessage(clientId);
          };
        })(item.client_id));
        meta.appendChild(retry);
        node.appendChild(meta);
      } else {
        node.appendChild(el("div", { className: "meta" }, "Sending…"));
      }
      previousKey = "user:";
      list.appendChild(node);
    });

    if (stick) list.scrollTop = list.scrollHeight;
  }

  function renderHeader() {
    var name = state.agentName || "Chat with us";
    title.textContent = name;
    avatar.textContent = (state.agentName || "?").trim().charAt(0).toUpperCase() || "?";
    panel.setAttribute("aria-label", state.agentName ? "Chat with " + state.agentName : "Chat");
  }

  var statusTimer = null;
  function setStatus(text, kind, delayMs) {
    clearTimeout(statusTimer);
    var apply = function () {
      statusLine.textContent = text || "";
      statusLine.setAttribute("data-kind", kind || "info");
      statusLine.hidden = !text;
    };
    if (text && delayMs) statusTimer = setTimeout(apply, delayMs);
    else apply();
  }

  function setUnread(value) {
    state.unread = value;
    dot.hidden = !value;
    launcher.setAttribute("aria-label", state.open ? "Close chat" : value ? "Open chat (new message)" : "Open chat");
  }

  // ------------------------------------------------------------ open / close

  function open(options) {
    if (!state.open) {
      state.open = true;
      panel.hidden = false;
      launcher.setAttribute("aria-expanded", "true");
      setUnread(false);
      render(true);
    }
    if (!options || options.focus !== false) {
      setTimeout(function () {
        input.focus();
      }, 0);
    }
  }

  function close() {
    if (!state.open) return;
    var hadFocus = shadow.activeElement && panel.contains(shadow.activeElement);
    state.open = false;
    panel.hidden = true;
    launcher.setAttribute("aria-expanded", "false");
    setUnread(state.unread);
    if (hadFocus) launcher.focus();
  }

  function toggle() {
    if (state.open) close();
    else open();
  }

  launcher.addEventListener("click", toggle);
  closeButton.addEventListener("click", close);
  panel.addEventListener("keydown", function (event) {
    if (event.key === "Escape") {
      event.stopPropagation();
      close();
    }
  });

  // ------------------------------------------------------------ composing

  function autosize() {
    input.style.height = "auto";
    input.style.height = Math.min(input.scrollHeight, 120) + "px";
  }

  function submit() {
    var text = input.value.replace(/^\s+|\s+$/g, "");
    if (!text) return;
    if (text.length > MAX_LENGTH) text = text.slice(0, MAX_LENGTH);
    var item = { client_id: uuid(), text: text, created_at: new Date().toISOString(), state: "sending", error: "" };
    state.outbox.push(item);
    saveOutbox();
    lastTypingSentAt = 0; // the next message's first keystroke says "typing" again
    input.value = "";
    autosize();
    render(true);
    transmit(item);
  }

  function transmit(item) {
    if (!state.ready) return false;
    return sendFrame({ type: "message", text: item.text, client_id: item.client_id });
  }

  function retryMessage(clientId) {
    for (var i = 0; i < state.outbox.length; i++) {
      var item = state.outbox[i];
      if (item.client_id === clientId) {
        item.state = "sending";
        item.error = "";
        saveOutbox();
        render(false);
        transmit(item);
        return;
      }
    }
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    submit();
    input.focus();
  });
  input.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing && event.keyCode !== 229) {
      event.preventDefault();
      submit();
    }
  });
  input.addEventListener("input", autosize);

  // Typing: at most one frame every 3 s while the user types (the server throttles too).
  var TYPING_EVERY_MS = 3000;
  var TYPING_SHOWN_MS = 4000;
  var lastTypingSentAt = 0;
  input.addEventListener("input", function () {
    if (!state.ready || !input.value.replace(/^\s+|\s+$/g, "")) return;
    var now = Date.now();
    if (now - lastTypingSentAt < TYPING_EVERY_MS) return;
    lastTypingSentAt = now;
    sendFrame({ type: "typing" });
  });

  var typingTimer = null;
  function showTyping(name) {
    clearTimeout(typingTimer);
    typingLine.textContent = (name ? String(name) : "Someone") + " is typing…";
    typingLine.hidden = false;
    typingTimer = setTimeout(hideTyping, TYPING_SHOWN_MS);
  }
  function hideTyping() {
    clearTimeout(typingTimer);
    typingLine.hidden = true;
    typingLine.textContent = "";
  }

  // ------------------------------------------------------------ socket

  var socket = null;
  var attempts = 0;
  var reconnectTimer = null;
  var pingTimer = null;

  function socketUrl() {
    return SOCKET_BASE + "/ws/widget/" + encodeURIComponent(KEY) + "/?token=" + encodeURIComponent(state.token || "");
  }

  function sendFrame(frame) {
    if (!socket || socket.readyState !== 1) return false;
    try {
      socket.send(JSON.stringify(frame));
      return true;
    } catch (error) {
      return false;
    }
  }

  function connect() {
    clearTimeout(reconnectTimer);
    reconnectTimer = null;
    if (state.unavailable) return;
    var ws;
    try {
      ws = new WebSocket(socketUrl());
    } catch (error) {
      scheduleReconnect();
      return;
    }
    socket = ws;
    state.ready = false;
    if (!state.everConnected) setStatus("Connecting…", "info", 1200);

    ws.onopen = function () {
      if (socket !== ws) return;
      attempts = 0;
      clearInterval(pingTimer);
      pingTimer = setInterval(function () {
        sendFrame({ type: "ping" });
      }, PING_EVERY_MS);
    };

    ws.onmessage = function (event) {
      if (socket !== ws) return;
      var frame;
      try {
        frame = JSON.parse(event.data);
      } catch (error) {
        return;
      }
      if (frame && typeof frame === "object") handleFrame(frame);
    };

    ws.onclose = function (event) {
      if (socket !== ws) return;
      socket = null;
      state.ready = false;
      clearInterval(pingTimer);
      if (event.code === 4404 || event.code === 4403) {
        state.unavailable = true;
        setStatus("Chat is not available right now.", "error");
        return;
      }
      scheduleReconnect();
    };
  }

  function scheduleReconnect() {
    if (state.unavailable) return;
    setStatus("Reconnecting…", "info", state.everConnected ? 0 : 1200);
    var base = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * Math.pow(2, attempts));
    attempts += 1;
    var delay = Math.round(Math.min(BACKOFF_MAX_MS, Math.max(BACKOFF_MIN_MS, base * (0.75 + Math.random() * 0.5))));
    clearTimeout(reconnectTimer);
    reconnectTimer = setTimeout(connect, delay);
  }

  window.addEventListener("online", function () {
    if (!socket && reconnectTimer) connect();
  });

  function maxId() {
    var max = 0;
    for (var id in state.messages) {
      if (Object.prototype.hasOwnProperty.call(state.messages, id) && Number(id) > max) max = Number(id);
    }
    return max;
  }

  function handleFrame(frame) {
    switch (frame.type) {
      case "hello": {
        var before = state.everConnected ? maxId() : null;
        state.everConnected = true;
        state.ready = true;
        if (typeof frame.token === "string" && frame.token) {
          state.token = frame.token;
          store.set(TOKEN_KEY, frame.token);
        }
        if (frame.agent && frame.agent.name) state.agentName = String(frame.agent.name);
        renderHeader();
        var fresh = {};
        var arrivedWhileAway = false;
        (frame.messages || []).forEach(function (message) {
          if (!message || message.id === undefined || message.id === null) return;
          fresh[message.id] = message;
          if (before !== null && Number(message.id) > before && message.author_kind !== "user") arrivedWhileAway = true;
        });
        state.messages = fresh;
        setStatus("");
        render(true);
        if (arrivedWhileAway && !state.open) setUnread(true);
        // Resend what was never acknowledged; the server stores a client_id once.
        state.outbox.forEach(function (item) {
          if (item.state === "sending") transmit(item);
        });
        break;
      }
      case "ack": {
        removeFromOutbox(frame.client_id);
        if (frame.message && frame.message.id !== undefined) state.messages[frame.message.id] = frame.message;
        render(true);
        break;
      }
      case "message": {
        var message = frame.message;
        if (!message || message.id === undefined || message.id === null) break;
        var isNew = !state.messages[message.id];
        state.messages[message.id] = message;
        if (message.author_kind !== "user") hideTyping();
        render(false);
        if (isNew && !state.open && message.author_kind !== "user") setUnread(true);
        break;
      }
      case "typing": {
        showTyping(frame.author_name);
        break;
      }
      case "error": {
        if (frame.client_id) {
          var found = false;
          state.outbox.forEach(function (item) {
            if (item.client_id === frame.client_id) {
              item.state = "failed";
              item.error = frame.message || "Not sent.";
              found = true;
            }
          });
          if (found) {
            saveOutbox();
            render(false);
            break;
          }
        }
        setStatus(frame.message || "Something went wrong.", "error");
        setTimeout(function () {
          if (statusLine.getAttribute("data-kind") === "error" && !state.unavailable && state.ready) setStatus("");
        }, 6000);
        break;
      }
      default:
        break;
    }
  }

  function removeFromOutbox(clientId) {
    var before = state.outbox.length;
    state.outbox = state.outbox.filter(function (item) {
      return item.client_id !== clientId;
    });
    if (state.outbox.length !== before) saveOutbox();
  }

  // ------------------------------------------------------------ start

  window.HandoffWidget = {
    open: function () {
      open();
    },
    close: close,
    toggle: toggle,
  };

  function mount() {
    (document.body || document.documentElement).appendChild(host);
    renderHeader();
    render(true);
    connect();
    if (OPEN_ON_LOAD) open({ focus: false });
  }

  if (document.body) mount();
  else document.addEventListener("DOMContentLoaded", mount);
})();
