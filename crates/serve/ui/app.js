// minichat's chat page: conversations kept in the browser, replies streamed from the server's
// OpenAI-compatible API (/v1/chat/completions), a stop button that cancels on the server,
// regenerate and edit making sibling messages that can be browsed, tool calls with their
// results, tokens and tokens/s per reply, and a banner when the server is unreachable or busy.
//
// A conversation is a tree (as Open WebUI and llama.cpp's page keep it): each message has a
// parent, its children are alternatives (siblings) of which one is shown (`active`), and the
// conversation shown is the path from the root through the active children.

import { events } from "./sse.js";
import { render as renderMarkdown } from "./markdown.js";
import { setupViews, tokenizer, tracer } from "./views.js";
import { setupAttention } from "./attention.js";
import { setupLens } from "./lens.js";
import { setupTraining } from "./training.js";

const $ = (id) => document.getElementById(id);
const STORE = "minichat.chats.v1";
const SETTINGS = "minichat.settings.v1";
const FIELDS = ["system", "temperature", "top_k", "top_p", "min_p", "max_tokens", "seed", "api_key"];

let chats = load(STORE, []);
let current = chats[0]?.id ?? null;
let modelId = null;
let running = null; // { controller, node } while a reply streams

// ---- storage -------------------------------------------------------------------------------

function load(key, fallback) {
  try {
    return JSON.parse(localStorage.getItem(key)) ?? fallback;
  } catch {
    return fallback;
  }
}

function save() {
  localStorage.setItem(STORE, JSON.stringify(chats));
}

function settings() {
  return Object.fromEntries(FIELDS.map((f) => [f, $(f).value]));
}

// Kept when a setting changes (not at every read: requests read them often).
function saveSettings() {
  localStorage.setItem(SETTINGS, JSON.stringify(settings()));
}

// ---- the conversation tree -----------------------------------------------------------------

const uid = () => Math.random().toString(36).slice(2, 10) + Date.now().toString(36);

function chat() {
  return chats.find((c) => c.id === current) ?? null;
}

function newChat() {
  const c = { id: uid(), title: "New chat", created: Date.now(), nodes: {}, children: [], active: 0 };
  chats.unshift(c);
  current = c.id;
  save();
  return c;
}

// The messages shown: from the root through each active child.
function path(c) {
  const out = [];
  let at = c;
  while (at.children.length) {
    at = c.nodes[at.children[Math.min(at.active, at.children.length - 1)]];
    out.push(at);
  }
  return out;
}

function parentOf(c, node) {
  return node.parent ? c.nodes[node.parent] : c;
}

// Adds a message under `parent` (a node, or the chat for the first) and shows it.
function add(c, parent, message) {
  const node = { id: uid(), parent: parent === c ? null : parent.id, children: [], active: 0, ...message };
  c.nodes[node.id] = node;
  parent.children.push(node.id);
  parent.active = parent.children.length - 1;
  return node;
}

// OpenAI messages for the path up to `last`: the system prompt, then each message (an
// assistant reply's tool calls as `tool_calls` and `tool` messages, as the API takes them).
function messagesUpTo(c, last, system) {
  const out = system.trim() ? [{ role: "system", content: system }] : [];
  for (const node of path(c)) {
    if (node.role === "user") out.push({ role: "user", content: node.content });
    else if (node.parts.length) out.push(...replyMessages(node, out.length));
    // A reply that failed before writing anything (the server was down) is not part of the
    // conversation, nor the message it did not answer: user and assistant must alternate.
    else if (out.at(-1)?.role === "user") out.pop();
    if (node === last) break;
  }
  return out;
}

// A reply as OpenAI messages: its text, and each tool call with its result.
function replyMessages(node, at = 0) {
  const out = [];
  let text = "";
  for (const part of node.parts) {
    if (part.type === "text") text += part.text;
    else {
      const call = { id: `call_${at + out.length}`, type: "function", function: { name: part.name, arguments: part.arguments } };
      out.push({ role: "assistant", content: text, tool_calls: [call] });
      out.push({ role: "tool", tool_call_id: call.id, content: part.result ?? "" });
      text = "";
    }
  }
  if (text || !out.length) out.push({ role: "assistant", content: text });
  return out;
}

