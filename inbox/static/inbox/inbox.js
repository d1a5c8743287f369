// Handoff team inbox: one websocket (/ws/inbox/), a list of waiting and live
// conversations on the left, the open conversation on the right.
// Protocol: docs/realtime-protocol.md. No framework, no build step.
//
// Every piece of user-provided text (names, messages, summaries) goes into the
// DOM through textContent / createTextNode only.

const root = document.getElementById("inbox-app");

const WS_PATH = root.dataset.wsPath || "/ws/inbox/";
const LOGIN_URL = root.dataset.loginUrl || "/accounts/login/";
const PING_EVERY_MS = 25000;
const BACKOFF_MIN_MS = 1000;
const BACKOFF_MAX_MS = 30000;
const TOAST_MS = 10000;
const FLASH_MS = 2600;
const CLOSED_STATUSES = new Set(["resolved", "expired", "cancelled"]);

const ui = {
  banner: root.querySelector('[data-testid="connection-status"]'),
  waiting: root.querySelector('[data-testid="queue-waiting"]'),
  live: root.querySelector('[data-testid="queue-live"]'),
  waitingCount: root.querySelector('[data-count="waiting"]'),
  liveCount: root.querySelector('[data-count="live"]'),
  waitingEmpty: root.querySelector('[data-empty="waiting"]'),
  liveEmpty: root.querySelector('[data-empty="live"]'),
  panel: root.querySelector(".panel"),
  panelEmpty: root.querySelector(".panel-empty"),
  toasts: root.querySelector(".toasts"),
};

const state = {
  me: null,
  organization: { id: Number(root.dataset.organizationId) || null, name: root.dataset.organizationName || "" },
  sessions: new Map(), // id -> Session (queued and active only)
  unread: new Map(), // session id -> count
  flash: new Map(), // session id -> flash until (ms)
  takenBy: new Map(), // session id -> name, after an already_accepted refusal
  open: null, // the conversation in the right panel, see openSession()
  pending: new Map(), // request_id -> {type, session_id, text?}
  snapshots: 0,
};

// ---------------------------------------------------------------- helpers

function h(tag, props, ...children) {
  const node = document.createElement(tag);
  if (props) {
    for (const [key, value] of Object.entries(props)) {
      if (value === null || value === undefined || value === false) continue;
      if (key === "className") node.className = value;
      else if (key === "text") node.textContent = value;
      else if (key === "dataset") Object.assign(node.dataset, value);
      else if (key.startsWith("on") && typeof value === "function") node.addEventListener(key.slice(2), value);
      else node.setAttribute(key, value === true ? "" : String(value));
    }
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(typeof child === "string" ? document.createTextNode(child) : child);
  }
  return node;
}

function svg(markup) {
  // Only for the static icons below, never for data.
  const template = document.createElement("template");
  template.innerHTML = markup.trim();
  return template.content.firstChild;
}

const ICONS = {
  check: '<svg width="16" height="16" viewBox="0 0 24 24" fill="none" aria-hidden="true"><path d="m5 12.5 4.5 4.5L19 7.5" stroke="currentColor" stroke-width="2" stroke-linecap="round" stroke-linejoin="round"/></svg>',
  accept: '<svg width="16" height="16" viewBox="0 0 24 24" fill="none" aria-hidden="true"><path d="M12 5v14M5 12h14" stroke="currentColor" stroke-width="2" stroke-linecap="round"/></svg>',
  back: '<svg width="18" height="18" viewBox="0 0 24 24" fill="none" aria-hidden="true"><path d="M15 6l-6 6 6 6" stroke="currentColor" stroke-width="2" stroke-linecap="round" stroke-linejoin="round"/></svg>',
  send: '<svg width="18" height="18" viewBox="0 0 24 24" fill="none" aria-hidden="true"><path d="M4.5 12 20 4.5 15.5 20l-3.2-6.3L4.5 12Z" stroke="currentColor" stroke-width="1.8" stroke-linejoin="round"/></svg>',
  close: '<svg width="14" height="14" viewBox="0 0 24 24" fill="none" aria-hidden="true"><path d="M6 6l12 12M18 6 6 18" stroke="currentColor" stroke-width="2" stroke-linecap="round"/></svg>',
  sparkle: '<svg width="14" height="14" viewBox="0 0 24 24" fill="none" aria-hidden="true"><path d="M12 3.5l1.9 5.1 5.1 1.9-5.1 1.9-1.9 5.1-1.9-5.1L5 10.5l5.1-1.9L12 3.5Z" fill="currentColor"/></svg>',
};

function time(iso) {
  const value = Date.parse(iso || "");
  return Number.isNaN(value) ? null : value;
}

function pad(n) {
  return String(n).padStart(2, "0");
}

