// Handoff team inbox: one websocket (/ws/inbox/), the queue and history on the left,
// the open conversation in the middle, the team (presence) on the right.
// Protocol: docs/realtime-protocol.md. No framework, no build step.
//
// Every piece of user-provided text (names, messages, summaries, notes, canned replies)
// goes into the DOM through textContent / createTextNode only.

const root = document.getElementById("inbox-app");
const tools = document.getElementById("inbox-tools");

const WS_PATH = root.dataset.wsPath || "/ws/inbox/";
const LOGIN_URL = root.dataset.loginUrl || "/accounts/login/";
const PING_EVERY_MS = 25000;
const BACKOFF_MIN_MS = 1000;
const BACKOFF_MAX_MS = 30000;
const TOAST_MS = 10000;
const FLASH_MS = 2600;
const IDLE_AFTER_MS = 5 * 60 * 1000;
const TYPING_EVERY_MS = 3000;
const TYPING_SHOWN_MS = 5000;
// How long a gap in the event stream may stay open before the inbox reloads: two servers
// may number their events and send them in the other order, so a late one is still normal.
const GAP_WAIT_MS = 1500;
const RESYNC_RETRY_MS = 5000;
const CLOSED_STATUSES = new Set(["resolved", "expired", "cancelled"]);
const HISTORY_VIEWS = new Set(["resolved", "expired"]);
const VIEWS = new Set(["active", "queued", "mine", "resolved", "expired"]);
// Requests an older server may not know: an unknown_type answer turns the feature off quietly.
const OPTIONAL_REQUESTS = new Set(["note", "transfer", "retry_delivery", "history", "typing", "presence"]);

const ui = {
  banner: root.querySelector('[data-testid="connection-status"]'),
  waiting: root.querySelector('[data-testid="queue-waiting"]'),
  live: root.querySelector('[data-testid="queue-live"]'),
  history: root.querySelector('[data-testid="queue-history"]'),
  historyMore: root.querySelector('[data-testid="history-more"]'),
  queueMore: root.querySelector('[data-testid="queue-more"]'),
  historyTitle: root.querySelector("[data-history-title]"),
  liveTitle: root.querySelector("[data-live-title]"),
  sections: {
    waiting: root.querySelector('[data-section="waiting"]'),
    live: root.querySelector('[data-section="live"]'),
    history: root.querySelector('[data-section="history"]'),
  },
  waitingCount: root.querySelector('[data-count="waiting"]'),
  liveCount: root.querySelector('[data-count="live"]'),
  waitingEmpty: root.querySelector('[data-empty="waiting"]'),
  liveEmpty: root.querySelector('[data-empty="live"]'),
  historyEmpty: root.querySelector('[data-empty="history"]'),
  tabs: [...root.querySelectorAll(".view-tab")],
  search: root.querySelector('[data-testid="search"]'),
  channelFilter: root.querySelector('[data-testid="channel-filter"]'),
  agentFilter: root.querySelector('[data-testid="agent-filter"]'),
  panel: root.querySelector(".panel"),
  panelEmpty: root.querySelector(".panel-empty"),
  team: root.querySelector('[data-testid="teammates-panel"]'),
  teamList: root.querySelector('[data-testid="teammates"]'),
  teamEmpty: root.querySelector(".team-empty"),
  onlineCount: root.querySelector('[data-testid="online-count"]'),
  toasts: root.querySelector(".toasts"),
  bell: tools && tools.querySelector('[data-testid="bell"]'),
  bellCount: tools && tools.querySelector('[data-testid="bell-count"]'),
  bellMenu: tools && tools.querySelector('[data-testid="notifications"]'),
  bellList: tools && tools.querySelector('[data-testid="notification-list"]'),
  bellPermission: tools && tools.querySelector('[data-testid="notification-permission"]'),
  teamToggle: tools && tools.querySelector('[data-testid="team-toggle"]'),
  shortcutsButton: tools && tools.querySelector('[data-testid="shortcuts-button"]'),
  myPresence: tools && tools.querySelector('[data-testid="my-presence"]'),
};

const state = {
  me: null,
  organization: { id: Number(root.dataset.organizationId) || null, name: root.dataset.organizationName || "" },
  sessions: new Map(), // id -> Session (queued and active only)
  unread: new Map(), // session id -> count
  flash: new Map(), // session id -> flash until (ms)
  takenBy: new Map(), // session id -> name, after an already_accepted refusal
  open: null, // the conversation in the middle panel, see openSession()
  pending: new Map(), // request_id -> {type, session_id, text?}
  snapshots: 0,
  teammates: new Map(), // user id -> {id, name, presence, active_sessions, can_handle}
  cannedReplies: [],
  channels: [],
  agents: [],
  filters: { view: "active", channel: "", agent: "", query: "" },
  history: { sessions: [], nextBefore: null, loading: false, error: null, requestId: null, key: "" },
  // The queue comes a page at a time (a busy org has thousands waiting): `next` is where the
  // following page starts, `unloaded` how many wait beyond the pages loaded so far.
  queuePages: { next: null, unloaded: 0, loading: false },
  notifications: [], // {sessionId, contact, summary, at, read}
  unsupported: new Set(), // optional request types the server answered unknown_type to
  typing: new Map(), // session id -> {name, until}
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
  transfer: '<svg width="16" height="16" viewBox="0 0 24 24" fill="none" aria-hidden="true"><path d="M4 8h13m0 0-3.5-3.5M17 8l-3.5 3.5M20 16H7m0 0 3.5-3.5M7 16l3.5 3.5" stroke="currentColor" stroke-width="1.8" stroke-linecap="round" stroke-linejoin="round"/></svg>',
  note: '<svg width="16" height="16" viewBox="0 0 24 24" fill="none" aria-hidden="true"><path d="M5 4.5h14v10l-5 5H5v-15Z" stroke="currentColor" stroke-width="1.7" stroke-linejoin="round"/><path d="M14 19.5v-5h5M8.5 9h7M8.5 12.5h4" stroke="currentColor" stroke-width="1.7" stroke-linecap="round" stroke-linejoin="round"/></svg>',
  canned: '<svg width="16" height="16" viewBox="0 0 24 24" fill="none" aria-hidden="true"><path d="M13 3 5 14h6l-1 7 8-11h-6l1-7Z" stroke="currentColor" stroke-width="1.7" stroke-linejoin="round"/></svg>',
  retry: '<svg width="13" height="13" viewBox="0 0 24 24" fill="none" aria-hidden="true"><path d="M19.5 12a7.5 7.5 0 1 1-2.2-5.3M19.5 4.5v4h-4" stroke="currentColor" stroke-width="2" stroke-linecap="round" stroke-linejoin="round"/></svg>',
  lock: '<svg width="12" height="12" viewBox="0 0 24 24" fill="none" aria-hidden="true"><rect x="5" y="10.5" width="14" height="10" rx="2" stroke="currentColor" stroke-width="2"/><path d="M8.5 10.5V8a3.5 3.5 0 0 1 7 0v2.5" stroke="currentColor" stroke-width="2"/></svg>',
};

// One small inline icon per channel: a brand-coloured tile with a white glyph.
const CHANNEL_ICONS = {
  widget: ["#4f46e5", '<path d="M6 7.5A1.5 1.5 0 0 1 7.5 6h9A1.5 1.5 0 0 1 18 7.5v6a1.5 1.5 0 0 1-1.5 1.5H11l-3 2.5V15h-.5A1.5 1.5 0 0 1 6 13.5v-6Z" fill="#fff"/>'],
  telegram: ["#229ed9", '<path d="m5.5 11.6 11.4-4.5c.5-.2 1 .2.8.8l-1.9 9c-.1.6-.8.8-1.2.4l-3-2.3-1.5 1.4c-.2.2-.5 0-.5-.2l.2-2.6 5-4.6-6.2 3.8-2.8-.9c-.6-.2-.6-1 .1-1.3Z" fill="#fff"/>'],
  discord: ["#5865f2", '<path d="M8 8.2c1.2-.6 2.5-.9 4-.9s2.8.3 4 .9c1 1.5 1.6 3.3 1.6 5.5-1 .8-2 1.3-3 1.5l-.7-1.1c-.6.2-1.2.3-1.9.3s-1.3-.1-1.9-.3l-.7 1.1c-1-.2-2-.7-3-1.5 0-2.2.6-4 1.6-5.5Z" fill="#fff"/><circle cx="10.2" cy="12.3" r="1" fill="#5865f2"/><circle cx="13.8" cy="12.3" r="1" fill="#5865f2"/>'],
  slack: ["#4a154b", '<path d="M10 6v12M14 6v12M6 10h12M6 14h12" stroke="#fff" stroke-width="1.9" stroke-linecap="round"/>'],
  messenger: ["#0084ff", '<path d="M12 5.5c-3.8 0-6.5 2.7-6.5 6.1 0 1.9.9 3.5 2.3 4.6v2.3l2.1-1.2c.7.2 1.4.3 2.1.3 3.8 0 6.5-2.7 6.5-6S15.8 5.5 12 5.5Z" fill="#fff"/><path d="m8.6 13.4 2.2-2.4 1.5 1.3 2.3-1.3-2.2 2.4-1.5-1.3-2.3 1.3Z" fill="#0084ff"/>'],
  instagram: ["#e1306c", '<rect x="6.5" y="6.5" width="11" height="11" rx="3.2" stroke="#fff" stroke-width="1.7"/><circle cx="12" cy="12" r="2.6" stroke="#fff" stroke-width="1.7"/><circle cx="15.3" cy="8.8" r=".9" fill="#fff"/>'],
  whatsapp: ["#25d366", '<path d="M12 5.5a6.4 6.4 0 0 0-5.5 9.7l-.9 3.3 3.4-.9A6.4 6.4 0 1 0 12 5.5Z" fill="#fff"/><path d="M10.1 9.3c.2-.3.5-.3.7 0l.5 1.1c.1.2 0 .4-.1.6l-.4.4c.5 1 1.2 1.7 2.2 2.2l.4-.4c.2-.2.4-.2.6-.1l1.1.5c.3.2.3.5 0 .8-.5.6-1.3.8-2 .5a6.3 6.3 0 0 1-3.4-3.4c-.3-.7-.1-1.6.4-2.2Z" fill="#25d366"/>'],
  google_chat: ["#00ac47", '<path d="M7 6.5h10A1.5 1.5 0 0 1 18.5 8v6a1.5 1.5 0 0 1-1.5 1.5h-4.5L9 18.5v-3H7A1.5 1.5 0 0 1 5.5 14V8A1.5 1.5 0 0 1 7 6.5Z" fill="#fff"/><path d="M9 10h6M9 12.5h4" stroke="#00ac47" stroke-width="1.4" stroke-linecap="round"/>'],
};