// ---- talking to the server -----------------------------------------------------------------

function headers(s) {
  const h = { "Content-Type": "application/json" };
  if (s.api_key) h.Authorization = `Bearer ${s.api_key}`;
  return h;
}

// Streams a reply to the path up to `user` into a new assistant message under it.
async function generate(c, user) {
  const s = settings();
  const node = add(c, user, { role: "assistant", parts: [], stats: null, error: null, system: s.system });
  const body = {
    model: modelId ?? "minichat",
    messages: messagesUpTo(c, user, s.system),
    stream: true,
    stream_options: { include_usage: true },
    temperature: Number(s.temperature),
    max_tokens: Number(s.max_tokens),
  };
  if (Number(s.top_k) > 0) body.top_k = Number(s.top_k);
  if (Number(s.top_p) < 1) body.top_p = Number(s.top_p);
  if (Number(s.min_p) > 0) body.min_p = Number(s.min_p);
  // A fixed seed still gives each sibling its own reply: the seed plus the sibling's index.
  if (s.seed !== "") body.seed = Number(s.seed) + user.children.length - 1;
  const controller = new AbortController();
  running = { controller, node };
  showRunning(true);
  draw();
  const started = performance.now();
  let first = null;
  try {
    const r = await fetch("/v1/chat/completions", {
      method: "POST", headers: headers(s), body: JSON.stringify(body), signal: controller.signal,
    });
    if (!r.ok) throw await httpError(r);
    hideBanner();
    for await (const data of events(r.body)) {
      if (data === "[DONE]") break;
      const chunk = JSON.parse(data);
      if (chunk.error) throw new Error(chunk.error.message);
      if (chunk.usage) node.stats = { ...node.stats, tokens: chunk.usage.completion_tokens, cached: chunk.usage.prompt_tokens_details?.cached_tokens };
      const choice = chunk.choices?.[0];
      if (!choice) continue;
      first ??= performance.now();
      take(node, choice.delta ?? {});
      if (choice.finish_reason) node.stats = { ...node.stats, finish: choice.finish_reason };
      drawReply(node);
    }
  } catch (e) {
    if (e.name === "AbortError") node.stats = { ...node.stats, finish: "stopped" };
    else node.error = e.message;
    if (e instanceof TypeError) watchHealth();
  } finally {
    const seconds = (performance.now() - (first ?? started)) / 1000;
    node.stats = { ...node.stats, seconds };
    running = null;
    showRunning(false);
    save();
    draw();
  }
}

// Adds a stream delta to a reply: text, or a tool call the engine ran, or its result.
function take(node, delta) {
  if (delta.content) {
    const last = node.parts.at(-1);
    if (last?.type === "text") last.text += delta.content;
    else node.parts.push({ type: "text", text: delta.content });
  }
  if (delta.minichat_tool_call) node.parts.push({ type: "tool", ...delta.minichat_tool_call, result: null });
  if (delta.minichat_tool_result !== undefined) {
    const call = node.parts.findLast((p) => p.type === "tool");
    if (call) call.result = delta.minichat_tool_result;
  }
}

async function httpError(r) {
  let message = `${r.status} ${r.statusText}`;
  try {
    message = (await r.json()).error?.message ?? message;
  } catch {}
  if (r.status === 503) banner("The server is busy (every slot taken and the queue full); try again in a moment.", 10);
  if (r.status === 401) banner("The server wants an API key: set it under Settings.");
  return new Error(message);
}

// Says what is wrong with the server until it is fixed, clicked away, or (a busy server) for
// 10 seconds.
let bannerTimer = null;
function banner(text, seconds = 0) {
  $("banner").textContent = text;
  $("banner").title = "click to hide";
  $("banner").hidden = false;
  clearTimeout(bannerTimer);
  if (seconds) bannerTimer = setTimeout(hideBanner, seconds * 1000);
}

function hideBanner() {
  $("banner").hidden = true;
}

// Asks /health until the server answers; says so meanwhile.
let watching = false;
async function watchHealth() {
  if (watching) return;
  watching = true;
  for (;;) {
    try {
      const r = await fetch("/health", { cache: "no-store" });
      if (r.ok) break;
      banner(`The server answers /health with ${r.status}; retrying…`);
    } catch {
      banner("The server cannot be reached; retrying…");
    }
    await new Promise((done) => setTimeout(done, 2000));
  }
  watching = false;
  hideBanner();
  loadModel();
}