function formatDuration(ms) {
  const total = Math.max(0, Math.floor(ms / 1000));
  const hours = Math.floor(total / 3600);
  const minutes = Math.floor((total % 3600) / 60);
  const seconds = total % 60;
  if (hours > 0) return `${hours}h ${pad(minutes)}m`;
  if (minutes > 0) return `${minutes}m ${pad(seconds)}s`;
  return `${seconds}s`;
}

const clockFormat = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit" });
const dayFormat = new Intl.DateTimeFormat(undefined, { month: "short", day: "numeric" });
const fullFormat = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "medium" });

function formatClock(iso) {
  const value = time(iso);
  if (value === null) return "";
  const date = new Date(value);
  const today = new Date();
  const sameDay = date.toDateString() === today.toDateString();
  return sameDay ? clockFormat.format(date) : `${dayFormat.format(date)}, ${clockFormat.format(date)}`;
}

function timeElement(iso, className = "time") {
  const value = time(iso);
  return h("time", {
    className,
    datetime: iso || null,
    title: value === null ? null : fullFormat.format(new Date(value)),
    text: formatClock(iso),
  });
}

function initials(name) {
  const parts = String(name || "?").trim().split(/\s+/).filter(Boolean);
  const letters = parts.length > 1 ? parts[0][0] + parts[parts.length - 1][0] : (parts[0] || "?").slice(0, 2);
  return letters.toUpperCase();
}

function isMine(session) {
  return Boolean(session && session.assigned_to && state.me && session.assigned_to.id === state.me.id);
}

function holderName(session) {
  if (!session || !session.assigned_to) return "";
  return isMine(session) ? "You" : session.assigned_to.name;
}

function byQueuedAt(a, b) {
  return (time(a.queued_at) || 0) - (time(b.queued_at) || 0) || a.id - b.id;
}

// ---------------------------------------------------------------- socket

let socket = null;
let connected = false;
let attempts = 0;
let reconnectTimer = null;
let pingTimer = null;
let snapshotTimer = null;
let requestSeq = 0;
let stopped = false;

function socketUrl() {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  return `${scheme}://${location.host}${WS_PATH}`;
}

function connect() {
  clearTimeout(reconnectTimer);
  reconnectTimer = null;
  if (stopped) return;
  let ws;
  try {
    ws = new WebSocket(socketUrl());
  } catch (error) {
    scheduleReconnect();
    return;
  }
  socket = ws;

  ws.addEventListener("open", () => {
    if (socket !== ws) return;
    connected = true;
    attempts = 0;
    setBanner(null);
    clearInterval(pingTimer);
    pingTimer = setInterval(() => send({ type: "ping" }), PING_EVERY_MS);
    // The server pushes a snapshot on connect; ask for one if it does not come.
    clearTimeout(snapshotTimer);
    snapshotTimer = setTimeout(() => send({ type: "snapshot" }), 3000);
  });

  ws.addEventListener("message", (event) => {
    if (socket !== ws) return;
    let frame;
    try {
      frame = JSON.parse(event.data);
    } catch (error) {
      return;
    }
    if (frame && typeof frame === "object") {
      try {
        handleFrame(frame);
      } catch (error) {
        console.error("Handoff inbox: could not handle", frame, error);
      }
    }
  });

  ws.addEventListener("close", (event) => {
    if (socket !== ws) return;
    socket = null;
    connected = false;
    clearInterval(pingTimer);
    clearTimeout(snapshotTimer);
    abandonPendingRequests();
    if (event.code === 4401) {
      stopped = true;
      setBanner("You are logged out. Taking you to the login page…");
      const next = location.pathname + location.search + location.hash;
      location.assign(`${LOGIN_URL}?next=${encodeURIComponent(next)}`);
      return;
    }
    if (event.code === 4404) {
      // The organization is gone or no longer ours: let the page decide, but never loop.
      const key = "handoff:inbox:reloaded-at";
      const last = Number(sessionStorage.getItem(key) || 0);
      if (Date.now() - last > 60000) {
        sessionStorage.setItem(key, String(Date.now()));
        stopped = true;
        setBanner("This inbox is not available any more. Reloading…");
        setTimeout(() => location.reload(), 1200);
        return;
      }
      setBanner("You do not have access to this inbox. Ask an admin of your organization.", "error");
      stopped = true;
      return;
    }
    scheduleReconnect();
  });

  ws.addEventListener("error", () => {
    // A close event follows; reconnecting happens there.
  });
}

function scheduleReconnect() {
  if (stopped) return;
  setBanner("Reconnecting…");
  const base = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** attempts);
  attempts += 1;
  const jittered = base * (0.75 + Math.random() * 0.5);
  const delay = Math.round(Math.min(BACKOFF_MAX_MS, Math.max(BACKOFF_MIN_MS, jittered)));
  clearTimeout(reconnectTimer);
  reconnectTimer = setTimeout(connect, delay);
}

window.addEventListener("online", () => {
  if (!connected && !stopped && reconnectTimer) connect();
});

