// The reference web client. How it uses the API, on purpose:
// - the access token lives in this closure only (never localStorage or sessionStorage), so a
//   reload or a new tab gets a fresh one from the HttpOnly session cookie via /api/auth/refresh;
// - a 401 triggers one refresh and one retry, then the sign-in form;
// - the WebSocket opens with a single-use ticket minted just before, reconnects with a new ticket
//   and exponential backoff after an unexpected close, and `session.revoked` signs the page out;
// - nothing is missed while the socket is down: the page takes the latest event number before it
//   first connects and, on every open, fetches the durable events numbered after the last it saw.
// Every server string reaches the page through textContent, never as HTML.
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);
  const state = {
    token: null,
    user: null,
    session: 0, // counts sign-ins and sign-outs: a call that outlives its session changes nothing
    conversation: null,
    socket: null,
    reconnectTimer: null,
    backoffMs: 0,
    pingTimer: null,
    lastSeq: null, // the highest event `seq` applied; null until the first connect takes the latest
    shown: new Set(), // message ids already on the page (a reply arrives by HTTP and by socket)
    registering: false,
    asking: false, // a chat message is in flight: its HTTP response renders the reply
  };
  const BACKOFF_FIRST_MS = 500;
  const BACKOFF_MAX_MS = 30000;
  // API Gateway closes idle sockets after 10 minutes.
  const KEEPALIVE_MS = 5 * 60 * 1000;

  // ---------- HTTP ----------

  class ApiError extends Error {
    constructor(status, problem) {
      super((problem && (problem.detail || problem.title)) || `Request failed (${status})`);
      this.status = status;
      this.problem = problem || {};
    }
  }

  async function send(method, path, body, headers = {}) {
    const init = { method, headers: { ...headers }, credentials: "same-origin" };
    if (state.token) init.headers.Authorization = `Bearer ${state.token}`;
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    let response;
    try {
      response = await fetch(path, init);
    } catch {
      throw new ApiError(0, { detail: "The server cannot be reached. Check your connection and try again." });
    }
    const text = await response.text();
    let data = null;
    try { data = text ? JSON.parse(text) : null; } catch { /* not JSON: leave null */ }
    if (!response.ok) {
      const problem = data || {};
      const retry = response.headers.get("Retry-After");
      if (retry && !problem.detail) problem.detail = `Please try again in ${retry} seconds.`;
      throw new ApiError(response.status, problem);
    }
    return data;
  }

  // A protected call: on 401, refresh once through the session cookie and retry; if that fails
  // too, back to the sign-in form.
  async function api(method, path, body, headers) {
    const session = state.session;
    try {
      return await send(method, path, body, headers);
    } catch (e) {
      if (e.status !== 401) throw e;
      // Signed out (or in again) while the call was out: that session is over already.
      if (!state.user || state.session !== session) throw e;
      if (!(await refresh())) {
        signedOut("Your session has ended. Please sign in again.");
        throw e;
      }
      return send(method, path, body, headers);
    }
  }

  async function refresh() {
    state.token = null;
    try {
      const data = await send("POST", "/api/auth/refresh");
      state.token = data.access_token;
      return true;
    } catch {
      return false;
    }
  }

  // Field errors (`errors: [{field, message}]`) read better than the summary.
  function describe(e) {
    const fields = e.problem && e.problem.errors;
    if (Array.isArray(fields) && fields.length) return fields.map((f) => f.message).join(" ");
    return e.message;
  }

  // ---------- views ----------

  function show(view) {
    for (const id of ["auth", "reset", "verify", "app"]) $(id).hidden = id !== view;
    $("account").hidden = view !== "app";
  }

  function notice(text) {
    $("notice").textContent = text || "";
    $("notice").hidden = !text;
  }

  function busy(button, on) {
    button.disabled = on;
    button.setAttribute("aria-busy", on ? "true" : "false");
  }

  function setRegistering(on) {
    state.registering = on;
    $("auth-title").textContent = on ? "Create an account" : "Sign in";
    $("auth-submit").textContent = on ? "Create account" : "Sign in";
    $("auth-switch").textContent = on ? "Have an account? Sign in" : "New here? Create an account";
    $("name-row").hidden = !on;
    $("forgot").hidden = on;
    $("password").autocomplete = on ? "new-password" : "current-password";
    $("auth-error").textContent = "";
  }

  // ---------- session ----------

  async function signedIn(user) {
    state.session += 1;
    state.user = user;
    $("who").textContent = user.display_name || user.email;
    show("app");
    notice("");
    showVerification(user);
    newConversation();
    connect();
    loadTickets();
    $("question").focus();
  }

  // Local sign-out: forget the token and the conversation, close the socket for good.
  function signedOut(message) {
    state.session += 1;
    state.token = null;
    state.user = null;
    state.lastSeq = null;
    disconnect();
    $("messages").replaceChildren();
    $("ticket-list").replaceChildren();
    state.shown.clear();
    setRegistering(false);
    show("auth");
    notice(message || "");
    $("email").focus();
  }

  $("auth-switch").addEventListener("click", () => setRegistering(!state.registering));

  $("auth-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const email = $("email").value.trim();
    const password = $("password").value;
    if (!email || password.length < 10) {
      $("auth-error").textContent = "Enter your email and a password of at least 10 characters.";
      return;
    }
    const body = { email, password };
    const name = $("display-name").value.trim();
    if (state.registering && name) body.display_name = name;
    busy($("auth-submit"), true);
    $("auth-error").textContent = "";
    try {
      const data = await send("POST", state.registering ? "/api/auth/register" : "/api/auth/login", body);
      state.token = data.access_token;
      $("password").value = "";
      await signedIn(data.user);
    } catch (e) {
      $("auth-error").textContent = describe(e);
    } finally {
      busy($("auth-submit"), false);
    }
  });

  $("forgot").addEventListener("click", async () => {
    const email = $("email").value.trim();
    if (!email) {
      $("auth-error").textContent = "Enter your email first, then choose “Forgot your password?”.";
      $("email").focus();
      return;
    }
    try {
      const data = await send("POST", "/api/auth/password/forgot", { email });
      $("auth-error").textContent = "";
      notice(data.detail || "If an account exists for that address, we have emailed a reset link.");
    } catch (e) {
      $("auth-error").textContent = describe(e);
    }
  });

  $("reset-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const token = new URLSearchParams(location.search).get("token") || "";
    try {
      await send("POST", "/api/auth/password/reset", { token, new_password: $("new-password").value });
      history.replaceState(null, "", "/");
      signedOut("Your password was changed and every session signed out. Sign in with the new password.");
    } catch (e) {
      $("reset-error").textContent = describe(e);
    }
  });

  // ---------- email verification ----------

  // Until the address is confirmed, escalation is refused and nothing but the link is mailed.
  function showVerification(user) {
    $("verify-address").textContent = user.email;
    $("verify-banner").hidden = Boolean(user.email_verified);
  }

  // The link may have been opened in another tab or on another device: ask again when the page
  // comes back into view.
  async function recheckVerification() {
    if (!state.user || state.user.email_verified || !state.token) return;
    try {
      const me = await api("GET", "/api/auth/me");
      state.user = me.user;
      showVerification(me.user);
    } catch {
      // Shown as it was; the next check or action tells more.
    }
  }
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible") recheckVerification();
  });
  window.addEventListener("focus", recheckVerification);

  $("verify-resend").addEventListener("click", async () => {
    busy($("verify-resend"), true);
    try {
      await api("POST", "/api/auth/email/verification");
      notice(`We sent a new link to ${state.user.email}. It works for 24 hours; earlier links no longer do.`);
    } catch (e) {
      if (e.problem.code === "already_verified") await recheckVerification();
      else if (state.user) notice(describe(e));
    } finally {
      busy($("verify-resend"), false);
    }
  });

  // The page the verification mail links to: confirm, then carry on into the app.
  async function confirmAddress() {
    show("verify");
    const token = new URLSearchParams(location.search).get("token") || "";
    // The token is spent either way: keep it out of the address bar and the history.
    history.replaceState(null, "", "/verify-email");
    try {
      await send("POST", "/api/auth/email/verify", { token });
      $("verify-title").textContent = "Your email address is confirmed";
      $("verify-status").textContent = "Thank you. We can now email you about your support requests.";
    } catch (e) {
      $("verify-title").textContent = "This link does not work";
      $("verify-status").textContent =
        `${describe(e)} Sign in and choose “Send the link again” to get a new one.`;
    }
    $("verify-continue").hidden = false;
    $("verify-title").focus();
  }

  $("verify-continue").addEventListener("click", () => {
    history.replaceState(null, "", "/");
    start();
  });

  $("sign-out").addEventListener("click", async () => {
    disconnect();
    try {
      await send("POST", "/api/auth/logout");
    } catch {
      // Signed out locally either way; the session expires on its own if the call failed.
    }
    signedOut("You are signed out.");
  });

  // ---------- WebSocket ----------

  function live(text) {
    $("live").textContent = `Live updates: ${text}`;
  }

  async function connect() {
    clearTimeout(state.reconnectTimer);
    const session = state.session;
    if (!state.token && !(await refresh())) {
      if (state.session === session) signedOut("Your session has ended. Please sign in again.");
      return;
    }
    let minted;
    try {
      // Anything numbered after this reaches the page, pushed or fetched on open.
      if (state.lastSeq === null) state.lastSeq = (await api("GET", "/api/events")).last_seq;
      minted = await api("POST", "/api/websocket/ticket");
    } catch (e) {
      if (!state.user || state.session !== session) return; // signed out meanwhile
      return scheduleReconnect(e.status === 429 ? 60000 : undefined);
    }
    if (state.session !== session) return; // signed out while the ticket was minted: no socket for it
    const url = new URL(minted.url, location.href);
    url.searchParams.set("ticket", minted.ticket);
    const socket = new WebSocket(url);
    state.socket = socket;
    socket.addEventListener("open", () => {
      state.backoffMs = 0;
      live("connected");
      clearInterval(state.pingTimer);
      state.pingTimer = setInterval(() => socket.send(JSON.stringify({ action: "ping" })), KEEPALIVE_MS);
      catchUp();
    });
    socket.addEventListener("message", (event) => {
      let frame;
      try { frame = JSON.parse(event.data); } catch { return; }
      onEvent(frame);
    });
    socket.addEventListener("close", () => {
      clearInterval(state.pingTimer);
      if (state.socket !== socket) return; // replaced or closed on purpose
      state.socket = null;
      if (state.user) scheduleReconnect();
    });
  }

  // What was pushed while no socket was open, in order; handlers ignore what they already have.
  async function catchUp() {
    try {
      for (;;) {
        const missed = await api("GET", `/api/events?after=${state.lastSeq}`);
        missed.events.forEach(onEvent);
        state.lastSeq = Math.max(state.lastSeq, missed.last_seq);
        if (!missed.has_more) break;
      }
    } catch {
      // Signed out meanwhile, or the API is down: the next open tries again.
    }
  }

  function scheduleReconnect(atLeastMs) {
    state.backoffMs = Math.min(BACKOFF_MAX_MS, state.backoffMs ? state.backoffMs * 2 : BACKOFF_FIRST_MS);
    const wait = Math.max(atLeastMs || 0, state.backoffMs * (0.5 + Math.random() / 2));
    live(`reconnecting in ${Math.ceil(wait / 1000)} s…`);
    state.reconnectTimer = setTimeout(connect, wait);
  }

  function disconnect() {
    clearTimeout(state.reconnectTimer);
    clearInterval(state.pingTimer);
    const socket = state.socket;
    state.socket = null;
    state.backoffMs = 0;
    if (socket) socket.close(1000);
    live("off");
  }

  function onEvent(frame) {
    if (Number.isInteger(frame.seq) && state.lastSeq !== null) state.lastSeq = Math.max(state.lastSeq, frame.seq);
    switch (frame.type) {
      case "session.revoked":
        disconnect();
        signedOut("You were signed out (from another tab or device, or your password changed).");
        break;
      case "assistant.started":
        if (frame.conversation_id === state.conversation) $("progress").hidden = false;
        break;
      case "assistant.completed":
        // While our own request is in flight its response renders the question and then the
        // reply, in that order; the event only ends the progress line.
        if (frame.conversation_id === state.conversation) {
          $("progress").hidden = true;
          if (!state.asking) addMessage(frame.reply);
        }
        break;
      case "ticket.created":
        upsertTicket(frame.ticket);
        break;
      case "agent.message":
        if (frame.conversation_id === state.conversation) addMessage(frame.message);
        break;
      case "ticket.updated":
        upsertTicket(frame.ticket);
        showHandled();
        break;
      case "ticket.mail":
        updateTicketMail(frame.ticket_id, frame.mail);
        break;
      default:
        break; // pong and anything newer than this client
    }
  }

  // ---------- chat ----------

  function newConversation() {
    state.conversation = null;
    state.shown.clear();
    $("messages").replaceChildren();
    $("new-conversation").hidden = true;
    $("talk-to-human").hidden = true;
    $("talk-to-human").classList.remove("primary");
    $("escalate").hidden = true;
    $("ticket-result").hidden = true;
    showHandled();
  }

  function addMessage(message, note) {
    if (!message || state.shown.has(message.id)) return;
    state.shown.add(message.id);
    const item = document.createElement("li");
    item.className = `message ${message.role}`;
    const who = document.createElement("span");
    who.className = "who";
    who.textContent = message.role === "user" ? "You"
      : message.role === "agent" ? `${message.author || "Support"} (support team)` : "Assistant";
    const text = document.createElement("div");
    text.className = "text";
    text.textContent = message.content;
    item.append(who, text);
    if (message.sources && message.sources.length) {
      const sources = document.createElement("p");
      sources.className = "sources";
      sources.textContent = `Sources: ${message.sources.map((s) => s.title).join("; ")}`;
      item.append(sources);
    }
    if (note) {
      const forwarded = document.createElement("p");
      forwarded.className = "forwarded";
      forwarded.textContent = note;
      item.append(forwarded);
    }
    if (message.role === "assistant" && message.suggest_escalation) {
      const offer = document.createElement("p");
      offer.className = "offer";
      offer.textContent = "The help articles may not cover this. You can ask a person instead: press “Talk to a human”.";
      item.append(offer);
      $("talk-to-human").hidden = false;
      $("talk-to-human").classList.add("primary");
    }
    $("messages").append(item);
    item.scrollIntoView({ block: "nearest" });
  }

  $("ask-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const content = $("question").value.trim();
    if (!content) {
      $("ask-error").textContent = "Type a question first.";
      return;
    }
    const body = { content };
    if (state.conversation) body.conversation_id = state.conversation;
    busy($("ask-submit"), true);
    $("ask-error").textContent = "";
    state.asking = true;
    try {
      const data = await api("POST", "/api/chat/messages", body);
      state.conversation = data.conversation_id;
      addMessage(data.message, data.forwarded_to ? "Sent to the support team." : "");
      if (data.reply) addMessage(data.reply);
      if (data.ticket) upsertTicket(data.ticket);
      showHandled();
      $("question").value = "";
      $("new-conversation").hidden = false;
      $("talk-to-human").hidden = false;
    } catch (e) {
      if (state.user) $("ask-error").textContent = describe(e);
    } finally {
      state.asking = false;
      $("progress").hidden = true;
      busy($("ask-submit"), false);
    }
  });

  // Enter sends, Shift+Enter starts a new line.
  $("question").addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey) {
      event.preventDefault();
      $("ask-form").requestSubmit();
    }
  });

  $("new-conversation").addEventListener("click", () => {
    newConversation();
    $("question").focus();
  });

  // ---------- escalation ----------

  let idempotencyKey = null;

  $("talk-to-human").addEventListener("click", () => {
    $("escalate").hidden = false;
    $("ticket-result").hidden = true;
    // One key per filled-in form: a retried submit cannot open a second ticket.
    idempotencyKey = crypto.randomUUID();
    const first = $("messages").querySelector(".message.user .text");
    if (!$("subject").value && first) $("subject").value = first.textContent.slice(0, 200);
    $("escalate-title").focus();
  });

  $("escalate-cancel").addEventListener("click", () => {
    $("escalate").hidden = true;
    $("talk-to-human").focus();
  });

  $("escalate-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const subject = $("subject").value.trim();
    if (!subject) {
      $("escalate-error").textContent = "Give the ticket a subject.";
      $("subject").focus();
      return;
    }
    const body = { conversation_id: state.conversation, subject, priority: $("priority").value };
    const description = $("description").value.trim();
    if (description) body.description = description;
    busy($("escalate-submit"), true);
    $("escalate-error").textContent = "";
    try {
      const data = await api("POST", "/api/escalations", body, { "Idempotency-Key": idempotencyKey });
      const ticket = data.ticket;
      upsertTicket(ticket);
      $("ticket-number").textContent = ticket.number;
      $("ticket-mail").textContent = mailSentence(ticket.mail);
      $("ticket-mail").dataset.ticket = ticket.id;
      $("escalate").hidden = true;
      $("escalate-form").reset();
      $("ticket-result").hidden = false;
      $("ticket-result-title").focus();
    } catch (e) {
      if (e.problem.code === "email_unverified") {
        state.user.email_verified = false;
        showVerification(state.user);
      }
      if (state.user) $("escalate-error").textContent = describe(e);
    } finally {
      busy($("escalate-submit"), false);
    }
  });

  function mailSentence(mail) {
    const user = (mail && mail.user) || "queued";
    if (user === "sent") return "We emailed you a confirmation with this number.";
    if (user === "failed") return "We could not email you a confirmation; the ticket is open all the same.";
    return "Your confirmation email is on its way (queued; we retry until it is sent).";
  }

  // ---------- tickets ----------

  async function loadTickets() {
    try {
      const data = await api("GET", "/api/escalations?limit=20");
      for (const ticket of data.tickets.slice().reverse()) upsertTicket(ticket);
      showHandled();
    } catch {
      // The list is a convenience; chat works without it.
    }
  }

  const STATUS = {
    open: "Open",
    waiting_on_support: "Waiting for support",
    waiting_on_user: "Waiting for your reply",
    resolved: "Resolved",
    closed: "Closed",
  };
  const ACTIVE = ["open", "waiting_on_support", "waiting_on_user"];

  function upsertTicket(ticket) {
    let item = $("ticket-list").querySelector(`[data-ticket="${CSS.escape(ticket.id)}"]`);
    if (!item) {
      item = document.createElement("li");
      item.dataset.ticket = ticket.id;
      $("ticket-list").prepend(item);
    }
    item.replaceChildren();
    const number = document.createElement("strong");
    number.textContent = ticket.number;
    const subject = document.createElement("span");
    subject.textContent = ` ${ticket.subject} `;
    const status = document.createElement("span");
    status.className = "status";
    status.textContent = `— ${STATUS[ticket.status] || ticket.status}, ${ticket.priority} priority`;
    const mail = document.createElement("span");
    mail.className = "mail hint";
    mail.textContent = ` · email ${(ticket.mail && ticket.mail.user) || "queued"}`;
    item.append(number, subject, status, mail);
    const actions = document.createElement("div");
    actions.className = "actions";
    if (ACTIVE.includes(ticket.status)) {
      actions.append(ticketButton(ticket, "Mark resolved", "resolve"));
    } else if (ticket.rating) {
      const rated = document.createElement("span");
      rated.className = "hint";
      rated.textContent = `You rated the help: ${ticket.rating.score}.`;
      actions.append(rated);
    } else {
      const ask = document.createElement("span");
      ask.textContent = "Did we help?";
      actions.append(ask,
        ticketButton(ticket, "Yes", "rating", { score: "good" }, `Yes, ticket ${ticket.number} helped`),
        ticketButton(ticket, "No", "rating", { score: "bad" }, `No, ticket ${ticket.number} did not help`));
    }
    const error = document.createElement("p");
    error.className = "error";
    error.setAttribute("role", "alert");
    item.append(actions, error);
    item.ticket = ticket;
    $("no-tickets").hidden = true;
  }

  // A button that posts `action` for the ticket and shows the ticket as it comes back.
  function ticketButton(ticket, label, action, body = {}, spoken = `${label}: ticket ${ticket.number}`) {
    const button = document.createElement("button");
    button.type = "button";
    button.className = "secondary";
    button.textContent = label;
    button.setAttribute("aria-label", spoken);
    button.addEventListener("click", async () => {
      const item = button.closest("li");
      busy(button, true);
      try {
        const data = await api("POST", `/api/escalations/${encodeURIComponent(ticket.id)}/${action}`, body);
        upsertTicket(data.ticket);
        showHandled();
      } catch (e) {
        if (state.user) item.querySelector(".error").textContent = describe(e);
        busy(button, false);
      }
    });
    return button;
  }

  // The banner for a conversation a person handles: its ticket is open, waiting, or resolved
  // within the week in which writing reopens it (the server decides; this mirrors it).
  function showHandled() {
    const tickets = [...$("ticket-list").children].map((li) => li.ticket).filter(Boolean);
    const handling = tickets.find((t) => t.conversation_id === state.conversation && ACTIVE.includes(t.status));
    $("handled").hidden = !handling;
    if (handling) $("handled-number").textContent = handling.number;
  }

  function updateTicketMail(ticketId, mail) {
    const item = $("ticket-list").querySelector(`[data-ticket="${CSS.escape(ticketId)}"]`);
    if (item && item.ticket) upsertTicket({ ...item.ticket, mail });
    if ($("ticket-mail").dataset.ticket === ticketId) $("ticket-mail").textContent = mailSentence(mail);
  }

  // ---------- start ----------

  async function start() {
    if (location.pathname === "/reset-password") {
      show("reset");
      $("new-password").focus();
      return;
    }
    if (location.pathname === "/verify-email" && location.search) return confirmAddress();
    // A session cookie from an earlier visit: a new access token, then who we are.
    if (await refresh()) {
      try {
        const me = await api("GET", "/api/auth/me");
        return signedIn(me.user);
      } catch {
        // fall through to the sign-in form
      }
    }
    signedOut();
  }

  start();
})();