async function loadModel() {
  try {
    const r = await fetch("/v1/models", { headers: headers(settings()) });
    if (!r.ok) throw await httpError(r);
    const m = (await r.json()).data[0];
    modelId = m.id;
    $("model").textContent = `${m.id} · context ${m.context_length}`;
  } catch (e) {
    if (e instanceof TypeError) watchHealth();
  }
}

// ---- actions -------------------------------------------------------------------------------

async function send(text) {
  if (!text.trim() || running) return;
  const c = chat() ?? newChat();
  const p = path(c);
  if (c.title === "New chat") c.title = text.trim().slice(0, 40);
  const user = add(c, p.at(-1) ?? c, { role: "user", content: text });
  await generate(c, user);
}

function regenerate(c, reply) {
  if (!running) generate(c, c.nodes[reply.parent]);
}

// Edits a user message in place: saving makes a sibling with the new text and a new reply.
function edit(c, node, box) {
  const area = document.createElement("textarea");
  area.className = "edit";
  area.value = node.content;
  area.rows = Math.min(12, node.content.split("\n").length + 1);
  const ok = button("Save and send", async () => {
    if (running || !area.value.trim()) return;
    const sibling = add(c, parentOf(c, node), { role: "user", content: area.value });
    await generate(c, sibling);
  });
  box.replaceChildren(area, ok, button("Cancel", draw));
  area.focus();
}

function showSibling(c, node, step) {
  const parent = parentOf(c, node);
  parent.active = (parent.active + step + parent.children.length) % parent.children.length;
  save();
  draw();
}

// A vote on a reply, for RLHF (the server keeps it: `minichat feedback export`). Voting a
// reply up votes its siblings down, as Open WebUI does: it was preferred to them. The same
// vote again takes it back.
async function vote(c, node, value) {
  const rating = node.rating === value ? 0 : value;
  const votes = [[node, rating]];
  if (rating === 1) {
    for (const id of parentOf(c, node).children) {
      const other = c.nodes[id];
      if (other !== node && other.rating !== -1 && !other.error) votes.push([other, -1]);
    }
  }
  const s = settings();
  const prompt = messagesUpTo(c, c.nodes[node.parent], node.system ?? s.system);
  for (const [n, r] of votes) {
    try {
      const body = { reply_id: n.id, rating: r, model: modelId, prompt, reply: replyMessages(n) };
      const answer = await fetch("/v1/feedback", { method: "POST", headers: headers(s), body: JSON.stringify(body) });
      if (!answer.ok) throw await httpError(answer);
      n.rating = r || undefined;
    } catch (e) {
      banner(`The vote was not stored: ${e.message}`);
      break;
    }
  }
  save();
  draw();
}

function stop() {
  running?.controller.abort();
}

// ---- drawing -------------------------------------------------------------------------------

function button(label, onclick) {
  const b = document.createElement("button");
  b.type = "button";
  b.textContent = label;
  b.addEventListener("click", onclick);
  return b;
}

function draw() {
  const c = chat();
  const list = $("chats");
  list.replaceChildren(
    ...chats.map((x) => {
      const li = document.createElement("li");
      li.classList.toggle("current", x.id === current);
      const open = button(x.title, () => {
        current = x.id;
        draw();
      });
      open.className = "open";
      const del = button("×", () => {
        if (running) return;
        chats = chats.filter((y) => y.id !== x.id);
        if (current === x.id) current = chats[0]?.id ?? null;
        save();
        draw();
      });
      del.className = "delete";
      del.title = "delete this conversation";
      li.append(open, del);
      return li;
    }),
  );
  const box = $("messages");
  box.replaceChildren(...(c ? path(c).map((n) => message(c, n)) : []));
  box.scrollTop = box.scrollHeight;
}

// Redraws one streaming reply (cheaper than the whole conversation at each token).
function drawReply(node) {
  const el = document.querySelector(`[data-id="${node.id}"]`);
  if (!el) return draw();
  el.replaceWith(message(chat(), node));
  const box = $("messages");
  box.scrollTop = box.scrollHeight;
}