function send(payload, meta) {
  if (!socket || socket.readyState !== WebSocket.OPEN) return null;
  const request_id = `r${++requestSeq}`;
  socket.send(JSON.stringify({ ...payload, request_id }));
  if (meta) state.pending.set(request_id, { type: payload.type, ...meta });
  return request_id;
}

function abandonPendingRequests() {
  for (const [, request] of state.pending) {
    if (request.type === "reply" && state.open && state.open.id === request.session_id) {
      restoreDraft(request.text);
      toast("The connection dropped before your reply was confirmed. Check the conversation before sending it again.");
    }
  }
  state.pending.clear();
  if (state.open) state.open.busy = null;
  renderPanel();
}

let bannerDelay = null;

function setBanner(text, kind) {
  clearTimeout(bannerDelay);
  if (!text) {
    ui.banner.hidden = true;
    ui.banner.textContent = "";
    return;
  }
  ui.banner.textContent = text;
  ui.banner.dataset.kind = kind || "info";
  ui.banner.hidden = false;
}

// ---------------------------------------------------------------- frames

function handleFrame(frame) {
  switch (frame.type) {
    case "snapshot":
      applySnapshot(frame);
      break;
    case "pong":
      break;
    case "result":
      handleResult(frame);
      break;
    case "error":
      handleError(frame);
      break;
    case "handoff.queued":
    case "handoff.accepted":
      if (frame.session) upsertSession(frame.session, frame.type === "handoff.queued");
      break;
    case "handoff.resolved":
    case "handoff.expired":
    case "handoff.cancelled":
      if (frame.session) closeSession(frame.session);
      break;
    case "message.created":
      if (frame.message) messageCreated(frame.message);
      break;
    case "message.updated":
      if (frame.message) messageUpdated(frame.message);
      break;
    default:
      break;
  }
}

function applySnapshot(frame) {
  clearTimeout(snapshotTimer);
  state.snapshots += 1;
  state.me = frame.me || state.me;
  state.organization = frame.organization || state.organization;
  state.sessions = new Map((frame.sessions || []).map((session) => [session.id, session]));
  for (const map of [state.unread, state.takenBy, state.flash]) {
    for (const id of [...map.keys()]) if (!state.sessions.has(id)) map.delete(id);
  }
  root.classList.remove("is-loading");

  if (state.open) {
    const fresh = state.sessions.get(state.open.id);
    if (fresh) state.open.session = fresh;
    // Messages may have been missed while we were away: read the conversation again.
    requestTranscript(state.open.id);
  } else if (state.snapshots === 1) {
    openFromHash();
  }
  renderLists();
  renderPanel();
}

function upsertSession(session, isNew) {
  if (CLOSED_STATUSES.has(session.status)) {
    closeSession(session);
    return;
  }
  const known = state.sessions.has(session.id);
  state.sessions.set(session.id, session);
  if (session.status !== "active" || (session.assigned_to && state.takenBy.get(session.id) !== session.assigned_to.name)) {
    state.takenBy.delete(session.id);
  }
  if (isNew && !known) state.flash.set(session.id, Date.now() + FLASH_MS);
  if (state.open && state.open.id === session.id) {
    state.open.session = session;
    refreshTranscriptSoon();
  }
  renderLists();
  renderPanel();
}

function closeSession(session) {
  state.sessions.delete(session.id);
  state.unread.delete(session.id);
  state.takenBy.delete(session.id);
  state.flash.delete(session.id);
  if (state.open && state.open.id === session.id) {
    state.open.session = session;
    refreshTranscriptSoon(); // the authoritative timeline names who closed it
  }
  renderLists();
  renderPanel();
}

function sessionForConversation(conversationId) {
  for (const session of state.sessions.values()) {
    if (session.conversation_id === conversationId) return session;
  }
  return null;
}

function openConversationId() {
  return state.open && state.open.session ? state.open.session.conversation_id : null;
}

function messageCreated(message) {
  if (openConversationId() === message.conversation_id) {
    addMessages([message]);
    return;
  }
  const session = sessionForConversation(message.conversation_id);
  if (session && message.author_kind !== "system") {
    state.unread.set(session.id, (state.unread.get(session.id) || 0) + 1);
    renderLists();
  }
}

function messageUpdated(message) {
  if (!state.open || !state.open.messages.has(message.id)) return;
  state.open.messages.set(message.id, { ...state.open.messages.get(message.id), ...message });
  renderTranscript();
}

