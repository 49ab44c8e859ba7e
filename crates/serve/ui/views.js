// The views inside the model, from one trace (POST /v1/trace) of a text or of the current
// conversation in the chat template (the Attention and Layers views: attention.js, lens.js):
// - Tokens (tiktokenizer's): coloured token spans with their ids, special tokens marked, a
//   piece of a character split across tokens shown as its bytes; beside them the same text
//   in OpenAI's cl100k_base (GPT-4) and o200k_base (GPT-4o) through POST /tokenize.
// - Next token (Transformer Explainer's): the distribution after the text, which the sliders
//   reshape in the browser from the raw logits exactly as the server's sampler does
//   (crates/chat/src/sampler.rs: softmax(logits / T) in f64, then top-k, top-p, min-p, ties
//   to the lower id); clicking a candidate appends it and traces again.

const $ = (id) => document.getElementById(id);

// Little-endian f32s from base64 (the trace's binary parts).
export function floats(b64) {
  const raw = atob(b64);
  const bytes = new Uint8Array(raw.length);
  for (let i = 0; i < raw.length; i++) bytes[i] = raw.charCodeAt(i);
  return new Float32Array(bytes.buffer);
}

// softmax(l / t) in f64, as the sampler's `softmax` (max of the f32 logits first).
export function softmax(logits, t) {
  let max = -Infinity;
  for (const x of logits) max = Math.max(max, x);
  const p = new Float64Array(logits.length);
  let z = 0;
  for (let i = 0; i < logits.length; i++) z += p[i] = Math.exp((logits[i] - max) / t);
  for (let i = 0; i < p.length; i++) p[i] /= z;
  return p;
}

// The sampler's step 2, temperature: softmax(logits / T), or at T = 0 the most likely token
// alone.
export function tempered(logits, temperature) {
  if (temperature === 0) {
    let best = 0;
    for (let i = 1; i < logits.length; i++) if (logits[i] > logits[best]) best = i;
    const p = new Float64Array(logits.length);
    p[best] = 1;
    return p;
  }
  return softmax(logits, Math.fround(temperature));
}

// The sampler's steps 3-5 on a copy of `probs`: what top-k, top-p and min-p leave,
// renormalised.
export function filtered(probs, { topK, topP, minP }) {
  const p = Float64Array.from(probs);
  const n = p.length;
  const k = topK >= n ? 0 : topK;
  const order = [...p.keys()].filter((i) => p[i] > 0).sort((a, b) => p[b] - p[a] || a - b);
  let keep = k > 0 ? Math.min(k, order.length) : order.length;
  if (Math.fround(topP) < 1) {
    let total = 0;
    for (let j = 0; j < keep; j++) total += p[order[j]];
    let acc = 0;
    for (let j = 0; j < keep; j++) {
      acc += p[order[j]] / total;
      if (acc >= Math.fround(topP)) {
        keep = j + 1;
        break;
      }
    }
  }
  if (minP > 0 && keep > 0) {
    const floor = p[order[0]] * Math.fround(minP);
    let j = 0;
    while (j < keep && p[order[j]] >= floor) j++;
    keep = Math.max(j, 1);
  }
  for (let j = keep; j < order.length; j++) p[order[j]] = 0;
  let z = 0;
  for (const x of p) z += x;
  for (let i = 0; i < n; i++) p[i] /= z;
  return p;
}

// A function that traces a body ({text} or {messages}, and top) through the server.
export function tracer(headers) {
  return async (body) => {
    const r = await fetch("/v1/trace", { method: "POST", headers: headers(), body: JSON.stringify(body) });
    const v = await r.json();
    if (!r.ok) throw new Error(v.error?.message ?? `${r.status}`);
    return v;
  };
}

// A function that tokenizes a text with one of OpenAI's encodings through the server.
export function tokenizer(headers) {
  return async (encoding, text) => {
    const body = { encoding, content: text, with_pieces: true };
    const r = await fetch("/tokenize", { method: "POST", headers: headers(), body: JSON.stringify(body) });
    const v = await r.json();
    if (!r.ok) throw new Error(v.error?.message ?? `${r.status}`);
    return v;
  };
}

// A piece that is not whole UTF-8 (part of a character split across tokens), as its bytes.
export function byteText(bytes) {
  return bytes.map((b) => `\\x${b.toString(16).toUpperCase().padStart(2, "0")}`).join("");
}

// The OpenAI encodings shown beside the model's.
const COMPARED = [
  ["cl100k_base", "GPT-4"],
  ["o200k_base", "GPT-4o"],
];

