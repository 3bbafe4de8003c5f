// The web client in headless Chromium against a real local gateway on loopback (SQLite, a fresh
// data dir). Run by `scripts/browser-test`, which provides:
//   GATEWAY_BIN  the local-gateway binary
//   CHROMIUM     the browser (default /usr/bin/chromium)
//   SCREENSHOT   optional: where to save a screenshot of the client mid-journey
//
// One journey, two tabs of one signed-in user: sign up → confirm the address by the mailed link
// (asking for a second link first) → chat (sources, live assistant events on
// the socket) → a question the articles do not cover offers "Talk to a human" → escalate → the
// ticket number and mail status, and the ticket appearing live in the other tab → the gateway
// restarts with a new signing key (sockets drop, tokens stop verifying): the client reconnects
// with a fresh ticket after one refresh through the cookie and keeps working → sign out in one
// tab returns the other to sign-in through `session.revoked`.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, renameSync, rmSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";

const GATEWAY_BIN = process.env.GATEWAY_BIN;
const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";
const TIMEOUT = 10_000;

let dataDir;
let port;
let base;
let gateway;
let browser;

async function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

async function startGateway() {
  const child = spawn(GATEWAY_BIN, ["--listen", `127.0.0.1:${port}`, "--data-dir", dataDir], {
    stdio: ["ignore", "ignore", "pipe"],
  });
  let log = "";
  child.stderr.on("data", (chunk) => { log += chunk; });
  child.log = () => log;
  for (let i = 0; i < 200; i++) {
    if (child.exitCode !== null) throw new Error(`gateway exited: ${log}`);
    try {
      const response = await fetch(`${base}/health`);
      if (response.ok) return child;
    } catch { /* not listening yet */ }
    await new Promise((r) => setTimeout(r, 50));
  }
  child.kill();
  throw new Error(`gateway did not start: ${log}`);
}

async function stopGateway() {
  if (!gateway || gateway.exitCode !== null) return;
  const exited = new Promise((r) => gateway.once("exit", r));
  gateway.kill("SIGTERM");
  await exited;
}

before(async () => {
  assert.ok(GATEWAY_BIN, "GATEWAY_BIN must name the local-gateway binary (scripts/browser-test sets it)");
  dataDir = mkdtempSync(join(tmpdir(), "browser-test-"));
  port = await freePort();
  base = `http://127.0.0.1:${port}`;
  gateway = await startGateway();
  browser = await chromium.launch({ executablePath: CHROMIUM });
});