function handleResult(frame) {
  const request = state.pending.get(frame.request_id);
  state.pending.delete(frame.request_id);
  switch (frame.action) {
    case "transcript": {
      if (!state.open || !frame.session || frame.session.id !== state.open.id) return;
      const open = state.open;
      open.session = frame.session;
      for (const message of frame.messages || []) {
        open.messages.set(message.id, { ...(open.messages.get(message.id) || {}), ...message });
      }
      open.timeline = frame.timeline || [];
      open.loaded = true;
      open.error = null;
      if (!CLOSED_STATUSES.has(frame.session.status) && state.sessions.has(frame.session.id)) {
        // Keep the list in step with what the server just told us.
        state.sessions.set(frame.session.id, frame.session);
        renderLists();
      }
      renderPanel();
      break;
    }
    case "accept":
      if (state.open && request && state.open.id === request.session_id) state.open.busy = null;
      if (frame.session) upsertSession(frame.session, false);
      if (state.open && frame.session && state.open.id === frame.session.id) focusComposer();
      break;
    case "resolve":
      if (state.open && request && state.open.id === request.session_id) state.open.busy = null;
      if (frame.session) closeSession(frame.session);
      break;
    case "reply":
      if (frame.message && openConversationId() === frame.message.conversation_id) addMessages([frame.message]);
      break;
    default:
      break;
  }
}

function handleError(frame) {
  const request = state.pending.get(frame.request_id);
  state.pending.delete(frame.request_id);
  const action = frame.action || (request && request.type);
  const sessionId = request ? request.session_id : null;

  if (state.open && sessionId === state.open.id) state.open.busy = null;

  if (action === "transcript" && state.open && sessionId === state.open.id) {
    if (!state.open.loaded) state.open.error = frame.message || "This conversation could not be loaded.";
    renderPanel();
    if (frame.code !== "not_found") toast(frame.message || "This conversation could not be loaded.");
    return;
  }

  toast(frame.message || "Something went wrong. Please try again.");

  if (frame.code === "already_accepted" && sessionId) {
    const taker = frame.accepted_by;
    const session = state.sessions.get(sessionId);
    if (taker && session) {
      state.takenBy.set(sessionId, taker.name);
      state.sessions.set(sessionId, { ...session, status: "active", assigned_to: taker });
      if (state.open && state.open.id === sessionId) state.open.session = state.sessions.get(sessionId);
    }
  }
  if (action === "reply" && request && state.open && state.open.id === request.session_id) {
    restoreDraft(request.text);
  }
  if (["not_waiting", "not_active", "not_assignee", "not_found"].includes(frame.code)) {
    send({ type: "snapshot" }); // our picture is stale: get the server's
  }
  renderLists();
  renderPanel();
}

// ---------------------------------------------------------------- actions

function requestTranscript(sessionId) {
  const requestId = send({ type: "transcript", session_id: sessionId }, { session_id: sessionId });
  if (state.open && state.open.id === sessionId) state.open.requestId = requestId;
}

let refreshTimer = null;
function refreshTranscriptSoon() {
  clearTimeout(refreshTimer);
  refreshTimer = setTimeout(() => {
    if (state.open) requestTranscript(state.open.id);
  }, 150);
}

function openSession(sessionId, { focus = false } = {}) {
  if (!Number.isInteger(sessionId) || sessionId < 1) return;
  if (!state.open || state.open.id !== sessionId) {
    state.open = {
      id: sessionId,
      session: state.sessions.get(sessionId) || null,
      messages: new Map(),
      timeline: [],
      loaded: false,
      error: null,
      busy: null,
      requestId: null,
    };
    requestTranscript(sessionId);
  }
  state.unread.delete(sessionId);
  const hash = `#session-${sessionId}`;
  if (location.hash !== hash) history.replaceState(null, "", hash);
  renderLists();
  renderPanel();
  if (focus) {
    const target = ui.panel.querySelector('[data-testid="accept"]:not([hidden])') ||
      ui.panel.querySelector('[data-testid="reply-input"]:not(:disabled)');
    if (target && target.offsetParent !== null) target.focus();
  }
}

function closePanel() {
  const id = state.open ? state.open.id : null;
  state.open = null;
  history.replaceState(null, "", location.pathname + location.search);
  renderLists();
  renderPanel();
  if (id) {
    const item = root.querySelector(`[data-testid="session-item"][data-session-id="${id}"]`);
    if (item) item.focus();
  }
}

function openFromHash() {
  const match = /^#session-(\d+)$/.exec(location.hash);
  if (match) openSession(Number(match[1]));
}

window.addEventListener("hashchange", () => {
  if (state.snapshots > 0) openFromHash();
});

function accept(sessionId) {
  if (!state.open || state.open.busy) return;
  if (!send({ type: "accept", session_id: sessionId }, { session_id: sessionId })) {
    toast("You are offline. Try again once the inbox has reconnected.");
    return;
  }
  state.open.busy = "accept";
  renderPanel();
}

function resolve(sessionId) {
  if (!state.open || state.open.busy) return;
  if (!send({ type: "resolve", session_id: sessionId }, { session_id: sessionId })) {
    toast("You are offline. Try again once the inbox has reconnected.");
    return;
  }
  state.open.busy = "resolve";
  renderPanel();
}

