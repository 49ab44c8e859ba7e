// The chat page in Debian's Chromium, driven by playwright-core (from npm, no browser
// download): node ui.mjs URL [SCREENSHOT_DIR]. Run by crates/serve/tests/ui.rs against a
// server with a small random model; exits non-zero, saying what failed, on the first check
// that fails. Checks: a message streams and gets its stats, stop cancels on the server,
// regenerate and edit make siblings that can be browsed, HTML and script in a message or a
// reply stay text, votes reach the server, conversations survive a reload, the page stays
// usable while the server really restarts (the Rust side stops and starts it when this script
// asks on stdout) and when it is busy, the views inside the model (tokens beside OpenAI's
// encodings, next token, attention, layers with the architecture diagram) and the Training
// view, and the page logs no error (a CSP violation would be one).
import { chromium } from "playwright-core";
import assert from "node:assert/strict";
import { appendFileSync, mkdirSync } from "node:fs";
import { createInterface } from "node:readline";

const [url, shots] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu"],
});
const errors = [];
let step = "start";
// Each step is said on stderr as it starts: a test that hangs shows where.
const log = (s) => {
  console.error(`ui: ${s}`);
  return s;
};
// The Rust side stops and starts the server when asked on stdout, and answers on stdin.
const asked = createInterface({ input: process.stdin });
const answers = asked[Symbol.asyncIterator]();
async function server(what) {
  console.log(`server:${what}`);
  const { value } = await answers.next();
  assert.equal(value, { stop: "stopped", start: "started" }[what], `the server did not ${what}`);
}
try {
  const page = await browser.newPage({ viewport: { width: 1100, height: 760 } });
  page.on("pageerror", (e) => errors.push(`page error: ${e.message}`));
  page.on("console", (m) => {
    // The checks below make failing requests on purpose; anything else is an error.
    if (m.type() === "error" && !/Failed to load resource|net::ERR_FAILED|net::ERR_CONNECTION_REFUSED/.test(m.text())) errors.push(m.text());
  });
  const shot = async (name) => {
    if (!shots) return;
    mkdirSync(shots, { recursive: true });
    await page.screenshot({ path: `${shots}/${name}.png` });
  };
  const replies = () => page.locator("#messages .msg.assistant");
  const done = async (n) => {
    await page.waitForFunction((n) => {
      const all = document.querySelectorAll("#messages .msg.assistant");
      return all.length === n && !document.querySelector(".msg.streaming") && !document.getElementById("send").hidden;
    }, n, { timeout: 60000 });
  };
  const setting = async (id, value) => page.fill(`#${id}`, String(value)).then(() => page.dispatchEvent(`#${id}`, "change"));

  step = log("the page loads with its security headers and names the model");
  const first = await page.goto(url);
  assert.match(first.headers()["content-security-policy"], /script-src 'self'/);
  await page.waitForFunction(() => document.getElementById("model").textContent.includes("context"));
  await page.click("#settings summary");

  step = log("a message streams in and gets its token count and rate");
  await setting("max_tokens", 12);
  // A seed, so that the replies the votes below are about are the same every run: unseeded,
  // the random test model's first reply now and then had no text, and the exported pair's
  // prompt then held no first reply (a CI run failed so).
  await setting("seed", 1);
  await page.evaluate(() => {
    window.__updates = 0;
    new MutationObserver(() => window.__updates++).observe(document.getElementById("messages"), { childList: true, subtree: true });
  });
  await page.fill("#input", "What is 12*7?");
  await page.press("#input", "Enter");
  await done(1);
  assert.equal(await page.locator("#messages .msg.user .body").first().textContent(), "What is 12*7?");
  assert.ok((await replies().first().locator(".body").textContent()).trim().length > 0, "the first reply has text");
  assert.match(await replies().first().locator(".stats").textContent(), /^\d+ tokens · [\d.]+ tokens\/s/);
  assert.ok((await page.evaluate(() => window.__updates)) > 3, "the reply was drawn as it streamed");
  await shot("chat");

  // The test model writes until max_tokens once its end tokens are banned (the page does not
  // send logit_bias; the test adds it on the way out).
  const ends = await page.evaluate(async () => {
    const r = await fetch("/tokenize", { method: "POST", body: JSON.stringify({ content: "<|bos|><|assistant_end|>", parse_special: true }) });
    return (await r.json()).tokens;
  });
  const banEnds = async (route) => {
    const body = JSON.parse(route.request().postData());
    body.logit_bias = Object.fromEntries(ends.map((t) => [t, -100]));
    await route.continue({ postData: JSON.stringify(body) });
  };

  step = log("stop ends a long reply and frees its slot on the server");
  await page.route("**/v1/chat/completions", banEnds);
  await setting("max_tokens", 3000);
  await page.fill("#input", "Go on");
  await page.press("#input", "Enter");
  await page.waitForFunction(() => (document.querySelector(".msg.streaming .body")?.textContent.length ?? 0) > 0);
  await page.click("#stop");
  await done(2);
  assert.match(await replies().nth(1).locator(".meta").textContent(), /stopped/);
  const running = async () => {
    const text = await page.evaluate(async () => (await fetch("/metrics")).text());
    return Number(text.match(/^minichat_requests_running (\S+)/m)[1]);
  };
  for (let i = 0; (await running()) !== 0; i++) {
    assert.ok(i < 50, "the stopped reply still runs on the server");
    await page.waitForTimeout(100);
  }
  await page.unroute("**/v1/chat/completions");

  step = log("regenerate makes a sibling; the arrows go back to the first");
  await setting("max_tokens", 6);
  const before = await replies().nth(1).locator(".body").textContent();
  await replies().nth(1).getByRole("button", { name: "Regenerate" }).click();
  await done(2);
  assert.equal(await replies().nth(1).locator(".siblings").textContent(), "2/2");
  await replies().nth(1).getByRole("button", { name: "‹" }).click();
  assert.equal(await replies().nth(1).locator(".siblings").textContent(), "1/2");
  assert.equal(await replies().nth(1).locator(".body").textContent(), before);

  step = log("a vote up on one sibling votes the other down, and is kept by the server");
  await replies().nth(1).getByRole("button", { name: "Good reply" }).click();
  await page.waitForFunction(() => document.querySelectorAll('#messages button[aria-pressed="true"]').length === 1);
  await replies().nth(1).getByRole("button", { name: "›" }).click();
  assert.equal(await replies().nth(1).getByRole("button", { name: "Bad reply" }).getAttribute("aria-pressed"), "true");
  await replies().nth(1).getByRole("button", { name: "‹" }).click();
  await shot("siblings");

  step = log("edit makes a sibling of the user message with its own reply");
  await page.locator("#messages .msg.user").nth(1).getByRole("button", { name: "Edit" }).click();
  await page.fill("#messages textarea.edit", "Spell cat:");
  await page.getByRole("button", { name: "Save and send" }).click();
  await done(2);
  const edited = page.locator("#messages .msg.user").nth(1);
  assert.equal(await edited.locator(".siblings").textContent(), "2/2");
  assert.match(await edited.textContent(), /^Spell cat:/);

  step = log("HTML and script in a message stay text");
  const evil = '<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script> **not bold**';
  await page.fill("#input", evil);
  await page.press("#input", "Enter");
  await done(3);
  assert.equal(await page.locator("#messages .msg.user").nth(2).locator(".body").textContent(), evil);

  step = log("HTML and script in a reply stay text; its markdown is drawn");
  const reply = "Here:\n```html\n<script>window.__pwned=3</script>\n```\n<img src=x onerror=\"window.__pwned=4\"> and **bold**";
  await page.route("**/v1/chat/completions", (route) => {
    const chunk = (delta, finish = null) => `data: ${JSON.stringify({ choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`;
    const parts = [chunk({ role: "assistant" }), chunk({ content: reply.slice(0, 20) }), chunk({ content: reply.slice(20) }), chunk({}, "stop"), "data: [DONE]\n\n"];
    return route.fulfill({ status: 200, headers: { "content-type": "text/event-stream" }, body: parts.join("") });
  });
  await replies().nth(2).getByRole("button", { name: "Regenerate" }).click();
  await done(3);
  await page.unroute("**/v1/chat/completions");
  const last = replies().nth(2);
  assert.equal(await last.locator("pre code").textContent(), "<script>window.__pwned=3</script>");
  assert.equal(await last.locator("strong").textContent(), "bold");
  assert.equal(await page.locator("#messages img, #messages script").count(), 0);
  assert.equal(await page.evaluate(() => window.__pwned), undefined);

  step = log("conversations survive a reload");
  const shown = await page.locator("#messages .msg").count();
  await page.reload();
  await page.waitForFunction((n) => document.querySelectorAll("#messages .msg").length === n, shown);
  assert.equal(await page.locator("#chats li").count(), 1);

  step = log("the page stays usable while the server restarts: a cut reply says so, the banner shows while it is down and goes when it is back");
  if (!(await page.$eval("#settings", (d) => d.open))) await page.click("#settings summary");
  await setting("max_tokens", 3000);
  await page.route("**/v1/chat/completions", banEnds);
  const beforeRestart = await replies().count();
  await page.fill("#input", "Go on until the server stops");
  await page.press("#input", "Enter");
  await page.waitForFunction(() => (document.querySelector(".msg.streaming .body")?.textContent.length ?? 0) > 0);
  await page.unroute("**/v1/chat/completions");
  await server("stop");
  await done(beforeRestart + 1);
  assert.match(await replies().last().locator(".error").textContent(), /shutting down/);
  assert.ok((await replies().last().locator(".body").textContent()).length > 0, "the text before the cut is kept");
  await page.fill("#input", "Anyone there?");
  await page.press("#input", "Enter");
  await page.waitForSelector("#banner:not([hidden])");
  assert.match(await page.textContent("#banner"), /cannot be reached/);
  await server("start");
  await page.waitForSelector("#banner", { state: "hidden", timeout: 15000 });
  await setting("max_tokens", 6);
  const afterRestart = await replies().count();
  await page.fill("#input", "Back again?");
  await page.press("#input", "Enter");
  await done(afterRestart + 1);
  assert.equal(await replies().last().locator(".error").count(), 0, "the restarted server answers");
  assert.match(await replies().last().locator(".stats").textContent(), /^\d+ tokens/);

  step = log("a busy server shows a banner");
  await page.route("**/v1/chat/completions", (route) =>
    route.fulfill({ status: 503, headers: { "content-type": "application/json", "retry-after": "1" }, body: JSON.stringify({ error: { message: "the server is busy", type: "server_busy_error" } }) }),
  );
  await page.fill("#input", "Busy?");
  await page.press("#input", "Enter");
  await page.waitForSelector("#banner:not([hidden])");
  assert.match(await page.textContent("#banner"), /busy/);
  assert.match(await replies().last().locator(".error").textContent(), /the server is busy/);
  await page.click("#banner");
  await page.waitForSelector("#banner", { state: "hidden" });
  await page.unroute("**/v1/chat/completions");

  step = log("the Tokens view shows a text's tokens, and the conversation's with its training mask");
  // A short conversation of its own: the one above holds the reply cut by the restart, as long
  // as the server got through in its 200 ms of grace (on a fast machine, more than a trace takes).
  await page.click("#new-chat");
  await page.fill("#input", "Hello there");
  await page.press("#input", "Enter");
  await done(1);
  await page.getByRole("tab", { name: "Tokens" }).click();
  await page.fill("#tokens-text", "Hello world 🙂");
  await page.click("#tokens-go");
  await page.waitForSelector("#tokens-count");
  const tokenized = await page.evaluate(async () => {
    const r = await fetch("/tokenize", { method: "POST", body: JSON.stringify({ content: "Hello world 🙂", add_special: true }) });
    return (await r.json()).tokens;
  });
  const modelIds = await page.$$eval("#tokens-out > .spans .tok", (spans) => spans.map((s) => Number(s.dataset.id)));
  assert.deepEqual(modelIds, tokenized);
  assert.equal(await page.locator("#tokens-out .tok.special").count(), 1, "<|bos|>");
  await shot("tokens");
  // A character split across tokens shows as its bytes, which together make it.
  const split = await page.$$eval("#tokens-out > .spans .tok.bytes", (spans) => spans.map((s) => s.textContent).join(""));
  assert.match(split, /^(\\x[0-9A-F]{2})+$/, "🙂 is split into byte pieces");
  const splitBytes = Uint8Array.from(split.split("\\x").slice(1).map((h) => parseInt(h, 16)));
  assert.equal(new TextDecoder().decode(splitBytes).trim(), "🙂");
  // Beside it, OpenAI's encodings of the same text, as /tokenize gives them.
  for (const encoding of ["cl100k_base", "o200k_base"]) {
    const want = await page.evaluate(async (encoding) => {
      const r = await fetch("/tokenize", { method: "POST", body: JSON.stringify({ content: "Hello world 🙂", encoding }) });
      return (await r.json()).tokens;
    }, encoding);
    const box = page.locator(`#tokens-compared .encoding[data-encoding^="${encoding}"]`);
    assert.equal(Number(await box.getAttribute("data-count")), want.length, encoding);
    assert.deepEqual(await box.locator(".tok").evaluateAll((spans) => spans.map((s) => Number(s.dataset.id))), want, encoding);
  }
  await page.check("#tokens-chat");
  await page.click("#tokens-go");
  await page.waitForFunction(() => document.querySelectorAll("#tokens-out .tok.special").length > 4);
  assert.ok((await page.locator("#tokens-out .tok.trained").count()) > 0, "the assistant's tokens are marked");

  step = log("the Next token view filters as the server's sampler does, without a request per slider");
  const expected = JSON.parse(process.env.EXPECT_NEXT ?? "null");
  assert.ok(expected, "EXPECT_NEXT (the sampler's sets, from the Rust side) is set");
  await page.getByRole("tab", { name: "Next token" }).click();
  await page.fill("#next-text", expected.text);
  let traces = 0;
  page.on("request", (r) => (traces += r.url().endsWith("/v1/trace") ? 1 : 0));
  await page.click("#next-go");
  await page.waitForSelector("#next-summary");
  const slide = (id, value) =>
    page.$eval(`#next-${id}`, (e, v) => {
      e.value = v;
      e.dispatchEvent(new Event("input"));
    }, String(value));
  for (const c of expected.cases) {
    await slide("temperature", c.temperature);
    await slide("top_k", c.top_k);
    await slide("top_p", c.top_p);
    await slide("min_p", c.min_p);
    const kept = Number(await page.getAttribute("#next-summary", "data-kept"));
    assert.equal(kept, c.kept, `tokens kept with ${JSON.stringify(c)}`);
    if (c.ids) {
      const ids = await page.$$eval('#next-out .cand[data-kept="true"]', (rows) => rows.map((r) => Number(r.dataset.id)));
      assert.deepEqual(ids.sort((a, b) => a - b), c.ids, `the kept tokens with ${JSON.stringify(c)}`);
    }
  }
  assert.equal(traces, 1, "the sliders asked the server nothing");
  await shot("next");
  const firstCandidate = page.locator("#next-out .cand").first();
  await firstCandidate.click();
  await page.waitForFunction((t) => document.getElementById("next-text").value.length > t.length, expected.text);

  step = log("the Attention view draws the model's weights: rows that sum to 1, every layer and head");
  const text = "The quick brown fox";
  const api = await page.evaluate(async (text) => {
    const r = await fetch("/v1/trace", { method: "POST", body: JSON.stringify({ text, top: 5 }) });
    const t = await r.json();
    const raw = atob(t.attention);
    const bytes = new Uint8Array(raw.length);
    for (let i = 0; i < raw.length; i++) bytes[i] = raw.charCodeAt(i);
    return {
      n_layer: t.n_layer, n_head: t.n_head, t: t.tokens.length, att: [...new Float32Array(bytes.buffer)], best: t.next[0].id,
      norms: t.norms, attn_writes: t.attn_writes, mlp_writes: t.mlp_writes, lens: t.lens,
    };
  }, text);
  await page.getByRole("tab", { name: "Attention" }).click();
  await page.fill("#attention-text", text);
  await page.click("#attention-go");
  await page.waitForSelector("svg.lines line", { state: "attached" });
  assert.equal(await page.locator("#attention-model canvas").count(), api.n_layer * api.n_head);
  const [layer, head, hovered] = [api.n_layer - 1, 1, api.t - 1];
  await page.locator(`#attention-model canvas[data-layer="${layer}"][data-head="${head}"]`).click();
  assert.equal(await page.locator('button.head[aria-pressed="true"]').count(), 1);
  await page.locator(`svg.lines text.left[data-index="${hovered}"]`).hover();
  const drawn = await page.$$eval("svg.lines line:not(.hidden)", (ls) => ls.map((l) => [Number(l.dataset.from), Number(l.dataset.to), Number(l.dataset.weight)]));
  assert.equal(drawn.length, api.t, "one line to each token up to the hovered one");
  let sum = 0;
  for (const [from, to, w] of drawn) {
    assert.equal(from, hovered);
    const want = api.att[((layer * api.n_head + head) * api.t + hovered) * api.t + to];
    assert.ok(Math.abs(w - want) < 1e-6, `weight ${from}->${to}: ${w} against ${want}`);
    sum += w;
  }
  assert.ok(Math.abs(sum - 1) < 1e-4, `the hovered row sums to ${sum}`);
  await shot("attention");

  step = log("the Layers view has a row per layer, and the last is the model's own prediction");
  await page.getByRole("tab", { name: "Layers" }).click();
  await page.fill("#lens-text", text);
  await page.click("#lens-go");
  await page.waitForSelector("table.lens");
  assert.equal(await page.locator("table.lens tr[data-layer]").count(), api.n_layer + 1);
  const top = page.locator(`table.lens tr[data-layer="${api.n_layer}"] td`).last();
  assert.equal(Number(await top.getAttribute("data-id")), api.best);
  await shot("layers");

  step = log("the architecture diagram follows one token through every block with the trace's numbers");
  // What position i reads most in layer l, averaged over heads (ties to the earlier position).
  const mostRead = (l, i) => {
    let best = 0;
    let bestWeight = -1;
    for (let j = 0; j <= i; j++) {
      let w = 0;
      for (let h = 0; h < api.n_head; h++) w += api.att[((l * api.n_head + h) * api.t + i) * api.t + j] / api.n_head;
      if (w > bestWeight + 1e-9) [best, bestWeight] = [j, w];
    }
    return best;
  };
  const checkDiagram = async (i) => {
    await page.waitForSelector(`svg.diagram[data-position="${i}"]`);
    const blocks = await page.$$eval("svg.diagram g.block", (gs) => gs.map((g) => ({ ...g.dataset })));
    assert.equal(blocks.length, api.n_layer, "a block per layer");
    blocks.forEach((b, l) => {
      const near = (x, y, what) => assert.ok(Math.abs(Number(x) - y) <= 1e-5 * Math.max(1, Math.abs(y)), `${what} of block ${l + 1} at ${i}: ${x} against ${y}`);
      near(b.norm, api.norms[l + 1][i], "the stream's norm");
      near(b.attnWrite, api.attn_writes[l][i], "the attention's write");
      near(b.mlpWrite, api.mlp_writes[l][i], "the MLP's write");
      assert.equal(Number(b.reads), mostRead(l, i), `what position ${i} reads most in block ${l + 1}`);
    });
    assert.equal(Number(await page.getAttribute("svg.diagram g.head", "data-next")), api.lens[api.n_layer][i][0][0]);
  };
  await checkDiagram(api.t - 1);
  assert.equal(Number(await page.getAttribute("svg.diagram g.head", "data-next")), api.best, "the last position's next token is the model's");
  await page.click('table.lens th[data-position="2"]');
  await checkDiagram(2);
  await page.locator("#lens-follow").scrollIntoViewIfNeeded();
  await shot("diagram");

  step = log("the Training view draws the run's metrics and follows new ones");
  const metrics = process.env.METRICS_FILE;
  assert.ok(metrics, "METRICS_FILE (the served run's log, from the Rust side) is set");
  await page.getByRole("tab", { name: "Training" }).click();
  await page.waitForSelector('#training-loss polyline[data-points="3"]', { state: "attached" });
  assert.equal(await page.locator("#training-loss circle.dot").count(), 1, "one validation loss");
  assert.match(await page.textContent("#training-samples"), /greedy: over the lazy dog/);
  appendFileSync(metrics, JSON.stringify({ step: 4, loss: 2.5, lr: 0.0004, grad_norm: 1.0, tokens_per_s: 1000, mfu: 0.1, tokens: 4096, seconds: 4 }) + "\n");
  await page.waitForSelector('#training-loss polyline[data-points="4"]', { state: "attached", timeout: 10000 });
  assert.match(await page.textContent("#training-summary"), /^step 4: loss 2.5000/);
  await shot("training");
  await page.getByRole("tab", { name: "Chat" }).click();

  step = log("a message longer than the context is refused, naming the limit; so is a trace");
  const tooLong = "lorem ipsum dolor ".repeat(1500);
  const beforeLong = await replies().count();
  await page.fill("#input", tooLong);
  await page.press("#input", "Enter");
  await done(beforeLong + 1);
  assert.match(await replies().last().locator(".error").textContent(), /context of 2048/);
  await page.getByRole("tab", { name: "Tokens" }).click();
  await page.uncheck("#tokens-chat");
  await page.fill("#tokens-text", tooLong);
  await page.click("#tokens-go");
  await page.waitForFunction(() => document.getElementById("tokens-out").textContent.startsWith("Error:"));
  assert.match(await page.textContent("#tokens-out"), /at most 512/);
  await page.getByRole("tab", { name: "Chat" }).click();

  step = log("no errors in the page");
  assert.deepEqual(errors, []);
  console.log("ui: every check passed");
} catch (e) {
  console.error(`ui: failed at "${step}": ${e.message}`);
  // What the page showed, to tell a slow server from a failed request.
  const pages = browser.contexts().flatMap((c) => c.pages());
  for (const p of pages) {
    const shown = await p.evaluate(() => ({
      banner: document.getElementById("banner").hidden ? null : document.getElementById("banner").textContent,
      messages: [...document.querySelectorAll("#messages .msg")].map((m) => `${m.className}: ${m.textContent.slice(0, 200)}`),
    })).catch((err) => `(the page cannot be read: ${err.message})`);
    console.error(`the page: ${JSON.stringify(shown, null, 1)}`);
  }
  if (errors.length) console.error(`page errors: ${errors.join("\n")}`);
  process.exitCode = 1;
} finally {
  await browser.close();
  // An open stdin would keep node running.
  asked.close();
  process.stdin.destroy();
}