after(async () => {
  await browser?.close();
  await stopGateway();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

// Records what a page's sockets receive and which tickets they opened with.
function watchSockets(page) {
  const seen = { frames: [], urls: [] };
  page.on("websocket", (ws) => {
    seen.urls.push(ws.url());
    ws.on("framereceived", (frame) => {
      try { seen.frames.push(JSON.parse(frame.payload)); } catch { /* not JSON */ }
    });
  });
  return seen;
}

// Routes a page's sockets through a relay that, while `losing`, drops what the server pushes,
// as a dying connection does; `current.close()` then drops the page's socket.
async function lossyRelay(page) {
  const relay = { losing: false, current: null };
  await page.routeWebSocket(() => true, (ws) => {
    relay.current = ws;
    const server = ws.connectToServer();
    server.onMessage((frame) => { if (!relay.losing) ws.send(frame); });
    ws.onMessage((frame) => server.send(frame));
  });
  return relay;
}

// The link to `page` in a mail (quoted-printable soft breaks and `=3D` undone first).
function mailLink(mail, page) {
  const body = mail.replace(/=\r?\n/g, "").replace(/=3D/g, "=");
  const link = body.match(new RegExp(`http://127\\.0\\.0\\.1:\\d+/${page}\\?token=[A-Za-z0-9_.-]+`));
  assert.ok(link, body);
  return link[0];
}

async function eventually(what, check) {
  const deadline = Date.now() + TIMEOUT;
  for (;;) {
    const result = await check();
    if (result) return result;
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

test("sign up, chat, live events, escalate, survive a restart, sign out", async () => {
  // A phone-sized screen: the whole journey must work there.
  const context = await browser.newContext({ viewport: { width: 390, height: 844 } });
  context.setDefaultTimeout(TIMEOUT);
  const page = await context.newPage();
  const pageErrors = [];
  page.on("pageerror", (e) => pageErrors.push(e.message));
  const sockets = watchSockets(page);
  // This tab's socket goes through a relay too (see the other tab's).
  const pageRelay = await lossyRelay(page);
  const responses = [];
  page.on("response", (r) => responses.push(`${r.request().method()} ${new URL(r.url()).pathname} ${r.status()}`));

  // Sign up.
  await page.goto(`${base}/`);
  await page.getByRole("heading", { name: "Sign in" }).waitFor();
  await page.getByRole("button", { name: "New here? Create an account" }).click();
  await page.getByLabel("Email", { exact: true }).fill("browser@example.com");
  await page.getByLabel("Name").fill("Ada");
  await page.getByLabel(/^Password/).fill("correct horse battery");
  await page.getByLabel(/^Password/).press("Enter");
  await page.getByRole("heading", { name: "Ask the assistant" }).waitFor();
  await page.getByText("Live updates: connected").waitFor();
  assert.equal(await page.locator("#who").textContent(), "Ada");

  // The token lives in memory only; the session cookie is HttpOnly.
  const storage = await page.evaluate(() => [localStorage.length, sessionStorage.length, document.cookie]);
  assert.deepEqual(storage, [0, 0, ""]);
  const cookies = await context.cookies();
  assert.deepEqual(cookies.map((c) => [c.name, c.httpOnly]), [["__Host-session", true]]);
  assert.ok(sockets.urls.length === 1 && /[?&]ticket=[A-Za-z0-9_-]{43}$/.test(sockets.urls[0]), sockets.urls.join());

  // The address is not confirmed yet: the client says so and offers a new link.
  const banner = page.locator("#verify-banner");
  await banner.getByText("Please confirm your email address").waitFor();
  assert.match(await banner.textContent(), /browser@example\.com/);
  const outbox = join(dataDir, "outbox");
  const verifyMails = () => readdirSync(outbox).filter((f) => f.startsWith("verify-"));
  assert.equal(verifyMails().length, 1, "registration mailed one link");
  const first = new Set(verifyMails());
  await page.getByRole("button", { name: "Send the link again" }).click();
  await page.getByText(/We sent a new link to browser@example\.com/).waitFor();
  const fresh = await eventually("the second verification mail", () => {
    const added = verifyMails().filter((f) => !first.has(f));
    return added.length === 1 && readFileSync(join(outbox, added[0]), "utf8");
  });
  const verifyLink = mailLink(fresh, "verify-email");
  // The mailed link confirms the address and carries on into the signed-in app.
  await page.goto(verifyLink);
  await page.getByRole("heading", { name: "Your email address is confirmed" }).waitFor();
  assert.equal(new URL(page.url()).search, "", "the token is gone from the address bar");
  await page.getByRole("button", { name: "Continue" }).click();
  await page.getByRole("heading", { name: "Ask the assistant" }).waitFor();
  await page.getByText("Live updates: connected").waitFor();
  assert.ok(await banner.isHidden(), "no more notice once confirmed");
  // The same link again: refused, with a way forward.
  const again = await context.newPage();
  await again.goto(verifyLink);
  await again.getByRole("heading", { name: "This link does not work" }).waitFor();
  assert.match(await again.locator("#verify-status").textContent(), /Send the link again/);
  await again.close();

  // Chat: an answer with its sources; the socket carried the assistant's progress.
  await page.getByLabel("Your question").fill("How do I reset my password?");
  await page.getByLabel("Your question").press("Enter");
  const answer = page.locator(".message.assistant").first();
  await answer.waitFor();
  assert.match(await answer.locator(".sources").textContent(), /Resetting a forgotten password/);
  await eventually("assistant events on the socket", () => {
    const types = sockets.frames.map((f) => f.type);
    return types.includes("assistant.started") && types.includes("assistant.completed");
  });
  assert.equal(await page.locator(".message.assistant").count(), 1, "the reply shown once (HTTP and socket)");

  // A second tab of the same user (the cookie signs it in), whose socket goes through a relay
  // that can lose what the server pushes, as a dying connection does.
  const other = await context.newPage();
  const otherSockets = watchSockets(other);
  const otherRequests = [];
  other.on("request", (r) => otherRequests.push(`${r.method()} ${new URL(r.url()).pathname}${new URL(r.url()).search}`));
  const relay = await lossyRelay(other);
  await other.goto(`${base}/`);
  await other.getByText("Live updates: connected").waitFor();
  await other.getByText("No tickets yet.").waitFor();

  // Something the articles cannot answer: the client offers a person.
  await page.getByLabel("Your question").fill("I want to talk to a human being please");
  await page.getByRole("button", { name: "Send" }).click();
  await page.locator(".message.assistant").nth(1).waitFor();
  await page.getByText("You can ask a person instead").waitFor();
  assert.deepEqual(await page.locator(".message .who").allTextContents(), ["You", "Assistant", "You", "Assistant"]);
  const talk = page.getByRole("button", { name: "Talk to a human" });
  assert.ok(await talk.isVisible());
  assert.match(await talk.getAttribute("class"), /primary/);

  // Escalate: the form, then the ticket number and mail status.
  relay.losing = true;
  await talk.click();
  await page.getByLabel("Subject").fill("Locked out after the reset");
  await page.getByLabel("What happened?").fill("The reset link said it expired.");
  await page.getByLabel("Priority").selectOption("high");
  await page.getByRole("button", { name: "Open a ticket" }).click();
  await page.getByRole("heading", { name: "Ticket opened" }).waitFor();
  const number = await page.locator("#ticket-number").textContent();
  assert.match(number, /^AB-\d{8}-\d{4}$/);
  assert.equal(await page.locator("#ticket-mail").textContent(), "We emailed you a confirmation with this number.");
  assert.match(await page.locator("#ticket-list").textContent(), new RegExp(`${number} Locked out after the reset`));
  if (process.env.SCREENSHOT) {
    await page.setViewportSize({ width: 760, height: 900 });
    await page.screenshot({ path: process.env.SCREENSHOT, fullPage: true });
    await page.setViewportSize({ width: 390, height: 844 });
  }
  // Both mails are really in the outbox, with the number.
  const mails = readdirSync(outbox).map((f) => readFileSync(join(outbox, f), "utf8"));
  assert.equal(mails.filter((m) => m.includes(number)).length, 2);
  // This tab heard of it live, with its event number.
  assert.ok(sockets.frames.some((f) => f.type === "ticket.created" && f.ticket.number === number && f.seq > 0));
  // The other tab's relay lost that push; its socket then drops. On reconnect the tab fetches
  // what it missed and lists the ticket.
  await eventually("the push reaching the relay", () => otherSockets.frames.some((f) => f.type === "ticket.created"));
  assert.equal(await other.locator("#ticket-list").getByText(number).count(), 0, "the push was lost");
  relay.losing = false;
  await relay.current.close();
  await other.locator("#ticket-list").getByText(number).waitFor();
  assert.ok(otherRequests.some((r) => /^GET \/api\/events\?after=\d+$/.test(r)), otherRequests.join("\n"));

  // A person handles the conversation now: the next message goes to them, not the assistant.
  await page.getByLabel("Your question").fill("Is anyone there?");
  await page.getByRole("button", { name: "Send" }).click();
  await page.getByText("Sent to the support team.").waitFor();
  await page.getByText(/A person from the support team is handling this conversation/).waitFor();
  assert.equal(await page.locator(".message.assistant").count(), 2, "the assistant stayed quiet");
  await page.locator("#ticket-list").getByText(/Waiting for support/).waitFor();
  // Support answers by mail (SES receiving, locally: a message dropped into the inbox) while
  // this tab's socket loses what is pushed; once the socket drops, the tab fetches what it
  // missed and shows the answer.
  const supportMail = readdirSync(outbox)
    .map((f) => readFileSync(join(outbox, f), "utf8"))
    .find((m) => m.includes(number) && /^To: support@localhost/m.test(m));
  const replyTo = supportMail.match(/^Reply-To: (\S+)/m)[1];
  pageRelay.losing = true;
  const reply = [
    "Authentication-Results: mx.inbound.localhost; spf=pass smtp.mailfrom=localhost; dkim=pass; dmarc=pass",
    "From: Grace Hopper <support@localhost>",
    `To: ${replyTo}`,
    `Subject: Re: [${number}] Locked out after the reset`,
    "MIME-Version: 1.0",
    "Content-Type: text/plain; charset=utf-8",
    "",
    "I sent you a fresh link; it works for an hour.",
    "",
    "On Fri, Jan 9, 2026 at 10:00 AM Support <support@localhost> wrote:",
    "> New support ticket",
  ].join("\r\n");
  mkdirSync(join(dataDir, "inbox"), { recursive: true });
  writeFileSync(join(dataDir, "reply.eml.part"), reply);
  renameSync(join(dataDir, "reply.eml.part"), join(dataDir, "inbox", "reply.eml"));
  await eventually("the answer reaching the relay", () => sockets.frames.some((f) => f.type === "agent.message"));
  assert.equal(await page.locator(".message.agent").count(), 0, "the push was lost");
  pageRelay.losing = false;
  await pageRelay.current.close();
  await page.locator(".message.agent").getByText("I sent you a fresh link; it works for an hour.").waitFor();
  assert.equal(await page.locator(".message.agent .who").textContent(), "Grace Hopper (support team)");
  await page.locator("#ticket-list").getByText(/Waiting for your reply/).waitFor();

  // The user marks it resolved, which frees the assistant, and says it helped.
  await page.getByRole("button", { name: `Mark resolved: ticket ${number}` }).click();
  await page.getByText("Did we help?").waitFor();
  assert.ok(await page.locator("#handled").isHidden(), "the banner goes with the resolution");
  await page.getByRole("button", { name: `Yes, ticket ${number} helped` }).click();
  await page.getByText("You rated the help: good.").waitFor();
  await other.getByText("You rated the help: good.").waitFor();

  // The gateway restarts with a new signing key: sockets drop and the old access tokens stop
  // verifying. The client reconnects with a new ticket after refreshing once via the cookie.
  const socketsBefore = sockets.urls.length;
  await stopGateway();
  rmSync(join(dataDir, "signing-key.pem"));
  await page.getByText(/Live updates: reconnecting/).waitFor();
  const before = responses.length;
  gateway = await startGateway();
  await page.getByText("Live updates: connected").waitFor({ timeout: 40_000 });
  assert.equal(sockets.urls.length, socketsBefore + 1, "a new socket");
  assert.notEqual(sockets.urls.at(-1), sockets.urls.at(-2), "with a new ticket");
  const since = responses.slice(before);
  assert.ok(since.includes("POST /api/websocket/ticket 401"), since.join("\n"));
  assert.ok(since.includes("POST /api/auth/refresh 200"), since.join("\n"));
  assert.ok(since.includes("POST /api/websocket/ticket 201"), since.join("\n"));
  // And the conversation goes on: writing within the week reopens the ticket.
  await page.getByLabel("Your question").fill("It happened again after the reset.");
  await page.getByLabel("Your question").press("Enter");
  await page.getByText("Sent to the support team.").nth(1).waitFor();
  await page.locator("#ticket-list").getByText(/Waiting for support/).waitFor();
  await other.getByText("Live updates: connected").waitFor({ timeout: 40_000 });

  // Sign out in the other tab: it ends the session both tabs share, so the first tab is told
  // over its socket and returns to sign-in without a click.
  await other.getByRole("button", { name: "Sign out" }).click();
  await other.getByText("You are signed out.").waitFor();
  await page.getByRole("heading", { name: "Sign in" }).waitFor();
  await page.getByText(/You were signed out/).waitFor();
  assert.ok(sockets.frames.some((f) => f.type === "session.revoked"));
  assert.equal(await page.locator(".message").count(), 0, "the conversation is cleared from the page");
  // Nothing left to refresh with: a reload stays signed out.
  await page.reload();
  await page.getByRole("heading", { name: "Sign in" }).waitFor();

  // Laid out for the phone: nothing wider than the screen.
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `page is ${overflow}px wider than the screen`);
  assert.deepEqual(pageErrors, []);
  await context.close();
});

test("a wrong password is refused in place and the right one signs in", async () => {
  const page = await browser.newPage();
  await page.goto(`${base}/`);
  await page.getByRole("button", { name: "New here? Create an account" }).click();
  await page.getByLabel("Email", { exact: true }).fill("second@example.com");
  await page.getByLabel(/^Password/).fill("correct horse battery");
  await page.getByRole("button", { name: "Create account" }).click();
  await page.getByRole("button", { name: "Sign out" }).click();
  await page.getByText("You are signed out.").waitFor();

  await page.getByLabel("Email", { exact: true }).fill("second@example.com");
  await page.getByLabel(/^Password/).fill("not the password");
  await page.getByRole("button", { name: "Sign in" }).click();
  const error = page.getByRole("alert").filter({ hasText: /./ }).first();
  await error.waitFor();
  assert.match(await error.textContent(), /password/i);
  assert.ok(await page.getByRole("heading", { name: "Sign in" }).isVisible());

  await page.getByLabel(/^Password/).fill("correct horse battery");
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("heading", { name: "Ask the assistant" }).waitFor();
  await page.close();
});

test("the mailed reset link opens the reset page, which sets a new password", async () => {
  const page = await browser.newPage();
  await page.goto(`${base}/`);
  await page.getByRole("button", { name: "New here? Create an account" }).click();
  await page.getByLabel("Email", { exact: true }).fill("forgetful@example.com");
  await page.getByLabel(/^Password/).fill("correct horse battery");
  await page.getByRole("button", { name: "Create account" }).click();
  // Signed in (and the socket opening) before signing out, or the two can cross.
  await page.getByRole("heading", { name: "Ask the assistant" }).waitFor();
  await page.getByRole("button", { name: "Sign out" }).click();
  await page.getByText("You are signed out.").waitFor();

  const outbox = join(dataDir, "outbox");
  const before = new Set(readdirSync(outbox));
  await page.getByLabel("Email", { exact: true }).fill("forgetful@example.com");
  await page.getByRole("button", { name: "Forgot your password?" }).click();
  await page.getByText(/reset link/i).waitFor();
  const mail = await eventually("the reset mail", () => {
    const added = readdirSync(outbox).filter((f) => !before.has(f));
    return added.length === 1 && readFileSync(join(outbox, added[0]), "utf8");
  });
  const link = [mailLink(mail, "reset-password")];

  await page.goto(link[0]);
  await page.getByRole("heading", { name: "Choose a new password" }).waitFor();
  await page.getByLabel(/^New password/).fill("a brand new passphrase");
  await page.getByRole("button", { name: "Set password" }).click();
  await page.getByText(/Your password was changed/).waitFor();
  assert.equal(new URL(page.url()).search, "", "the token is gone from the address bar");

  await page.getByLabel("Email", { exact: true }).fill("forgetful@example.com");
  await page.getByLabel(/^Password/).fill("a brand new passphrase");
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("heading", { name: "Ask the assistant" }).waitFor();

  // The same link a second time: refused in place.
  await page.goto(link[0]);
  await page.getByLabel(/^New password/).fill("yet another passphrase");
  await page.getByRole("button", { name: "Set password" }).click();
  await page.getByRole("alert").filter({ hasText: /./ }).first().waitFor();
  assert.match(await page.locator("#reset-error").textContent(), /invalid|expired|used/i);
  await page.close();
});