function sendReply() {
  const input = ui.panel.querySelector('[data-testid="reply-input"]');
  if (!input || input.disabled || !state.open) return;
  const text = input.value.trim();
  if (!text) return;
  const sessionId = state.open.id;
  if (!send({ type: "reply", session_id: sessionId, text }, { session_id: sessionId, text })) {
    toast("You are offline. Your reply is still in the box; send it once the inbox has reconnected.");
    return;
  }
  input.value = "";
  autosize(input);
}

function restoreDraft(text) {
  const input = ui.panel.querySelector('[data-testid="reply-input"]');
  if (input && text && !input.value.trim()) {
    input.value = text;
    autosize(input);
  }
}

function focusComposer() {
  requestAnimationFrame(() => {
    const input = ui.panel.querySelector('[data-testid="reply-input"]');
    if (input && !input.disabled && !input.closest("[hidden]")) input.focus();
  });
}

function autosize(textarea) {
  textarea.style.height = "auto";
  textarea.style.height = `${Math.min(textarea.scrollHeight, 200)}px`;
}

// ---------------------------------------------------------------- toasts

function toast(message) {
  const node = h("div", { className: "toast", "data-testid": "toast", role: "alert" },
    h("span", { className: "toast-text", text: message }),
  );
  const dismiss = h("button", { type: "button", className: "toast-close", "aria-label": "Dismiss" }, svg(ICONS.close));
  const remove = () => {
    clearTimeout(timer);
    node.classList.add("is-leaving");
    setTimeout(() => node.remove(), 160);
  };
  dismiss.addEventListener("click", remove);
  node.append(dismiss);
  ui.toasts.append(node);
  while (ui.toasts.children.length > 4) ui.toasts.firstElementChild.remove();
  const timer = setTimeout(remove, TOAST_MS);
  return node;
}

document.addEventListener("keydown", (event) => {
  if (event.key === "Escape" && ui.toasts.lastElementChild && !event.defaultPrevented) {
    const close = ui.toasts.lastElementChild.querySelector(".toast-close");
    if (close) close.click();
  }
});

// ---------------------------------------------------------------- left column

const itemNodes = new Map(); // session id -> <li>

function renderLists() {
  const sessions = [...state.sessions.values()];
  const waiting = sessions.filter((s) => s.status === "queued").sort(byQueuedAt);
  const live = sessions
    .filter((s) => s.status === "active")
    .sort((a, b) => Number(isMine(b)) - Number(isMine(a)) || byQueuedAt(a, b));

  const focusedId = document.activeElement && document.activeElement.dataset
    ? document.activeElement.dataset.sessionId
    : null;

  const keep = new Set();
  placeItems(ui.waiting, waiting, keep);
  placeItems(ui.live, live, keep);
  for (const [id, node] of itemNodes) {
    if (!keep.has(id)) {
      node.remove();
      itemNodes.delete(id);
    }
  }

  ui.waitingCount.textContent = String(waiting.length);
  ui.liveCount.textContent = String(live.length);
  ui.waitingEmpty.hidden = waiting.length > 0;
  ui.liveEmpty.hidden = live.length > 0;

  if (focusedId && document.activeElement === document.body) {
    const again = root.querySelector(`[data-testid="session-item"][data-session-id="${focusedId}"]`);
    if (again) again.focus();
  }
  updateTitle(waiting.length);
  tick();
}

function placeItems(list, sessions, keep) {
  sessions.forEach((session, index) => {
    let li = itemNodes.get(session.id);
    if (!li) {
      li = h("li", { className: "queue-row" });
      itemNodes.set(session.id, li);
    }
    fillItem(li, session);
    keep.add(session.id);
    if (list.children[index] !== li) list.insertBefore(li, list.children[index] || null);
  });
}