function channelIcon(channel, size = 16) {
  const [colour, glyph] = CHANNEL_ICONS[channel] || ["#667085", '<circle cx="12" cy="12" r="4" fill="#fff"/>'];
  return svg(`<svg class="channel-icon" width="${size}" height="${size}" viewBox="0 0 24 24" fill="none" aria-hidden="true" data-channel="${channel in CHANNEL_ICONS ? channel : "other"}"><rect width="24" height="24" rx="6" fill="${colour}"/>${glyph}</svg>`);
}

function channelBadge(session) {
  return h("span", { className: "badge channel-badge", "data-testid": "channel", dataset: { channel: session.channel || "" } },
    channelIcon(session.channel),
    h("span", { text: session.channel_label || session.channel || "" }));
}

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

function firstName(name) {
  return String(name || "").trim().split(/\s+/)[0] || "";
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

function compareIds(a, b) {
  // Message ids are numbers; notes come as "note-<n>" strings.
  if (typeof a === "number" && typeof b === "number") return a - b;
  return String(a).localeCompare(String(b), undefined, { numeric: true });
}

function isTypingTarget(target) {
  if (!target || !(target instanceof Element)) return false;
  return Boolean(target.closest('input, textarea, select, [contenteditable=""], [contenteditable="true"]'));
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
    resetStream();
    setBanner(null);
    clearInterval(pingTimer);
    pingTimer = setInterval(() => send({ type: "ping" }), PING_EVERY_MS);
    // The server pushes a snapshot on connect; ask for one if it does not come.
    clearTimeout(snapshotTimer);
    snapshotTimer = setTimeout(() => send({ type: "snapshot" }), 3000);
    // A new tab starts "active" on the server: say so if this one has been idle.
    if (presence.idle) send({ type: "presence", state: "idle" });
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
    renderMyPresence();
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
  if (state.unsupported.has(payload.type)) return null;
  const request_id = `r${++requestSeq}`;
  socket.send(JSON.stringify({ ...payload, request_id }));
  if (SIGNALS.has(payload.type)) {
    // No answer unless it fails: remember the type briefly, to read an error by.
    signalIds.set(request_id, payload.type);
    if (signalIds.size > 40) signalIds.delete(signalIds.keys().next().value);
  } else {
    state.pending.set(request_id, { type: payload.type, ...(meta || {}) });
  }
  return request_id;
}

const SIGNALS = new Set(["ping", "typing", "presence"]);
const signalIds = new Map(); // request_id -> type, for signals

function supports(type) {
  return !state.unsupported.has(type);
}

function abandonPendingRequests() {
  for (const [, request] of state.pending) {
    if ((request.type === "reply" || request.type === "note") && state.open && state.open.id === request.session_id) {
      restoreDraft(request.text);
      toast(`The connection dropped before your ${request.type} was confirmed. Check the conversation before sending it again.`);
    }
  }
  state.pending.clear();
  state.history.loading = false;
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

// ---------------------------------------------------------------- event stream
//
// Every inbox event but typing carries its place in the organization's stream: `epoch`
// (which counter) and `seq` (one more per event). The snapshot carries the position read
// before its queries (every event up to it is in the snapshot) and so does each pong. The
// channel layer may drop an event on its way (a full channel): a gap that stays open for
// GAP_WAIT_MS, a position ahead of what arrived, or another epoch (Redis lost its data)
// reloads the snapshot, and with it the open conversation and the history being viewed.

const stream = {
  epoch: undefined, // undefined: no snapshot on this socket yet; null: the server could not tell
  seq: 0, // every event up to here is applied (or was in the snapshot)
  ahead: new Set(), // seqs above `seq` that arrived early
  target: 0, // the highest seq we know exists
  gapTimer: null,
  resyncAt: 0, // when the last reload was asked for; 0: none outstanding
  resyncs: 0,
};

function hasPosition(frame) {
  return typeof frame.epoch === "string" && Number.isInteger(frame.seq);
}

function resetStream() {
  clearTimeout(stream.gapTimer);
  Object.assign(stream, { epoch: undefined, seq: 0, target: 0, gapTimer: null, resyncAt: 0 });
  stream.ahead.clear();
}

function streamFromSnapshot(frame) {
  stream.resyncAt = 0;
  if (!hasPosition(frame)) {
    resetStream();
    stream.epoch = null;
    return;
  }
  if (frame.epoch !== stream.epoch) {
    stream.ahead.clear();
    stream.target = 0;
  }
  stream.epoch = frame.epoch;
  stream.seq = frame.seq;
  for (const seq of [...stream.ahead]) if (seq <= frame.seq) stream.ahead.delete(seq);
  advanceStream();
}

// False for an event the last snapshot already contains: applying it would show stale state.
function streamAccepts(frame) {
  if (!hasPosition(frame) || stream.epoch === undefined) return true;
  if (frame.epoch !== stream.epoch) {
    resync();
    return true;
  }
  if (frame.seq <= stream.seq || stream.ahead.has(frame.seq)) return false;
  stream.ahead.add(frame.seq);
  stream.target = Math.max(stream.target, frame.seq);
  advanceStream();
  return true;
}

function streamPositionSeen(frame) {
  if (!hasPosition(frame) || stream.epoch === undefined) return;
  if (frame.epoch !== stream.epoch) {
    resync();
    return;
  }
  stream.target = Math.max(stream.target, frame.seq);
  advanceStream();
}

function advanceStream() {
  while (stream.ahead.delete(stream.seq + 1)) stream.seq += 1;
  if (stream.seq >= stream.target) {
    clearTimeout(stream.gapTimer);
    stream.gapTimer = null;
    return;
  }
  if (stream.gapTimer) return;
  const waitingFor = stream.target;
  stream.gapTimer = setTimeout(() => {
    stream.gapTimer = null;
    if (stream.seq < waitingFor) resync();
    else advanceStream();
  }, GAP_WAIT_MS);
}

function resync() {
  if (stream.resyncAt && Date.now() - stream.resyncAt < RESYNC_RETRY_MS) return; // one is on its way
  if (!send({ type: "snapshot" })) return;
  stream.resyncAt = Date.now();
  stream.resyncs += 1;
  root.dataset.resyncs = String(stream.resyncs);
}

// ---------------------------------------------------------------- frames

function handleFrame(frame) {
  if (frame.type !== "snapshot" && frame.type !== "pong" && !streamAccepts(frame)) return;
  switch (frame.type) {
    case "snapshot":
      applySnapshot(frame);
      break;
    case "pong":
      streamPositionSeen(frame);
      break;
    case "result":
      handleResult(frame);
      break;
    case "error":
      handleError(frame);
      break;
    case "handoff.queued":
      if (frame.session) {
        const isNew = !state.sessions.has(frame.session.id);
        upsertSession(frame.session, true);
        if (isNew && frame.session.status === "queued") notifyQueued(frame.session);
      }
      break;
    case "handoff.accepted":
      if (frame.session) upsertSession(frame.session, false);
      break;
    case "handoff.transferred":
      if (frame.session) sessionTransferred(frame.session);
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
    case "presence.changed":
      if (frame.teammate) teammateChanged(frame.teammate);
      break;
    case "typing":
      someoneTyping(frame);
      break;
    default:
      break;
  }
}

function applySnapshot(frame) {
  clearTimeout(snapshotTimer);
  streamFromSnapshot(frame);
  for (const [id, request] of state.pending) if (request.type === "snapshot") state.pending.delete(id);
  state.snapshots += 1;
  state.me = frame.me || state.me;
  state.organization = frame.organization || state.organization;
  state.sessions = new Map((frame.sessions || []).map((session) => [session.id, session]));
  queuePageLoaded(frame.queue, (frame.sessions || []).filter((session) => session.status === "queued").length, false);
  for (const map of [state.unread, state.takenBy, state.flash]) {
    for (const id of [...map.keys()]) if (!state.sessions.has(id)) map.delete(id);
  }
  if (Array.isArray(frame.teammates)) {
    state.teammates = new Map(frame.teammates.map((mate) => [mate.id, mate]));
  }
  if (Array.isArray(frame.canned_replies)) state.cannedReplies = frame.canned_replies;
  if (Array.isArray(frame.channels)) state.channels = frame.channels;
  if (Array.isArray(frame.agents)) state.agents = frame.agents;
  root.classList.remove("is-loading");

  if (state.open) {
    const fresh = state.sessions.get(state.open.id);
    if (fresh) state.open.session = fresh;
    // Messages may have been missed while we were away: read the conversation again.
    requestTranscript(state.open.id);
  } else if (state.snapshots === 1) {
    openFromHash();
  }
  renderFilterOptions();
  if (HISTORY_VIEWS.has(state.filters.view)) loadHistory({ reset: true });
  renderLists();
  renderTeam();
  renderMyPresence();
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
  if (session.status !== "queued") markNotificationsHandled(session.id);
  if (isNew && !known) state.flash.set(session.id, Date.now() + FLASH_MS);
  if (state.open && state.open.id === session.id) {
    state.open.session = session;
    refreshTranscriptSoon();
  }
  renderLists();
  renderPanel();
}

function sessionTransferred(session) {
  const before = state.sessions.get(session.id);
  const wasMine = isMine(before);
  upsertSession(session, false);
  if (isMine(session) && !wasMine) {
    const from = before && before.assigned_to ? before.assigned_to.name : "A teammate";
    const contact = (session.contact && session.contact.name) || "a customer";
    toast(`${from} transferred the conversation with ${contact} to you.`, {
      action: "Open", onAction: () => openSession(session.id, { focus: true }),
    });
    state.unread.set(session.id, Math.max(1, state.unread.get(session.id) || 0));
    renderLists();
  } else if (wasMine && !isMine(session) && session.assigned_to) {
    if (state.open && state.open.id === session.id) state.open.composerShown = false;
    renderPanel();
  }
}

function closeSession(session) {
  state.sessions.delete(session.id);
  state.unread.delete(session.id);
  state.takenBy.delete(session.id);
  state.flash.delete(session.id);
  state.typing.delete(session.id);
  markNotificationsHandled(session.id);
  if (state.open && state.open.id === session.id) {
    state.open.session = session;
    refreshTranscriptSoon(); // the authoritative timeline names who closed it
  }
  if (HISTORY_VIEWS.has(state.filters.view) && session.status === state.filters.view) loadHistorySoon();
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
  if (message.author_kind === "user") clearTyping(sessionIdForConversation(message.conversation_id));
  if (openConversationId() === message.conversation_id) {
    addMessages([message]);
    if (document.hidden && message.author_kind === "user") {
      const session = sessionForConversation(message.conversation_id);
      if (session) state.unread.set(session.id, (state.unread.get(session.id) || 0) + 1);
      renderLists();
    }
    return;
  }
  const session = sessionForConversation(message.conversation_id);
  const byMe = state.me && message.author_name === state.me.name && message.author_kind !== "user";
  if (session && message.author_kind !== "system" && !byMe) {
    state.unread.set(session.id, (state.unread.get(session.id) || 0) + 1);
    renderLists();
  }
}

function sessionIdForConversation(conversationId) {
  const session = sessionForConversation(conversationId);
  return session ? session.id : null;
}

function messageUpdated(message) {
  if (!state.open || !state.open.messages.has(message.id)) return;
  state.open.messages.set(message.id, { ...state.open.messages.get(message.id), ...message });
  renderTranscript();
}

function teammateChanged(mate) {
  const before = state.teammates.get(mate.id);
  state.teammates.set(mate.id, { ...(before || {}), ...mate });
  if (state.me && mate.id === state.me.id && mate.presence) state.me.presence = mate.presence;
  renderTeam();
  renderMyPresence();
  if (transferMenu) renderTransferMenu();
}

function someoneTyping(frame) {
  const sessionId = Number(frame.session_id) || sessionIdForConversation(frame.conversation_id);
  if (!sessionId) return;
  if (frame.author_kind === "teammate" && state.me && frame.name === state.me.name) return;
  if (frame.author_kind !== "user" && frame.author_kind !== "teammate") return;
  const session = state.sessions.get(sessionId);
  const fallback = frame.author_kind === "user"
    ? (session && session.contact && session.contact.name) || "Visitor"
    : "A teammate";
  state.typing.set(sessionId, { name: frame.name || fallback, kind: frame.author_kind, until: Date.now() + TYPING_SHOWN_MS });
  renderTyping();
  renderLists();
}

function clearTyping(sessionId) {
  if (sessionId && state.typing.delete(sessionId)) {
    renderTyping();
    renderLists();
  }
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
    case "note":
    case "retry_delivery":
      if (frame.message && openConversationId() === frame.message.conversation_id) addMessages([frame.message]);
      break;
    case "transfer":
      if (state.open && request && state.open.id === request.session_id) state.open.busy = null;
      if (frame.session) {
        sessionTransferred(frame.session);
        const to = frame.session.assigned_to ? frame.session.assigned_to.name : "your teammate";
        toast(`Transferred to ${to}.`);
      }
      break;
    case "history":
      historyLoaded(frame, request);
      break;
    case "queue":
      for (const session of frame.sessions || []) if (!state.sessions.has(session.id)) state.sessions.set(session.id, session);
      queuePageLoaded(frame, (frame.sessions || []).length, true);
      renderLists();
      break;
    default:
      break;
  }
}

function handleError(frame) {
  const request = state.pending.get(frame.request_id);
  state.pending.delete(frame.request_id);
  const signal = signalIds.get(frame.request_id);
  signalIds.delete(frame.request_id);
  const action = frame.action || (request && request.type) || signal;
  const sessionId = request ? request.session_id : null;

  if (state.open && sessionId === state.open.id) state.open.busy = null;

  if (frame.code === "unknown_type" && OPTIONAL_REQUESTS.has(action)) {
    // An older server: turn the feature off instead of failing on every use.
    state.unsupported.add(action);
    if (action === "history") historyFailed("Search of past conversations is not available on this server yet.");
    else if (action === "note" || action === "transfer" || action === "retry_delivery") {
      toast("This server does not support that yet.");
      if (action === "note" && request) restoreDraft(request.text);
    }
    renderPanel();
    return;
  }
  if (signal) return; // typing / presence / ping: best effort, never a toast

  if (action === "transcript" && state.open && sessionId === state.open.id) {
    if (!state.open.loaded) state.open.error = frame.message || "This conversation could not be loaded.";
    renderPanel();
    if (frame.code !== "not_found") toast(frame.message || "This conversation could not be loaded.");
    return;
  }
  if (action === "history") {
    historyFailed(frame.message || "Past conversations could not be loaded.");
    return;
  }
  if (action === "queue") {
    state.queuePages.loading = false;
    renderLists();
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
  if ((action === "reply" || action === "note") && request && state.open && state.open.id === request.session_id) {
    restoreDraft(request.text);
  }
  if (["not_waiting", "not_active", "not_assignee", "not_found", "not_online"].includes(frame.code)) {
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

function knownSession(sessionId) {
  return state.sessions.get(sessionId) || state.history.sessions.find((s) => s.id === sessionId) || null;
}

function openSession(sessionId, { focus = false } = {}) {
  if (!Number.isInteger(sessionId) || sessionId < 1) return;
  if (!state.open || state.open.id !== sessionId) {
    closeMenus();
    state.open = {
      id: sessionId,
      session: knownSession(sessionId),
      messages: new Map(),
      timeline: [],
      loaded: false,
      error: null,
      busy: null,
      requestId: null,
      noteMode: false,
      draft: "",
    };
    requestTranscript(sessionId);
  }
  state.unread.delete(sessionId);
  markNotificationsRead(sessionId);
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
  closeMenus();
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

function offline() {
  toast("You are offline. Try again once the inbox has reconnected.");
}

function accept(sessionId) {
  if (!state.open || state.open.busy) return;
  if (!send({ type: "accept", session_id: sessionId }, { session_id: sessionId })) return offline();
  state.open.busy = "accept";
  renderPanel();
}

function resolve(sessionId) {
  if (!state.open || state.open.busy) return;
  if (!send({ type: "resolve", session_id: sessionId }, { session_id: sessionId })) return offline();
  state.open.busy = "resolve";
  renderPanel();
}

function transfer(sessionId, mate) {
  closeMenus();
  if (!state.open || state.open.busy) return;
  if (!send({ type: "transfer", session_id: sessionId, to_user_id: mate.id }, { session_id: sessionId })) return offline();
  state.open.busy = "transfer";
  renderPanel();
}

function retryDelivery(messageId) {
  if (!send({ type: "retry_delivery", message_id: messageId }, { message_id: messageId })) return offline();
  if (state.open && state.open.messages.has(messageId)) {
    // Shown as sending at once; the server's answer (or message.updated) confirms it.
    state.open.messages.set(messageId, { ...state.open.messages.get(messageId), delivery_status: "pending", delivery_error: "" });
    renderTranscript();
  }
}

function sendReply() {
  const input = ui.panel.querySelector('[data-testid="reply-input"]');
  if (!input || input.disabled || !state.open) return;
  const text = input.value.trim();
  if (!text) return;
  const sessionId = state.open.id;
  const type = state.open.noteMode ? "note" : "reply";
  if (!send({ type, session_id: sessionId, text }, { session_id: sessionId, text })) {
    toast(`You are offline. Your ${type} is still in the box; send it once the inbox has reconnected.`);
    return;
  }
  input.value = "";
  state.open.draft = "";
  if (type === "reply") lastTypingSentAt = 0;
  closeCanned();
  autosize(input);
}

let lastTypingSentAt = 0;
function typed() {
  // At most one typing signal every 3 s, only for what the customer would see.
  if (!state.open || state.open.noteMode || !state.open.session) return;
  const session = state.open.session;
  if (session.status !== "active" || !isMine(session)) return;
  const now = Date.now();
  if (now - lastTypingSentAt < TYPING_EVERY_MS) return;
  lastTypingSentAt = now;
  send({ type: "typing", session_id: session.id });
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

function nextWaiting() {
  const waiting = visibleSessions().waiting;
  if (!waiting.length) {
    toast("Nobody is waiting.");
    return;
  }
  const index = state.open ? waiting.findIndex((s) => s.id === state.open.id) : -1;
  const next = waiting[(index + 1) % waiting.length];
  openSession(next.id, { focus: true });
}

// ---------------------------------------------------------------- history

let historyTimer = null;

function historyKey() {
  const f = state.filters;
  return JSON.stringify([f.view, f.channel, f.agent, f.query.trim()]);
}

function loadHistory({ reset = false } = {}) {
  if (!HISTORY_VIEWS.has(state.filters.view)) return;
  const hist = state.history;
  if (!supports("history")) {
    historyFailed("Search of past conversations is not available on this server yet.");
    return;
  }
  if (reset) {
    hist.sessions = [];
    hist.nextBefore = null;
    hist.error = null;
    hist.key = historyKey();
  }
  const payload = { type: "history", status: state.filters.view };
  if (state.filters.query.trim()) payload.query = state.filters.query.trim();
  if (state.filters.channel) payload.channel = state.filters.channel;
  if (state.filters.agent) payload.agent_id = Number(state.filters.agent);
  if (!reset && hist.nextBefore) payload.before = hist.nextBefore;
  const requestId = send(payload, { key: hist.key, append: !reset });
  hist.loading = Boolean(requestId);
  hist.requestId = requestId;
  renderLists();
}

function queuePageLoaded(page, received, appended) {
  const pages = state.queuePages;
  pages.loading = false;
  if (!page || typeof page.waiting !== "number") {
    Object.assign(pages, { next: null, unloaded: 0 });
    return;
  }
  pages.next = page.next || null;
  pages.unloaded = pages.next ? Math.max(0, appended ? pages.unloaded - received : page.waiting - received) : 0;
}

function loadMoreQueue() {
  const pages = state.queuePages;
  if (!pages.next || pages.loading) return;
  if (send({ type: "queue", after_queued_at: pages.next.queued_at, after_id: pages.next.id })) pages.loading = true;
  renderLists();
}

function loadHistorySoon(delay = 250) {
  clearTimeout(historyTimer);
  historyTimer = setTimeout(() => loadHistory({ reset: true }), delay);
}

function historyLoaded(frame, request) {
  const hist = state.history;
  if (!request || request.key !== hist.key || frame.request_id !== hist.requestId) return; // a stale answer
  hist.loading = false;
  hist.error = null;
  const seen = new Set(hist.sessions.map((s) => s.id));
  const fresh = (frame.sessions || []).filter((s) => !seen.has(s.id));
  hist.sessions = request.append ? hist.sessions.concat(fresh) : (frame.sessions || []);
  hist.nextBefore = frame.next_before || null;
  renderLists();
}

function historyFailed(message) {
  state.history.loading = false;
  state.history.error = message;
  renderLists();
}

// ---------------------------------------------------------------- toasts

function toast(message, { action, onAction, kind } = {}) {
  const node = h("div", { className: `toast${kind ? ` toast-${kind}` : ""}`, "data-testid": "toast", role: "alert" },
    h("span", { className: "toast-text", text: message }),
  );
  const dismiss = h("button", { type: "button", className: "toast-close", "aria-label": "Dismiss" }, svg(ICONS.close));
  const remove = () => {
    clearTimeout(timer);
    node.classList.add("is-leaving");
    setTimeout(() => node.remove(), 160);
  };
  if (action && onAction) {
    node.append(h("button", {
      type: "button", className: "toast-action", text: action,
      onclick: () => { remove(); onAction(); },
    }));
  }
  dismiss.addEventListener("click", remove);
  node.append(dismiss);
  ui.toasts.append(node);
  while (ui.toasts.children.length > 4) ui.toasts.firstElementChild.remove();
  const timer = setTimeout(remove, TOAST_MS);
  return node;
}

// ---------------------------------------------------------------- notifications

let audio = null;

function unlockAudio() {
  // Browsers start an AudioContext only after a gesture: make it on the first one.
  if (audio || !(window.AudioContext || window.webkitAudioContext)) return;
  try {
    audio = new (window.AudioContext || window.webkitAudioContext)();
  } catch (error) {
    audio = null;
  }
}

function beep() {
  if (!audio) return;
  try {
    if (audio.state === "suspended") audio.resume();
    const now = audio.currentTime;
    const gain = audio.createGain();
    gain.connect(audio.destination);
    gain.gain.setValueAtTime(0.0001, now);
    gain.gain.exponentialRampToValueAtTime(0.18, now + 0.02);
    gain.gain.exponentialRampToValueAtTime(0.0001, now + 0.35);
    for (const [freq, start] of [[880, 0], [1320, 0.12]]) {
      const osc = audio.createOscillator();
      osc.type = "sine";
      osc.frequency.setValueAtTime(freq, now + start);
      osc.connect(gain);
      osc.start(now + start);
      osc.stop(now + start + 0.2);
    }
  } catch (error) {
    // Sound is a nicety.
  }
}

function notificationsAllowed() {
  return "Notification" in window && Notification.permission === "granted";
}

function notifyQueued(session) {
  const contact = (session.contact && session.contact.name) || "A customer";
  const summary = session.summary || session.reason || "";
  state.notifications.unshift({ sessionId: session.id, contact, summary, channel: session.channel,
    label: session.channel_label || session.channel || "", at: Date.now(), read: false, handled: false });
  state.notifications.length = Math.min(state.notifications.length, 30);
  renderBell();
  toast(`${contact} is waiting${session.channel_label ? ` on ${session.channel_label}` : ""}.`, {
    action: "Open", onAction: () => openSession(session.id, { focus: true }), kind: "queued",
  });
  if (notificationsAllowed()) {
    beep();
    if (document.hidden || !document.hasFocus()) {
      try {
        const note = new Notification(`${contact} is waiting`, {
          body: summary.slice(0, 180), tag: `handoff-session-${session.id}`, icon: "/static/inbox/favicon.svg",
        });
        note.onclick = () => {
          window.focus();
          openSession(session.id, { focus: true });
          note.close();
        };
      } catch (error) {
        // Some browsers only allow notifications from a service worker.
      }
    }
  }
}

function markNotificationsRead(sessionId) {
  let changed = false;
  for (const item of state.notifications) {
    if (item.sessionId === sessionId && !item.read) {
      item.read = true;
      changed = true;
    }
  }
  if (changed) renderBell();
}

function markNotificationsHandled(sessionId) {
  for (const item of state.notifications) if (item.sessionId === sessionId) item.handled = true;
  renderBell();
}

function renderBell() {
  if (!ui.bell) return;
  const unread = state.notifications.filter((item) => !item.read).length;
  ui.bellCount.hidden = unread === 0;
  ui.bellCount.textContent = unread > 99 ? "99+" : String(unread);
  ui.bell.setAttribute("aria-label", unread ? `Notifications, ${unread} unread` : "Notifications");
  ui.bellList.replaceChildren(...state.notifications.map((item) => h("li", null,
    h("button", {
      type: "button", className: `bell-item${item.read ? "" : " is-unread"}${item.handled ? " is-handled" : ""}`,
      "data-testid": "notification",
      onclick: () => { closeMenus(); openSession(item.sessionId, { focus: true }); },
    },
    channelIcon(item.channel, 18),
    h("span", { className: "bell-item-body" },
      h("span", { className: "bell-item-title", text: `${item.contact} is waiting` }),
      item.summary ? h("span", { className: "bell-item-summary", text: item.summary }) : null,
      h("span", { className: "bell-item-meta", text: `${item.label} · ${clockFormat.format(new Date(item.at))}${item.handled ? " · taken" : ""}` }),
    )))));
  ui.bellMenu.classList.toggle("is-empty", state.notifications.length === 0);
  renderPermission();
}

function renderPermission() {
  if (!ui.bellPermission) return;
  let text;
  if (!("Notification" in window)) text = "Desktop alerts are not supported in this browser.";
  else if (Notification.permission === "granted") text = "Desktop alerts and sound are on.";
  else if (Notification.permission === "denied") text = "Desktop alerts are blocked in the browser settings.";
  else text = "Asking to allow desktop alerts…";
  ui.bellPermission.textContent = text;
}

function toggleBell() {
  const open = ui.bellMenu.hidden;
  closeMenus();
  if (!open) return;
  unlockAudio();
  // Permission is asked from this click only, never on load.
  if ("Notification" in window && Notification.permission === "default") {
    try {
      const asked = Notification.requestPermission(() => renderPermission());
      if (asked && typeof asked.then === "function") asked.then(renderPermission, renderPermission);
    } catch (error) {
      // Old Safari: callback form only, handled above.
    }
  }
  ui.bellMenu.hidden = false;
  ui.bell.setAttribute("aria-expanded", "true");
  for (const item of state.notifications) item.read = true;
  renderBell();
}

if (ui.bell) {
  ui.bell.addEventListener("click", (event) => {
    event.stopPropagation();
    toggleBell();
  });
  ui.bellMenu.addEventListener("click", (event) => event.stopPropagation());
}

// ---------------------------------------------------------------- presence (idle / active)

const presence = { idle: false, lastInputAt: Date.now() };

function userActed() {
  presence.lastInputAt = Date.now();
  unlockAudio();
  if (presence.idle) {
    presence.idle = false;
    send({ type: "presence", state: "active" });
    if (state.me && state.me.presence === "away") {
      // Shown at once; the server's presence.changed confirms it.
      renderMyPresence();
    }
  }
}

for (const type of ["keydown", "pointerdown", "wheel", "touchstart"]) {
  document.addEventListener(type, userActed, { passive: true, capture: true });
}
let lastMove = 0;
document.addEventListener("pointermove", () => {
  const now = Date.now();
  if (now - lastMove > 1000) {
    lastMove = now;
    userActed();
  }
}, { passive: true });

setInterval(() => {
  if (!presence.idle && Date.now() - presence.lastInputAt >= IDLE_AFTER_MS) {
    presence.idle = true;
    send({ type: "presence", state: "idle" });
  }
}, 10000);

function renderMyPresence() {
  if (!ui.myPresence) return;
  let value = connected ? (state.me && state.me.presence) || "online" : "offline";
  if (connected && presence.idle) value = "away";
  else if (connected && !presence.idle && value === "away") value = "online";
  ui.myPresence.dataset.presence = value;
  ui.myPresence.querySelector(".my-presence-label").textContent = connected
    ? { online: "Online", away: "Away", offline: "Offline" }[value] || value
    : "Offline";
  ui.myPresence.title = connected
    ? value === "away" ? "Away: no input for 5 minutes" : "Online"
    : "Not connected";
}

// ---------------------------------------------------------------- left column

const itemNodes = new Map(); // session id -> <li>, open sessions
const historyNodes = new Map(); // session id -> <li>, closed sessions

function matchesFilters(session) {
  const f = state.filters;
  if (f.channel && session.channel !== f.channel) return false;
  if (f.agent && !(session.agent && String(session.agent.id) === f.agent)) return false;
  const query = f.query.trim().toLocaleLowerCase();
  if (query) {
    const haystack = [session.contact && session.contact.name, session.summary, session.reason]
      .filter(Boolean).join(" ").toLocaleLowerCase();
    if (!haystack.includes(query)) return false;
  }
  return true;
}

function visibleSessions() {
  const sessions = [...state.sessions.values()].filter(matchesFilters);
  const view = state.filters.view;
  const waiting = view === "active" || view === "queued"
    ? sessions.filter((s) => s.status === "queued").sort(byQueuedAt)
    : [];
  const live = view === "active" || view === "mine"
    ? sessions
      .filter((s) => s.status === "active" && (view !== "mine" || isMine(s)))
      .sort((a, b) => Number(isMine(b)) - Number(isMine(a)) || byQueuedAt(a, b))
    : [];
  return { waiting, live };
}

function renderLists() {
  const view = state.filters.view;
  const inHistory = HISTORY_VIEWS.has(view);
  const { waiting, live } = visibleSessions();

  const focusedId = document.activeElement && document.activeElement.dataset
    ? document.activeElement.dataset.sessionId
    : null;

  const keep = new Set();
  placeItems(ui.waiting, waiting, keep, itemNodes);
  placeItems(ui.live, live, keep, itemNodes);
  for (const [id, node] of itemNodes) {
    if (!keep.has(id)) {
      node.remove();
      itemNodes.delete(id);
    }
  }

  const historyKeep = new Set();
  placeItems(ui.history, inHistory ? state.history.sessions : [], historyKeep, historyNodes);
  for (const [id, node] of historyNodes) {
    if (!historyKeep.has(id)) {
      node.remove();
      historyNodes.delete(id);
    }
  }

  ui.sections.waiting.hidden = !(view === "active" || view === "queued");
  ui.sections.live.hidden = !(view === "active" || view === "mine");
  ui.sections.history.hidden = !inHistory;
  ui.liveTitle.textContent = view === "mine" ? "With you" : "Live";
  ui.historyTitle.textContent = view === "expired" ? "Expired" : "Resolved";

  const filtered = Boolean(state.filters.channel || state.filters.agent || state.filters.query.trim());
  const pages = state.queuePages;
  // Unfiltered, the count is everyone waiting, loaded or not; filters apply to what is loaded.
  ui.waitingCount.textContent = String(waiting.length + (filtered ? 0 : pages.unloaded));
  ui.queueMore.hidden = !pages.next || ui.sections.waiting.hidden;
  ui.queueMore.disabled = pages.loading;
  ui.queueMore.textContent = pages.loading ? "Loading…" : `Show more waiting (${pages.unloaded} more)`;
  ui.liveCount.textContent = String(live.length);
  ui.waitingEmpty.hidden = waiting.length > 0;
  ui.liveEmpty.hidden = live.length > 0;
  ui.waitingEmpty.textContent = filtered
    ? "Nobody waiting matches these filters."
    : "Nobody is waiting. When a customer asks for a person, they show up here.";
  ui.liveEmpty.textContent = filtered ? "No live conversation matches these filters."
    : view === "mine" ? "You have no live conversations." : "No live conversations.";

  const hist = state.history;
  ui.historyEmpty.hidden = !inHistory || hist.loading || (hist.sessions.length > 0 && !hist.error);
  ui.historyEmpty.textContent = hist.error || (filtered ? "No past conversation matches." : "Nothing here yet.");
  ui.historyEmpty.dataset.kind = hist.error ? "error" : "";
  ui.historyMore.hidden = !inHistory || !hist.nextBefore || Boolean(hist.error);
  ui.historyMore.disabled = hist.loading;
  ui.historyMore.textContent = hist.loading ? "Loading…" : "Load more";
  ui.sections.history.classList.toggle("is-loading-list", inHistory && hist.loading && hist.sessions.length === 0);

  for (const tab of ui.tabs) {
    const selected = tab.dataset.view === view;
    tab.setAttribute("aria-selected", String(selected));
    tab.tabIndex = selected ? 0 : -1;
  }
  ui.search.placeholder = inHistory ? "Search contacts and messages" : "Search contacts";

  if (focusedId && document.activeElement === document.body) {
    const again = root.querySelector(`[data-testid="session-item"][data-session-id="${focusedId}"]`);
    if (again) again.focus();
  }
  const allWaiting = [...state.sessions.values()].filter((s) => s.status === "queued").length;
  updateTitle(allWaiting);
  renderTeamSoon();
  tick();
}

function placeItems(list, sessions, keep, nodes) {
  sessions.forEach((session, index) => {
    let li = nodes.get(session.id);
    if (!li) {
      li = h("li", { className: "queue-row" });
      nodes.set(session.id, li);
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
  const closed = CLOSED_STATUSES.has(session.status);

  let button = li.firstElementChild;
  if (!button) {
    button = h("button", { type: "button", className: "session-item", "data-testid": "session-item" });
    button.addEventListener("click", () => openSession(Number(button.dataset.sessionId), { focus: false }));
    li.append(button);
  }
  button.dataset.sessionId = String(session.id);
  button.dataset.status = session.status;
  button.dataset.channel = session.channel || "";
  button.classList.toggle("is-open", isOpen);
  button.classList.toggle("is-mine", mine && !closed);
  button.classList.toggle("has-unread", unread > 0);
  button.classList.toggle("is-closed", closed);
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
    h("span", { className: "item-avatar", "aria-hidden": "true" },
      h("span", { text: initials(contact) }),
      h("span", { className: "item-avatar-channel" }, channelIcon(session.channel, 13))),
    h("span", { className: "item-contact", text: contact }),
    unread > 0 ? h("span", { className: "unread", "data-testid": "unread", title: `${unread} unread`, text: String(unread) }) : null,
  );

  let clock;
  if (closed) {
    clock = h("span", { className: "item-clock", title: "Closed" }, timeElement(session.closed_at || session.queued_at));
  } else if (session.status === "active") {
    clock = h("span", { className: "item-clock", title: "Live for" },
      h("span", { className: "tick", dataset: { since: session.accepted_at || session.queued_at || "" } }));
  } else {
    clock = h("span", { className: "item-clock is-waiting", title: "Waiting for" },
      h("span", { className: "tick", "data-testid": "waiting-time", dataset: { since: session.queued_at || "" } }));
  }
  top.append(clock);

  const meta = h("span", { className: "item-meta" },
    channelBadge(session),
    agent ? h("span", { className: "item-agent", "data-testid": "agent", text: agent }) : null,
  );

  const lines = [top, meta];
  const typing = state.typing.get(session.id);
  if (typing && typing.until > Date.now() && typing.kind === "user") {
    lines.push(h("span", { className: "item-summary is-typing", text: "typing…" }));
  } else if (summary) {
    lines.push(h("span", { className: "item-summary", "data-testid": "summary-line", text: summary }));
  }

  if (closed) {
    lines.push(h("span", { className: "item-holder" },
      h("span", { className: `status-pill status-${session.status}`, text: statusLabel(session) }),
      session.assigned_to ? ` ${session.assigned_to.name}` : ""));
  } else if (session.status === "active" && session.assigned_to) {
    const taken = state.takenBy.get(session.id);
    lines.push(h("span", { className: `item-holder${mine ? " is-mine" : ""}`, "data-testid": "holder" },
      h("span", { className: "holder-dot", "aria-hidden": "true" }),
      mine ? "With you" : taken ? `Taken by ${session.assigned_to.name}` : `With ${session.assigned_to.name}`,
    ));
  }

  button.replaceChildren(...lines);
  const where = closed ? statusLabel(session).toLowerCase()
    : session.status === "active" ? `live, ${mine ? "with you" : `with ${holderName(session)}`}` : "waiting";
  button.setAttribute("aria-label",
    `${contact}, ${session.channel_label || session.channel}, ${where}${unread ? `, ${unread} unread` : ""}`);
}

function updateTitle(waitingCount) {
  document.title = `${waitingCount > 0 ? `(${waitingCount}) ` : ""}Inbox · Handoff`;
}

function tick() {
  const now = Date.now();
  for (const node of root.querySelectorAll(".tick[data-since]")) {
    const since = time(node.dataset.since);
    const text = since === null ? "" : formatDuration(now - since);
    if (node.textContent !== text) node.textContent = text;
  }
  // Typing indicators fade by themselves.
  let expired = false;
  for (const [id, typing] of state.typing) {
    if (typing.until <= now) {
      state.typing.delete(id);
      expired = true;
    }
  }
  if (expired) {
    renderTyping();
    renderLists();
  }
}

setInterval(tick, 1000);

// Filters

function renderFilterOptions() {
  fillSelect(ui.channelFilter, "All channels", state.channels.map((c) => [c.value, c.label || c.value]), state.filters.channel);
  fillSelect(ui.agentFilter, "All AI agents", state.agents.map((a) => [String(a.id), a.name]), state.filters.agent);
  ui.channelFilter.hidden = state.channels.length < 2 && !state.filters.channel;
  ui.agentFilter.hidden = state.agents.length < 2 && !state.filters.agent;
  ui.channelFilter.parentElement.hidden = ui.channelFilter.hidden && ui.agentFilter.hidden;
}

function fillSelect(select, allLabel, options, value) {
  const key = JSON.stringify(options);
  if (select.dataset.key !== key) {
    select.dataset.key = key;
    select.replaceChildren(h("option", { value: "", text: allLabel }),
      ...options.map(([optionValue, label]) => h("option", { value: optionValue, text: label })));
  }
  select.value = options.some(([optionValue]) => optionValue === value) ? value : "";
}

function setView(view) {
  if (!VIEWS.has(view) || view === state.filters.view) return;
  state.filters.view = view;
  sessionStorage.setItem("handoff:inbox:view", view);
  if (HISTORY_VIEWS.has(view)) loadHistory({ reset: true });
  renderLists();
}

function filtersChanged() {
  state.filters.channel = ui.channelFilter.value;
  state.filters.agent = ui.agentFilter.value;
  if (HISTORY_VIEWS.has(state.filters.view)) loadHistory({ reset: true });
  renderLists();
}

for (const tab of ui.tabs) tab.addEventListener("click", () => setView(tab.dataset.view));
root.querySelector(".view-tabs").addEventListener("keydown", (event) => {
  if (event.key !== "ArrowRight" && event.key !== "ArrowLeft") return;
  const index = ui.tabs.findIndex((tab) => tab.dataset.view === state.filters.view);
  const next = ui.tabs[(index + (event.key === "ArrowRight" ? 1 : ui.tabs.length - 1)) % ui.tabs.length];
  setView(next.dataset.view);
  next.focus();
  event.preventDefault();
});
ui.channelFilter.addEventListener("change", filtersChanged);
ui.agentFilter.addEventListener("change", filtersChanged);
ui.search.addEventListener("input", () => {
  state.filters.query = ui.search.value;
  if (HISTORY_VIEWS.has(state.filters.view)) loadHistorySoon(300);
  renderLists();
});
ui.search.addEventListener("keydown", (event) => {
  if (event.key === "Escape") {
    if (ui.search.value) {
      ui.search.value = "";
      state.filters.query = "";
      if (HISTORY_VIEWS.has(state.filters.view)) loadHistorySoon(0);
      renderLists();
    } else {
      ui.search.blur();
    }
    event.preventDefault();
  } else if (event.key === "Enter") {
    clearTimeout(historyTimer);
    if (HISTORY_VIEWS.has(state.filters.view)) loadHistory({ reset: true });
  } else if (event.key === "ArrowDown") {
    const first = root.querySelector('.sidebar-scroll [data-testid="session-item"]');
    if (first) {
      first.focus();
      event.preventDefault();
    }
  }
});
ui.historyMore.addEventListener("click", () => loadHistory({ reset: false }));
ui.queueMore.addEventListener("click", loadMoreQueue);

// Arrow keys move between conversations in the list.
root.querySelector(".sidebar-scroll").addEventListener("keydown", (event) => {
  if (event.key !== "ArrowDown" && event.key !== "ArrowUp") return;
  const items = [...root.querySelectorAll('.sidebar-scroll section:not([hidden]) [data-testid="session-item"]')];
  const index = items.indexOf(document.activeElement);
  if (index < 0) return;
  const next = items[index + (event.key === "ArrowDown" ? 1 : -1)];
  if (next) {
    next.focus();
    event.preventDefault();
  }
});

// ---------------------------------------------------------------- team (presence)

const PRESENCE_ORDER = { online: 0, away: 1, offline: 2 };

let teamFrame = 0;
function renderTeamSoon() {
  if (teamFrame) return;
  teamFrame = requestAnimationFrame(() => {
    teamFrame = 0;
    renderTeam();
  });
}

function renderTeam() {
  const mates = [...state.teammates.values()].sort((a, b) =>
    (PRESENCE_ORDER[a.presence] ?? 3) - (PRESENCE_ORDER[b.presence] ?? 3) ||
    String(a.name).localeCompare(String(b.name)));
  ui.teamEmpty.hidden = mates.length > 0;
  const online = mates.filter((m) => m.presence === "online").length;
  ui.onlineCount.textContent = mates.length ? `${online} online` : "";
  ui.teamList.replaceChildren(...mates.map((mate) => {
    const me = state.me && mate.id === state.me.id;
    const label = { online: "Online", away: "Away", offline: "Offline" }[mate.presence] || mate.presence || "";
    const sessions = heldBy(mate);
    return h("li", {
      className: `teammate presence-${mate.presence}`, "data-testid": "teammate",
      "data-presence": mate.presence, "data-user-id": String(mate.id), "data-name": mate.name,
    },
    h("span", { className: "teammate-avatar", "aria-hidden": "true" },
      h("span", { text: initials(mate.name) }),
      h("span", { className: "presence-dot" })),
    h("span", { className: "teammate-body" },
      h("span", { className: "teammate-name" }, h("span", { text: mate.name }), me ? h("span", { className: "teammate-you", text: " (you)" }) : null),
      h("span", { className: "teammate-meta" },
        h("span", { "data-testid": "teammate-presence", text: label }),
        mate.can_handle === false ? " · viewer" : null)),
    sessions > 0
      ? h("span", { className: "teammate-load", "data-testid": "teammate-sessions", title: `${sessions} live conversation${sessions === 1 ? "" : "s"}`, text: String(sessions) })
      : null,
    );
  }));
}

function heldBy(mate) {
  // The live sessions in the list are the org's: count them here, so the number follows
  // accept / transfer / resolve at once (the server's count arrives only with presence changes).
  if (state.snapshots === 0) return Number(mate.active_sessions) || 0;
  let count = 0;
  for (const session of state.sessions.values()) {
    if (session.status === "active" && session.assigned_to && session.assigned_to.id === mate.id) count += 1;
  }
  return count;
}

function toggleTeam(force) {
  const open = force === undefined ? !root.classList.contains("team-open") : force;
  root.classList.toggle("team-open", open);
  if (ui.teamToggle) ui.teamToggle.setAttribute("aria-expanded", String(open));
}

if (ui.teamToggle) {
  ui.teamToggle.addEventListener("click", (event) => {
    event.stopPropagation();
    toggleTeam();
  });
}

// ---------------------------------------------------------------- middle panel

let panelNodes = null; // the built panel of the open conversation

function buildPanel(sessionId) {
  const back = h("button", { type: "button", className: "btn btn-ghost back-button", "aria-label": "Back to the list" }, svg(ICONS.back));
  back.addEventListener("click", closePanel);

  const title = h("h2", { className: "conv-contact" });
  const sub = h("div", { className: "conv-sub" });
  const acceptButton = h("button", { type: "button", className: "btn btn-primary", "data-testid": "accept", hidden: true },
    svg(ICONS.accept), h("span", { text: "Accept" }));
  const transferButton = h("button", {
    type: "button", className: "btn", "data-testid": "transfer", hidden: true, "aria-haspopup": "true", "aria-expanded": "false",
  }, svg(ICONS.transfer), h("span", { text: "Transfer" }));
  const resolveButton = h("button", { type: "button", className: "btn", "data-testid": "resolve", hidden: true },
    svg(ICONS.check), h("span", { text: "Resolve" }));
  acceptButton.addEventListener("click", () => accept(sessionId));
  resolveButton.addEventListener("click", () => resolve(sessionId));
  transferButton.addEventListener("click", (event) => {
    event.stopPropagation();
    if (transferMenu) closeMenus();
    else openTransferMenu();
  });
  const transferWrap = h("div", { className: "menu-wrap" }, transferButton);

  const header = h("header", { className: "conv-header" },
    back,
    h("div", { className: "conv-heading" }, title, sub),
    h("div", { className: "conv-actions" }, acceptButton, transferWrap, resolveButton),
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

  const typingLine = h("div", { className: "typing-indicator", "data-testid": "typing-indicator", "aria-live": "polite", hidden: true });
  const statusLine = h("div", { className: "conv-status", "data-testid": "conversation-status", role: "status", hidden: true });
  const input = h("textarea", {
    className: "reply-input",
    "data-testid": "reply-input",
    rows: "1",
    maxlength: "20000",
    "aria-label": "Reply",
    placeholder: "Write a reply…",
    "aria-autocomplete": "list",
  });
  const sendButton = h("button", { type: "submit", className: "btn btn-primary send-button", "aria-label": "Send reply" }, svg(ICONS.send));
  const noteToggle = h("button", {
    type: "button", className: "composer-tool note-toggle", "data-testid": "note-toggle", "aria-pressed": "false",
    title: "Internal note (only your team sees it)",
  }, svg(ICONS.note), h("span", { text: "Note" }));
  const cannedButton = h("button", {
    type: "button", className: "composer-tool", "data-testid": "canned-button", "aria-haspopup": "listbox", "aria-expanded": "false",
    title: "Canned replies (type / at the start)",
  }, svg(ICONS.canned), h("span", { text: "Canned replies" }));
  const modeLabel = h("span", { className: "composer-mode", "data-testid": "composer-mode", hidden: true },
    svg(ICONS.lock), h("span", { text: "Internal note — the customer does not see this" }));
  const cannedHolder = h("div", { className: "canned-holder" });
  const composer = h("form", { className: "composer", hidden: true },
    cannedHolder,
    h("div", { className: "composer-tools" }, noteToggle, cannedButton, modeLabel),
    h("div", { className: "composer-box" }, input, sendButton),
    h("p", { className: "composer-hint" }, h("kbd", { text: "Enter" }), " to send · ", h("kbd", { text: "Shift" }), " + ", h("kbd", { text: "Enter" }), " for a new line · ", h("kbd", { text: "/" }), " at the start for canned replies"),
  );
  composer.addEventListener("submit", (event) => {
    event.preventDefault();
    sendReply();
    input.focus();
  });
  input.addEventListener("keydown", (event) => {
    if (cannedMenu && cannedKeydown(event)) return;
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing && event.keyCode !== 229) {
      event.preventDefault();
      sendReply();
    }
  });
  input.addEventListener("input", () => {
    autosize(input);
    if (state.open) state.open.draft = input.value;
    slashCanned(input);
    if (input.value.trim()) typed();
  });
  noteToggle.addEventListener("click", () => {
    if (!state.open) return;
    state.open.noteMode = !state.open.noteMode;
    renderPanel();
    input.focus();
  });
  cannedButton.addEventListener("click", (event) => {
    event.stopPropagation();
    if (cannedMenu && cannedMenu.source === "button") closeCanned();
    else openCanned("button");
  });

  const footer = h("footer", { className: "conv-footer" }, typingLine, statusLine, composer);
  const container = h("div", { className: "conv", dataset: { sessionId: String(sessionId) } }, header, summary, scroller, footer);

  ui.panelEmpty.hidden = true;
  for (const node of [...ui.panel.children]) if (node !== ui.panelEmpty) node.remove();
  ui.panel.append(container);

  panelNodes = {
    sessionId, container, title, sub, acceptButton, resolveButton, transferButton, transferWrap, summary, summaryText,
    summaryReason, scroller, transcript, typingLine, statusLine, composer, input, sendButton, noteToggle, cannedButton,
    modeLabel, cannedHolder, renderedKey: "",
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
    n.transferButton.hidden = true;
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
  n.sub.replaceChildren(...[
    channelBadge(session),
    session.agent && session.agent.name ? h("span", { className: "conv-agent", text: `via ${session.agent.name}` }) : null,
    h("span", { className: `status-pill status-${session.status}`, "data-testid": "session-status", text: statusLabel(session) }),
    session.status === "queued"
      ? h("span", { className: "conv-waiting" }, "waiting ", h("span", { className: "tick", dataset: { since: session.queued_at || "" } }))
      : null,
  ].filter(Boolean));

  n.acceptButton.hidden = !(session.status === "queued" && canHandle);
  n.acceptButton.disabled = open.busy === "accept";
  n.acceptButton.lastElementChild.textContent = open.busy === "accept" ? "Accepting…" : "Accept";
  n.resolveButton.hidden = !(session.status === "active" && mine);
  n.resolveButton.disabled = open.busy === "resolve";
  n.resolveButton.lastElementChild.textContent = open.busy === "resolve" ? "Resolving…" : "Resolve";
  n.transferButton.hidden = !(session.status === "active" && mine && supports("transfer"));
  n.transferButton.disabled = open.busy === "transfer";
  n.transferButton.lastElementChild.textContent = open.busy === "transfer" ? "Transferring…" : "Transfer";
  if (n.transferButton.hidden && transferMenu) closeMenus();

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
  if (!supports("note")) open.noteMode = false;
  const noteMode = Boolean(open.noteMode) && !closed;
  n.composer.hidden = !showComposer;
  n.composer.classList.toggle("is-note", noteMode);
  n.input.disabled = closed;
  n.sendButton.disabled = closed;
  n.noteToggle.hidden = closed || !supports("note");
  n.noteToggle.setAttribute("aria-pressed", String(noteMode));
  n.cannedButton.hidden = closed || state.cannedReplies.length === 0;
  n.modeLabel.hidden = !noteMode;
  n.input.setAttribute("aria-label", noteMode ? "Internal note" : "Reply");
  n.sendButton.setAttribute("aria-label", noteMode ? "Add note" : "Send reply");
  n.input.placeholder = closed ? "This conversation is closed."
    : noteMode ? "Write an internal note for your team…"
      : `Reply to ${session.contact ? session.contact.name : "the customer"}…`;
  if (closed) closeCanned();

  const status = footerStatus(session, { mine, canHandle });
  n.statusLine.hidden = !status;
  n.statusLine.textContent = status || "";
  n.statusLine.dataset.kind = closed ? "closed" : "info";

  renderTyping();
  renderTranscript();
  tick();
}

function renderTyping() {
  if (!panelNodes || !state.open) return;
  const typing = state.typing.get(state.open.id);
  const session = state.open.session;
  const show = Boolean(typing && typing.until > Date.now() && session && !CLOSED_STATUSES.has(session.status));
  panelNodes.typingLine.hidden = !show;
  if (show) {
    const name = typing.kind === "user" ? (typing.name || "Visitor") : typing.name;
    panelNodes.typingLine.replaceChildren(
      h("span", { className: "typing-dots", "aria-hidden": "true" }, h("span"), h("span"), h("span")),
      h("span", { text: `${name} is typing…` }));
  }
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
    case "active":
      if (transition.from_status === "active") return who ? `Transferred by ${who}` : "Transferred";
      return who ? `Accepted by ${who}` : "Accepted";
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
  const messages = [...open.messages.values()].sort((a, b) => (time(a.created_at) || 0) - (time(b.created_at) || 0) || compareIds(a.id, b.id));
  for (const message of messages) {
    entries.push({ kind: "message", at: time(message.created_at) || 0, order: order++, message });
  }
  entries.sort((a, b) => a.at - b.at || a.order - b.order);

  const canRetry = Boolean(state.me && state.me.can_handle) && supports("retry_delivery");
  const key = JSON.stringify([open.loaded, canRetry, entries.map((e) => e.kind === "message"
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
    ? messageNode(entry.message, canRetry)
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

function messageNode(message, canRetry) {
  const kind = message.author_kind;
  const attrs = {
    "data-testid": "message",
    "data-author-kind": kind,
    "data-message-id": String(message.id),
    "data-delivery-status": message.delivery_status || "",
  };
  if (kind === "system") {
    const node = h("li", { className: "msg msg-system", ...attrs },
      h("span", { className: "notice" }, h("span", { className: "notice-text", text: message.text }), " · ", timeElement(message.created_at)));
    if (message.delivery_status === "failed") node.append(deliveryNode(message, canRetry));
    return node;
  }
  if (kind === "note") {
    return h("li", { className: "msg msg-note", ...attrs },
      h("div", { className: "msg-meta" },
        h("span", { className: "note-label", "data-testid": "note-label" }, svg(ICONS.lock), h("span", { text: "Internal note — the customer does not see this" }))),
      h("div", { className: "msg-bubble" },
        h("span", { className: "note-author" }, h("span", { text: message.author_name || "Teammate" }), " · ", timeElement(message.created_at)),
        h("span", { className: "note-text", text: message.text })),
    );
  }
  const author = message.author_name || (kind === "ai" ? "AI" : kind === "teammate" ? "Teammate" : "Customer");
  const meta = h("div", { className: "msg-meta" },
    h("span", { className: "msg-author", text: author }),
    kind === "ai" ? h("span", { className: "msg-tag", text: "AI" }) : null,
    timeElement(message.created_at),
  );
  const bubble = h("div", { className: "msg-bubble", text: message.text });
  const node = h("li", { className: `msg msg-${kind}`, ...attrs }, meta, bubble);
  if (deliveryText(message)) node.append(deliveryNode(message, canRetry));
  return node;
}

function deliveryNode(message, canRetry) {
  const status = message.delivery_status;
  const node = h("div", { className: `msg-delivery delivery-${status}`, "data-testid": "delivery" });
  if (status === "sent") node.append(svg(ICONS.check));
  node.append(h("span", { text: deliveryText(message) }));
  if (status === "failed" && canRetry && typeof message.id === "number") {
    node.append(h("button", {
      type: "button", className: "retry-button", "data-testid": "retry",
      onclick: () => retryDelivery(message.id),
    }, svg(ICONS.retry), h("span", { text: "Retry" })));
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

// ---------------------------------------------------------------- canned replies

let cannedMenu = null; // {source, node, list, filter, items, active}

function cannedMatches(query) {
  const q = query.trim().toLocaleLowerCase();
  if (!q) return state.cannedReplies.slice();
  const starts = [];
  const contains = [];
  for (const reply of state.cannedReplies) {
    const title = String(reply.title || "").toLocaleLowerCase();
    const text = String(reply.text || "").toLocaleLowerCase();
    if (title.startsWith(q)) starts.push(reply);
    else if (title.includes(q) || text.includes(q)) contains.push(reply);
  }
  return starts.concat(contains);
}

function openCanned(source, query = "") {
  if (!panelNodes || !state.cannedReplies.length) return;
  if (cannedMenu && cannedMenu.source !== source) closeCanned();
  if (!cannedMenu) {
    const list = h("ul", { className: "canned-list", role: "listbox", id: "canned-list", "aria-label": "Canned replies" });
    const filter = source === "button"
      ? h("input", { type: "search", className: "canned-filter", "data-testid": "canned-filter", placeholder: "Filter canned replies…", "aria-label": "Filter canned replies", "aria-controls": "canned-list", autocomplete: "off" })
      : null;
    const node = h("div", { className: "canned-menu", "data-testid": "canned-menu" },
      h("div", { className: "canned-head" }, h("span", { text: "Canned replies" }), h("kbd", { text: "↑↓" }), " choose ", h("kbd", { text: "Enter" }), " insert ", h("kbd", { text: "Esc" }), " close"),
      filter, list);
    node.addEventListener("click", (event) => event.stopPropagation());
    panelNodes.cannedHolder.replaceChildren(node);
    cannedMenu = { source, node, list, filter, items: [], active: 0, query: "" };
    panelNodes.cannedButton.setAttribute("aria-expanded", "true");
    panelNodes.input.setAttribute("aria-controls", "canned-list");
    if (filter) {
      filter.addEventListener("input", () => renderCanned(filter.value));
      filter.addEventListener("keydown", (event) => cannedKeydown(event));
      requestAnimationFrame(() => filter.focus());
    }
  }
  renderCanned(query);
}

function renderCanned(query) {
  if (!cannedMenu) return;
  if (cannedMenu.query !== query) cannedMenu.active = 0;
  cannedMenu.query = query;
  cannedMenu.items = cannedMatches(query);
  if (cannedMenu.active >= cannedMenu.items.length) cannedMenu.active = Math.max(0, cannedMenu.items.length - 1);
  if (!cannedMenu.items.length) {
    cannedMenu.list.replaceChildren(h("li", { className: "canned-empty", text: "No canned reply matches." }));
    return;
  }
  cannedMenu.list.replaceChildren(...cannedMenu.items.map((reply, index) => {
    const option = h("li", {
      className: `canned-item${index === cannedMenu.active ? " is-active" : ""}`, role: "option",
      id: `canned-${index}`, "aria-selected": String(index === cannedMenu.active), "data-testid": "canned-item",
    },
    h("span", { className: "canned-title", text: reply.title || "" }),
    h("span", { className: "canned-text", text: reply.text || "" }));
    option.addEventListener("mousedown", (event) => event.preventDefault()); // keep the caret in the box
    option.addEventListener("click", () => chooseCanned(reply));
    return option;
  }));
  const active = cannedMenu.list.children[cannedMenu.active];
  if (active && active.scrollIntoView) active.scrollIntoView({ block: "nearest" });
}

function cannedKeydown(event) {
  if (!cannedMenu) return false;
  const count = cannedMenu.items.length;
  switch (event.key) {
    case "ArrowDown":
    case "ArrowUp":
      if (!count) return false;
      cannedMenu.active = (cannedMenu.active + (event.key === "ArrowDown" ? 1 : count - 1)) % count;
      renderCanned(cannedMenu.query);
      event.preventDefault();
      return true;
    case "Enter":
    case "Tab":
      if (!count || event.shiftKey) return false;
      event.preventDefault();
      chooseCanned(cannedMenu.items[cannedMenu.active]);
      return true;
    case "Escape":
      event.preventDefault();
      event.stopPropagation();
      closeCanned();
      if (panelNodes) panelNodes.input.focus();
      return true;
    default:
      return false;
  }
}

function slashCanned(input) {
  const value = input.value;
  const match = /^\/([^\n]*)$/.exec(value);
  if (match && state.cannedReplies.length && input.selectionStart === value.length) {
    openCanned("slash", match[1]);
  } else if (cannedMenu && cannedMenu.source === "slash") {
    closeCanned();
  }
}

function chooseCanned(reply) {
  if (!reply || !panelNodes) return;
  const input = panelNodes.input;
  const text = String(reply.text || "");
  if (cannedMenu && cannedMenu.source === "slash") {
    input.value = text;
    input.setSelectionRange(text.length, text.length);
  } else {
    const start = input.selectionStart ?? input.value.length;
    const end = input.selectionEnd ?? input.value.length;
    input.setRangeText(text, start, end, "end");
  }
  closeCanned();
  autosize(input);
  if (state.open) state.open.draft = input.value;
  input.focus();
  typed();
}

function closeCanned() {
  if (!cannedMenu) return;
  cannedMenu.node.remove();
  cannedMenu = null;
  if (panelNodes) {
    panelNodes.cannedButton.setAttribute("aria-expanded", "false");
    panelNodes.input.removeAttribute("aria-controls");
  }
}

// ---------------------------------------------------------------- transfer menu

let transferMenu = null;

function transferCandidates() {
  return [...state.teammates.values()]
    .filter((mate) => mate.presence === "online" && mate.can_handle !== false && !(state.me && mate.id === state.me.id))
    .sort((a, b) => heldBy(a) - heldBy(b) || String(a.name).localeCompare(String(b.name)));
}

function openTransferMenu() {
  if (!panelNodes || !state.open) return;
  closeMenus();
  transferMenu = h("div", { className: "menu transfer-menu", "data-testid": "transfer-menu", role: "menu", "aria-label": "Transfer to" });
  transferMenu.addEventListener("click", (event) => event.stopPropagation());
  transferMenu.addEventListener("keydown", (event) => {
    const items = [...transferMenu.querySelectorAll("[role=menuitem]")];
    const index = items.indexOf(document.activeElement);
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      const next = items[(index + (event.key === "ArrowDown" ? 1 : items.length - 1)) % items.length];
      if (next) next.focus();
      event.preventDefault();
    } else if (event.key === "Escape") {
      closeMenus();
      panelNodes && panelNodes.transferButton.focus();
      event.preventDefault();
      event.stopPropagation();
    }
  });
  panelNodes.transferWrap.append(transferMenu);
  panelNodes.transferButton.setAttribute("aria-expanded", "true");
  renderTransferMenu();
  const first = transferMenu.querySelector("[role=menuitem]");
  if (first) first.focus();
}

function renderTransferMenu() {
  if (!transferMenu || !state.open) return;
  const sessionId = state.open.id;
  const mates = transferCandidates();
  transferMenu.replaceChildren(
    h("div", { className: "menu-head", text: "Transfer to an online teammate" }),
    ...(mates.length ? mates.map((mate) => h("button", {
      type: "button", className: "menu-item", role: "menuitem", "data-testid": "transfer-option", "data-user-id": String(mate.id),
      onclick: () => transfer(sessionId, mate),
    },
    h("span", { className: "teammate-avatar presence-online", "aria-hidden": "true" }, h("span", { text: initials(mate.name) }), h("span", { className: "presence-dot" })),
    h("span", { className: "menu-item-name", text: mate.name }),
    h("span", { className: "menu-item-meta", text: `${heldBy(mate)} live` }),
    )) : [h("p", { className: "menu-empty", "data-testid": "transfer-empty", text: "Nobody else who can take conversations is online." })]),
  );
}

function closeMenus() {
  if (transferMenu) {
    transferMenu.remove();
    transferMenu = null;
    if (panelNodes) panelNodes.transferButton.setAttribute("aria-expanded", "false");
  }
  if (cannedMenu && cannedMenu.source === "button") closeCanned();
  if (ui.bellMenu && !ui.bellMenu.hidden) {
    ui.bellMenu.hidden = true;
    ui.bell.setAttribute("aria-expanded", "false");
  }
}

document.addEventListener("click", (event) => {
  closeMenus();
  if (root.classList.contains("team-open") && !ui.team.contains(event.target)) toggleTeam(false);
});

// ---------------------------------------------------------------- dialogs

function dialog({ title, body, confirmLabel, cancelLabel = "Cancel", testid }) {
  return new Promise((resolveChoice) => {
    const confirmButton = confirmLabel ? h("button", { type: "button", className: "btn btn-primary", "data-testid": "confirm-ok", text: confirmLabel }) : null;
    const cancelButton = h("button", { type: "button", className: "btn", "data-testid": "confirm-cancel", text: confirmLabel ? cancelLabel : "Close" });
    const node = h("dialog", { className: "dialog", "data-testid": testid || "dialog", "aria-labelledby": "dialog-title" },
      h("h2", { className: "dialog-title", id: "dialog-title", text: title }),
      body,
      h("div", { className: "dialog-actions" }, cancelButton, confirmButton));
    const finish = (value) => {
      node.close();
      node.remove();
      resolveChoice(value);
    };
    cancelButton.addEventListener("click", () => finish(false));
    if (confirmButton) confirmButton.addEventListener("click", () => finish(true));
    node.addEventListener("cancel", (event) => {
      event.preventDefault();
      finish(false);
    });
    document.body.append(node);
    node.showModal();
    (confirmButton || cancelButton).focus();
  });
}

function openDialog() {
  return document.querySelector("dialog[open]");
}

const SHORTCUTS = [
  ["n", "Open the next waiting conversation"],
  ["a", "Accept the open conversation"],
  ["r", "Resolve the open conversation (asks first)"],
  ["/", "Search, or canned replies in the reply box"],
  ["Esc", "Close a menu or the open conversation"],
  ["Enter", "Send · Shift + Enter for a new line"],
  ["?", "Show these shortcuts"],
];

function showShortcuts() {
  if (openDialog()) return;
  const list = h("dl", { className: "shortcuts" },
    ...SHORTCUTS.flatMap(([key, text]) => [h("dt", null, h("kbd", { text: key })), h("dd", { text })]));
  dialog({ title: "Keyboard shortcuts", body: h("div", null, list,
    h("p", { className: "dialog-note", text: "Shortcuts pause while you type in a box." })), testid: "shortcuts-help" });
}

if (ui.shortcutsButton) ui.shortcutsButton.addEventListener("click", showShortcuts);

async function confirmResolve() {
  if (!state.open || !state.open.session) return;
  const session = state.open.session;
  if (session.status !== "active" || !isMine(session)) {
    toast("Only the teammate holding a live conversation can resolve it.");
    return;
  }
  const contact = (session.contact && session.contact.name) || "this customer";
  const ok = await dialog({
    title: "Resolve this conversation?",
    body: h("p", { text: `${contact} goes back to ${session.agent ? session.agent.name : "the AI agent"}.` }),
    confirmLabel: "Resolve", testid: "confirm-resolve",
  });
  if (ok && state.open && state.open.id === session.id) resolve(session.id);
}

// ---------------------------------------------------------------- keyboard

document.addEventListener("keydown", (event) => {
  if (event.defaultPrevented || event.isComposing) return;
  if (event.key === "Escape") {
    if (transferMenu || (cannedMenu && cannedMenu.source === "button") || (ui.bellMenu && !ui.bellMenu.hidden)) {
      closeMenus();
      return;
    }
    if (ui.toasts.lastElementChild) {
      const close = ui.toasts.lastElementChild.querySelector(".toast-close");
      if (close) close.click();
      return;
    }
    if (root.classList.contains("team-open")) toggleTeam(false);
    return;
  }
  if (event.ctrlKey || event.metaKey || event.altKey) return;
  if (isTypingTarget(event.target) || openDialog()) return;
  switch (event.key) {
    case "n":
      event.preventDefault();
      nextWaiting();
      break;
    case "a":
      if (state.open && state.open.session && state.open.session.status === "queued" && state.me && state.me.can_handle) {
        event.preventDefault();
        accept(state.open.id);
      }
      break;
    case "r":
      if (state.open) {
        event.preventDefault();
        confirmResolve();
      }
      break;
    case "/": {
      event.preventDefault();
      const input = panelNodes && !panelNodes.composer.hidden && !panelNodes.input.disabled ? panelNodes.input : null;
      if (input && state.cannedReplies.length && !input.value) {
        input.focus();
        input.value = "/";
        slashCanned(input);
      } else {
        ui.search.focus();
        ui.search.select();
      }
      break;
    }
    case "?":
      event.preventDefault();
      showShortcuts();
      break;
    default:
      break;
  }
});

// ---------------------------------------------------------------- start

{
  const saved = sessionStorage.getItem("handoff:inbox:view");
  if (saved && VIEWS.has(saved)) state.filters.view = saved;
}
updateTitle(0);
renderBell();
renderLists();
renderMyPresence();
connect();
setTimeout(() => {
  if (!connected && ui.banner.hidden && !stopped) setBanner("Connecting…");
}, 800);