export function setupViews({ traceOf, tokenize, conversation }) {
  let lastNext = null;

  // `tok`: {id, text, bytes?, special?, trained?}.
  function tokenSpan(tok, i) {
    const span = document.createElement("span");
    const split = Array.isArray(tok.bytes);
    span.className = `tok c${i % 6}${tok.special ? " special" : ""}${tok.trained ? " trained" : ""}${split ? " bytes" : ""}`;
    span.textContent = split ? byteText(tok.bytes) : tok.text;
    span.title = `token ${i}: id ${tok.id}${split ? " (part of a character split across tokens)" : ""}`;
    span.dataset.id = tok.id;
    return span;
  }

  // One encoding's tokens: a heading with the count, the spans.
  function column(name, tokens, cls) {
    const box = document.createElement("div");
    box.className = `encoding ${cls ?? ""}`;
    box.dataset.encoding = name;
    box.dataset.count = tokens.length;
    const h = document.createElement("h4");
    h.textContent = `${name}: ${tokens.length} tokens`;
    const spans = document.createElement("div");
    spans.className = "spans";
    spans.append(...tokens.map(tokenSpan));
    box.append(h, spans);
    return box;
  }

  // The same text in OpenAI's encodings (for a conversation: its messages' contents, without a
  // template, since each model family has its own).
  async function compared(text) {
    const boxes = await Promise.all(
      COMPARED.map(async ([encoding, model]) => {
        try {
          const v = await tokenize(encoding, text);
          const tokens = v.tokens.map(({ id, piece }) =>
            typeof piece === "string" ? { id, text: piece } : { id, text: "", bytes: piece },
          );
          return column(`${encoding} (${model})`, tokens);
        } catch (e) {
          const box = document.createElement("div");
          box.className = "encoding";
          box.textContent = `${encoding}: ${e.message}`;
          return box;
        }
      }),
    );
    const row = document.createElement("div");
    row.id = "tokens-compared";
    row.className = "compared";
    row.append(...boxes);
    return row;
  }

  async function showTokens() {
    const out = $("tokens-out");
    const useChat = $("tokens-chat").checked;
    try {
      const messages = useChat ? conversation() : null;
      if (useChat && !messages?.length) throw new Error("this conversation is empty");
      const text = useChat ? messages.map((m) => m.content ?? "").join("\n") : $("tokens-text").value;
      const [t, others] = await Promise.all([
        traceOf(useChat ? { messages, top: 0 } : { text, top: 0 }),
        compared(text),
      ]);
      const spans = document.createElement("div");
      spans.className = "spans";
      spans.append(...t.tokens.map(tokenSpan));
      const ids = document.createElement("pre");
      ids.className = "ids";
      ids.textContent = t.tokens.map((x) => x.id).join(" ");
      const count = document.createElement("p");
      count.id = "tokens-count";
      count.textContent = `${t.tokens.length} tokens, ${t.tokens.filter((x) => x.special).length} special`;
      const note = document.createElement("p");
      note.className = "muted";
      note.textContent = useChat
        ? "The messages' text in OpenAI's encodings (without a chat template):"
        : "The same text in OpenAI's encodings:";
      out.replaceChildren(count, spans, ids, note, others);
    } catch (e) {
      out.textContent = `Error: ${e.message}`;
    }
  }

  async function traceNext() {
    const out = $("next-out");
    try {
      const t = await traceOf({ text: $("next-text").value, top: 0 });
      lastNext = { logits: floats(t.logits), next: t.next };
      drawNext();
    } catch (e) {
      out.textContent = `Error: ${e.message}`;
    }
  }

  function sliders() {
    return {
      temperature: Number($("next-temperature").value),
      topK: Number($("next-top_k").value),
      topP: Number($("next-top_p").value),
      minP: Number($("next-min_p").value),
    };
  }

  // Redraws the candidates from the logits kept in the page: no request per slider move.
  function drawNext() {
    for (const id of ["temperature", "top_k", "top_p", "min_p"]) $(`next-${id}-value`).textContent = $(`next-${id}`).value;
    if (!lastNext) return;
    const s = sliders();
    const before = tempered(lastNext.logits, s.temperature);
    const p = filtered(before, s);
    let kept = 0;
    for (const x of p) kept += x > 0 ? 1 : 0;
    const summary = document.createElement("p");
    summary.id = "next-summary";
    summary.dataset.kept = kept;
    summary.textContent = `${kept} of ${p.length} tokens can be drawn; the ${lastNext.next.length} most likely:`;
    const rows = lastNext.next.map((c) => {
      const row = document.createElement("button");
      row.type = "button";
      row.className = `cand${p[c.id] > 0 ? "" : " cut"}`;
      row.dataset.id = c.id;
      row.dataset.kept = String(p[c.id] > 0);
      const name = document.createElement("span");
      name.className = "name";
      name.textContent = JSON.stringify(c.text);
      const bar = document.createElement("span");
      bar.className = "bar";
      const fill = document.createElement("span");
      fill.style.width = `${(100 * p[c.id]).toFixed(2)}%`;
      bar.append(fill);
      const num = document.createElement("span");
      num.className = "num";
      num.textContent = `${(100 * p[c.id]).toFixed(2)}% (${(100 * before[c.id]).toFixed(2)}% before the filters)`;
      row.append(name, bar, num);
      row.title = `id ${c.id}, logit ${c.logit.toFixed(3)}: click to append it`;
      row.addEventListener("click", () => {
        $("next-text").value += c.text;
        traceNext();
      });
      return row;
    });
    $("next-out").replaceChildren(summary, ...rows);
  }

  $("tokens-go").addEventListener("click", showTokens);
  $("next-go").addEventListener("click", traceNext);
  for (const id of ["temperature", "top_k", "top_p", "min_p"]) $(`next-${id}`).addEventListener("input", drawNext);
  drawNext();
}