function fillItem(li, session) {
  const unread = state.unread.get(session.id) || 0;
  const flashUntil = state.flash.get(session.id) || 0;
  const isOpen = Boolean(state.open && state.open.id === session.id);
  const mine = isMine(session);

  let button = li.firstElementChild;
  if (!button) {
    button = h("button", { type: "button", className: "session-item", "data-testid": "session-item" });
    button.addEventListener("click", () => openSession(Number(button.dataset.sessionId), { focus: false }));
    li.append(button);
  }
  button.dataset.sessionId = String(session.id);
  button.dataset.status = session.status;
  button.classList.toggle("is-open", isOpen);
  button.classList.toggle("is-mine", mine);
  button.classList.toggle("has-unread", unread > 0);
  if (isOpen) button.setAttribute("aria-current", "true");
  else button.removeAttribute("aria-current");
  if (flashUntil > Date.now() && !button.classList.contains("is-new")) {
    button.classList.add("is-new");
    setTimeout(() => {
      button.classList.remove("is-new");
      state.flash.delete(session.id);
    }, flashUntil - Date.now());
  }

  const contact = (session.contact && session.contact.name) || "Unknown contact";
  const agent = (session.agent && session.agent.name) || "";
  const summary = session.summary || session.reason || "";

  const top = h("span", { className: "item-top" },
    h("span", { className: "item-avatar", "aria-hidden": "true", text: initials(contact) }),
    h("span", { className: "item-contact", text: contact }),
    unread > 0 ? h("span", { className: "unread", "data-testid": "unread", title: `${unread} unread`, text: String(unread) }) : null,
  );

  let clock;
  if (session.status === "active") {
    clock = h("span", { className: "item-clock", title: "Live for" },
      h("span", { className: "tick", dataset: { since: session.accepted_at || session.queued_at || "" } }));
  } else {
    clock = h("span", { className: "item-clock is-waiting", title: "Waiting for" },
      h("span", { className: "tick", "data-testid": "waiting-time", dataset: { since: session.queued_at || "" } }));
  }
  top.append(clock);

  const meta = h("span", { className: "item-meta" },
    h("span", { className: "badge", "data-testid": "channel", text: session.channel_label || session.channel || "" }),
    agent ? h("span", { className: "item-agent", text: agent }) : null,
  );

  const lines = [top, meta];
  if (summary) lines.push(h("span", { className: "item-summary", text: summary }));

  if (session.status === "active" && session.assigned_to) {
    const taken = state.takenBy.get(session.id);
    lines.push(h("span", { className: `item-holder${mine ? " is-mine" : ""}`, "data-testid": "holder" },
      h("span", { className: "holder-dot", "aria-hidden": "true" }),
      mine ? "With you" : taken ? `Taken by ${session.assigned_to.name}` : `With ${session.assigned_to.name}`,
    ));
  }

  button.replaceChildren(...lines);
  button.setAttribute("aria-label",
    `${contact}, ${session.channel_label || session.channel}, ${session.status === "active" ? `live, ${mine ? "with you" : `with ${holderName(session)}`}` : "waiting"}${unread ? `, ${unread} unread` : ""}`);
}

function updateTitle(waitingCount) {
  const name = state.organization && state.organization.name ? ` · ${state.organization.name}` : "";
  document.title = `${waitingCount > 0 ? `(${waitingCount}) ` : ""}Inbox${name}`;
}

function tick() {
  const now = Date.now();
  for (const node of root.querySelectorAll(".tick[data-since]")) {
    const since = time(node.dataset.since);
    const text = since === null ? "" : formatDuration(now - since);
    if (node.textContent !== text) node.textContent = text;
  }
}

setInterval(tick, 1000);

// ---------------------------------------------------------------- right panel

let panelNodes = null; // the built panel of the open conversation

function buildPanel(sessionId) {
  const back = h("button", { type: "button", className: "btn btn-ghost back-button", "aria-label": "Back to the list" }, svg(ICONS.back));
  back.addEventListener("click", closePanel);

  const title = h("h2", { className: "conv-contact" });
  const sub = h("div", { className: "conv-sub" });
  const acceptButton = h("button", { type: "button", className: "btn btn-primary", "data-testid": "accept", hidden: true },
    svg(ICONS.accept), h("span", { text: "Accept" }));
  const resolveButton = h("button", { type: "button", className: "btn", "data-testid": "resolve", hidden: true },
    svg(ICONS.check), h("span", { text: "Resolve" }));
  acceptButton.addEventListener("click", () => accept(sessionId));
  resolveButton.addEventListener("click", () => resolve(sessionId));

  const header = h("header", { className: "conv-header" },
    back,
    h("div", { className: "conv-heading" }, title, sub),
    h("div", { className: "conv-actions" }, acceptButton, resolveButton),
  );

  const summaryText = h("p", { className: "summary-text" });
  const summaryReason = h("p", { className: "summary-reason" });
  const summary = h("section", { className: "summary", "data-testid": "summary", "aria-label": "AI summary", hidden: true },
    h("div", { className: "summary-label" }, svg(ICONS.sparkle), h("span", { text: "AI summary" })),
    summaryText,
    summaryReason,
  );

  const transcript = h("ol", { className: "transcript", "data-testid": "transcript", "aria-label": "Transcript" });
  const scroller = h("div", { className: "conv-scroll", tabindex: "0", "aria-label": "Conversation transcript" }, transcript);

  const statusLine = h("div", { className: "conv-status", "data-testid": "conversation-status", role: "status", hidden: true });
  const input = h("textarea", {
    className: "reply-input",
    "data-testid": "reply-input",
    rows: "1",
    maxlength: "20000",
    "aria-label": "Reply",
    placeholder: "Write a reply…",
  });
  const sendButton = h("button", { type: "submit", className: "btn btn-primary send-button", "aria-label": "Send reply" }, svg(ICONS.send));
  const composer = h("form", { className: "composer", hidden: true },
    h("div", { className: "composer-box" }, input, sendButton),
    h("p", { className: "composer-hint" }, h("kbd", { text: "Enter" }), " to send · ", h("kbd", { text: "Shift" }), " + ", h("kbd", { text: "Enter" }), " for a new line"),
  );
  composer.addEventListener("submit", (event) => {
    event.preventDefault();
    sendReply();
    input.focus();
  });
  input.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing && event.keyCode !== 229) {
      event.preventDefault();
      sendReply();
    }
  });
  input.addEventListener("input", () => autosize(input));

  const footer = h("footer", { className: "conv-footer" }, statusLine, composer);
  const container = h("div", { className: "conv", dataset: { sessionId: String(sessionId) } }, header, summary, scroller, footer);

  ui.panelEmpty.hidden = true;
  for (const node of [...ui.panel.children]) if (node !== ui.panelEmpty) node.remove();
  ui.panel.append(container);

  panelNodes = {
    sessionId, container, title, sub, acceptButton, resolveButton, summary, summaryText, summaryReason,
    scroller, transcript, statusLine, composer, input, sendButton, renderedKey: "",
  };
}