function message(c, node) {
  const el = document.createElement("div");
  el.className = `msg ${node.role}`;
  el.dataset.id = node.id;
  const body = document.createElement("div");
  body.className = "body";
  if (node.role === "user") body.textContent = node.content;
  else {
    for (const part of node.parts) {
      if (part.type === "text") renderMarkdown(body, part.text);
      else {
        const t = document.createElement("div");
        t.className = "tool";
        t.textContent = `🔧 ${part.name}(${part.arguments})` + (part.result === null ? " …" : `\n→ ${part.result}`);
        body.append(t);
      }
    }
    if (running?.node === node) el.classList.add("streaming");
  }
  el.append(body);
  if (node.error) {
    const e = document.createElement("div");
    e.className = "error";
    e.textContent = `Error: ${node.error}`;
    el.append(e);
  }
  const meta = document.createElement("div");
  meta.className = "meta";
  const parent = parentOf(c, node);
  if (parent.children.length > 1) {
    const at = document.createElement("span");
    at.className = "siblings";
    at.textContent = `${parent.active + 1}/${parent.children.length}`;
    meta.append(button("‹", () => showSibling(c, node, -1)), at, button("›", () => showSibling(c, node, 1)));
  }
  if (node.role === "user") meta.append(button("Edit", () => edit(c, node, body)));
  else if (running?.node !== node) {
    meta.append(button("Regenerate", () => regenerate(c, node)));
    for (const [value, label, name] of [[1, "👍", "Good reply"], [-1, "👎", "Bad reply"]]) {
      const b = button(label, () => vote(c, node, value));
      b.className = `vote${node.rating === value ? " chosen" : ""}`;
      b.title = name;
      b.setAttribute("aria-label", name);
      b.setAttribute("aria-pressed", String(node.rating === value));
      meta.append(b);
    }
    const s = node.stats ?? {};
    if (s.tokens !== undefined) {
      const stat = document.createElement("span");
      stat.className = "stats";
      const rate = s.seconds > 0 ? ` · ${(s.tokens / s.seconds).toFixed(1)} tokens/s` : "";
      stat.textContent = `${s.tokens} tokens${rate}${s.finish && s.finish !== "stop" ? ` · ${s.finish}` : ""}`;
      meta.append(stat);
    } else if (s.finish === "stopped") {
      meta.append("stopped");
    }
  }
  el.append(meta);
  return el;
}

function showRunning(on) {
  $("send").hidden = on;
  $("stop").hidden = !on;
}

// ---- start ---------------------------------------------------------------------------------

const saved = load(SETTINGS, {});
for (const f of FIELDS) if (saved[f] !== undefined) $(f).value = saved[f];
for (const f of FIELDS) $(f).addEventListener("change", saveSettings);
$("composer").addEventListener("submit", (e) => {
  e.preventDefault();
  const text = $("input").value;
  if (!text.trim() || running) return;
  $("input").value = "";
  send(text);
});
$("input").addEventListener("keydown", (e) => {
  if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
    e.preventDefault();
    $("composer").requestSubmit();
  }
});
$("stop").addEventListener("click", stop);
$("banner").addEventListener("click", hideBanner);
$("new-chat").addEventListener("click", () => {
  if (running) return;
  newChat();
  draw();
  $("input").focus();
});
window.addEventListener("unhandledrejection", (e) => {
  if (e.reason instanceof TypeError) watchHealth();
});
const training = setupTraining({ headers: () => headers(settings()) });
for (const tab of document.querySelectorAll("#tabs button")) {
  tab.addEventListener("click", () => {
    for (const t of document.querySelectorAll("#tabs button")) {
      t.setAttribute("aria-selected", String(t === tab));
      $(`view-${t.dataset.view}`).hidden = t !== tab;
    }
    training.shown(tab.dataset.view === "training");
  });
}
const traceOf = tracer(() => headers(settings()));
setupAttention({ traceOf });
setupLens({ traceOf });
setupViews({
  traceOf,
  tokenize: tokenizer(() => headers(settings())),
  // The conversation shown, as the API takes it (the Tokens view renders it).
  conversation: () => {
    const c = chat();
    const last = c ? path(c).at(-1) : null;
    return last ? messagesUpTo(c, last, settings().system) : [];
  },
});
draw();
loadModel();