function renderPanel() {
  root.classList.toggle("has-open", Boolean(state.open));
  if (!state.open) {
    if (panelNodes) panelNodes.container.remove();
    panelNodes = null;
    ui.panelEmpty.hidden = false;
    return;
  }
  if (!panelNodes || panelNodes.sessionId !== state.open.id) buildPanel(state.open.id);

  const open = state.open;
  const session = open.session;
  const n = panelNodes;

  if (!session) {
    n.title.textContent = open.error ? "Conversation not found" : "Loading…";
    n.sub.replaceChildren();
    n.acceptButton.hidden = true;
    n.resolveButton.hidden = true;
    n.summary.hidden = true;
    n.composer.hidden = true;
    n.statusLine.hidden = !open.error;
    n.statusLine.textContent = open.error || "";
    n.transcript.replaceChildren();
    return;
  }

  const closed = CLOSED_STATUSES.has(session.status);
  const mine = isMine(session);
  const canHandle = Boolean(state.me && state.me.can_handle);

  n.title.textContent = (session.contact && session.contact.name) || "Unknown contact";
  n.sub.replaceChildren(
    h("span", { className: "badge", text: session.channel_label || session.channel || "" }),
    session.agent && session.agent.name ? h("span", { className: "conv-agent", text: `via ${session.agent.name}` }) : null,
    h("span", { className: `status-pill status-${session.status}`, "data-testid": "session-status", text: statusLabel(session) }),
  );

  n.acceptButton.hidden = !(session.status === "queued" && canHandle);
  n.acceptButton.disabled = open.busy === "accept";
  n.acceptButton.lastElementChild.textContent = open.busy === "accept" ? "Accepting…" : "Accept";
  n.resolveButton.hidden = !(session.status === "active" && mine);
  n.resolveButton.disabled = open.busy === "resolve";
  n.resolveButton.lastElementChild.textContent = open.busy === "resolve" ? "Resolving…" : "Resolve";

  n.summaryText.textContent = session.summary || "";
  n.summaryReason.replaceChildren();
  if (session.reason && session.reason !== session.summary) {
    n.summaryReason.append(h("span", { className: "summary-reason-label", text: "Asked: " }), `“${session.reason}”`);
  }
  n.summary.hidden = !(session.summary || session.reason);

  // Footer: the reply box for the holder (kept, disabled, once it closes), a status line otherwise.
  const wasMine = mine || (closed && open.composerShown);
  const showComposer = (session.status === "active" && mine) || (closed && wasMine);
  if (showComposer && !closed) open.composerShown = true;
  n.composer.hidden = !showComposer;
  n.input.disabled = closed;
  n.sendButton.disabled = closed;
  n.input.placeholder = closed ? "This conversation is closed." : `Reply to ${session.contact ? session.contact.name : "the customer"}…`;

  const status = footerStatus(session, { mine, canHandle });
  n.statusLine.hidden = !status;
  n.statusLine.textContent = status || "";
  n.statusLine.dataset.kind = closed ? "closed" : "info";

  renderTranscript();
}

function statusLabel(session) {
  switch (session.status) {
    case "queued": return "Waiting";
    case "active": return isMine(session) ? "Live · you" : "Live";
    case "resolved": return "Resolved";
    case "expired": return "Expired";
    case "cancelled": return "Cancelled";
    default: return session.status;
  }
}

function closingTransition(session) {
  const timeline = (state.open && state.open.timeline) || [];
  for (let i = timeline.length - 1; i >= 0; i -= 1) {
    if (timeline[i].to_status === session.status) return timeline[i];
  }
  return null;
}

function footerStatus(session, { mine, canHandle }) {
  switch (session.status) {
    case "queued":
      return canHandle
        ? "Waiting for a teammate. Accept the conversation to reply."
        : "Waiting for a teammate. You can read conversations but not accept them.";
    case "active": {
      if (mine) return "";
      const taken = state.takenBy.get(session.id);
      const name = session.assigned_to ? session.assigned_to.name : "Another teammate";
      return taken ? `${name} took this conversation first.` : `${name} is handling this conversation.`;
    }
    case "resolved": {
      const transition = closingTransition(session);
      const name = (transition && transition.actor_name) || (session.assigned_to && session.assigned_to.name);
      return name ? `Resolved by ${name}` : "Resolved";
    }
    case "expired":
      return "Expired · nobody accepted it in time";
    case "cancelled": {
      const transition = closingTransition(session);
      return transition && transition.actor_name ? `Cancelled by ${transition.actor_name}` : "Cancelled";
    }
    default:
      return "";
  }
}

function transitionLabel(transition) {
  const who = transition.actor_name;
  switch (transition.to_status) {
    case "queued": return "Queued for a teammate";
    case "active": return who ? `Accepted by ${who}` : "Accepted";
    case "resolved": return who ? `Resolved by ${who}` : "Resolved";
    case "expired": return "Expired";
    case "cancelled": return who ? `Cancelled by ${who}` : "Cancelled";
    default: return transition.to_status;
  }
}

function addMessages(messages) {
  if (!state.open) return;
  for (const message of messages) {
    state.open.messages.set(message.id, { ...(state.open.messages.get(message.id) || {}), ...message });
  }
  renderTranscript();
}

function renderTranscript() {
  const open = state.open;
  const n = panelNodes;
  if (!open || !n) return;

  const entries = [];
  let order = 0;
  for (const transition of open.timeline) {
    entries.push({ kind: "event", at: time(transition.created_at) || 0, order: order++, transition });
  }
  const messages = [...open.messages.values()].sort((a, b) => (time(a.created_at) || 0) - (time(b.created_at) || 0) || a.id - b.id);
  for (const message of messages) {
    entries.push({ kind: "message", at: time(message.created_at) || 0, order: order++, message });
  }
  entries.sort((a, b) => a.at - b.at || a.order - b.order);

  const key = JSON.stringify([open.loaded, entries.map((e) => e.kind === "message"
    ? [e.message.id, e.message.delivery_status, e.message.delivery_error, e.message.text]
    : [e.transition.to_status, e.transition.created_at, e.transition.actor_name])]);
  if (key === n.renderedKey) return;
  const firstFill = n.renderedKey === "" || !n.transcript.childElementCount;
  n.renderedKey = key;

  const scroller = n.scroller;
  const nearBottom = scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < 80;

  if (!open.loaded && entries.length === 0) {
    n.transcript.replaceChildren(h("li", { className: "transcript-loading", text: "Loading the conversation…" }));
    return;
  }

  n.transcript.replaceChildren(...entries.map((entry) => (entry.kind === "message"
    ? messageNode(entry.message)
    : eventNode(entry.transition))));

  if (firstFill || nearBottom) scroller.scrollTop = scroller.scrollHeight;
}

function eventNode(transition) {
  return h("li", { className: "event", "data-testid": "timeline-event", dataset: { toStatus: transition.to_status } },
    h("span", { className: "event-line", "aria-hidden": "true" }),
    h("span", { className: "event-text" }, h("span", { text: transitionLabel(transition) }), " · ", timeElement(transition.created_at)),
    h("span", { className: "event-line", "aria-hidden": "true" }),
  );
}

function messageNode(message) {
  const kind = message.author_kind;
  const attrs = {
    "data-testid": "message",
    "data-author-kind": kind,
    "data-message-id": String(message.id),
    "data-delivery-status": message.delivery_status || "",
  };
  if (kind === "system") {
    return h("li", { className: "msg msg-system", ...attrs },
      h("span", { className: "notice" }, h("span", { className: "notice-text", text: message.text }), " · ", timeElement(message.created_at)));
  }
  const author = message.author_name || (kind === "ai" ? "AI" : kind === "teammate" ? "Teammate" : "Customer");
  const meta = h("div", { className: "msg-meta" },
    h("span", { className: "msg-author", text: author }),
    kind === "ai" ? h("span", { className: "msg-tag", text: "AI" }) : null,
    timeElement(message.created_at),
  );
  const bubble = h("div", { className: "msg-bubble", text: message.text });
  const node = h("li", { className: `msg msg-${kind}`, ...attrs }, meta, bubble);
  const delivery = deliveryText(message);
  if (delivery) {
    node.append(h("div", {
      className: `msg-delivery delivery-${message.delivery_status}`,
      "data-testid": "delivery",
      text: delivery,
    }));
  }
  return node;
}

function deliveryText(message) {
  switch (message.delivery_status) {
    case "pending": return "sending…";
    case "sent": return "sent";
    case "failed": return message.delivery_error ? `failed: ${message.delivery_error}` : "failed";
    default: return "";
  }
}

// ---------------------------------------------------------------- start

updateTitle(0);
connect();
setTimeout(() => {
  if (!connected && ui.banner.hidden && !stopped) setBanner("Connecting…");
}, 800);
