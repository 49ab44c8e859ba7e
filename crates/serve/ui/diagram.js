// The architecture of the served model, drawn from its config, with one token's activations
// followed through it (the seed's "token processed layer by layer"; bbycroft's llm-viz and
// Transformer Explainer draw the same path for models of their own). Top to bottom: the
// token, its embedding, each block's two sub-layers (a pre-norm block: x += attn(norm(x)),
// then x += mlp(norm(x)); GPT-2, Radford et al. 2019, and Llama, Touvron et al. 2023), the
// final norm and the LM head. The residual stream runs down the left, as wide as its norm;
// each sub-layer reads it and adds to it, and the arrow back is as wide as what it adds.
// Beside each part, from the trace: the stream's norm and what the logit lens reads from it,
// the positions the token's attention reads most (averaged over heads) and the sizes of the
// writes.

import { floats } from "./views.js";

const NS = "http://www.w3.org/2000/svg";
const ROW = 30;
const STREAM_X = 24;
const BOX_X = 56;
const BOX_W = 270;
const LABEL_X = BOX_X + BOX_W + 14;

function svg(tag, attrs, text) {
  const e = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = text;
  return e;
}

const pct = (p) => `${(100 * p).toFixed(0)}%`;
const quote = (s) => JSON.stringify(s);

// What position `i` attends to in layer `l`, averaged over the heads: [[position, weight]]
// from the most read.
export function reads(tr, attention, l, i) {
  const t = tr.tokens.length;
  const h = tr.n_head;
  const mean = new Float64Array(i + 1);
  for (let head = 0; head < h; head++) {
    const row = ((l * h + head) * t + i) * t;
    for (let j = 0; j <= i; j++) mean[j] += attention[row + j] / h;
  }
  return [...mean.keys()].sort((a, b) => mean[b] - mean[a] || a - b).map((j) => [j, mean[j]]);
}

// The sub-layers' names as this family builds them.
function parts(cfg) {
  const llama = cfg.family === "llama";
  const norm = llama ? "RMSNorm" : "LayerNorm";
  const heads =
    cfg.n_kv_head < cfg.n_head
      ? `${cfg.n_head} q / ${cfg.n_kv_head} kv heads`
      : `${cfg.n_head} heads × ${cfg.n_embd / cfg.n_head}`;
  return {
    embedding: llama ? `token embedding (${cfg.n_embd})` : `token + position embedding (${cfg.n_embd})`,
    attention: `${norm} → attention, ${heads}${llama ? ", RoPE" : ""}`,
    mlp: `${norm} → MLP ${cfg.n_embd}→${cfg.intermediate_size}→${cfg.n_embd} ${llama ? "SwiGLU" : "GELU"}`,
    head: `${norm} → LM head${cfg.tie_embeddings ? " (tied)" : ""} → softmax ${cfg.vocab_size}`,
  };
}

// The diagram for position `i` of trace `tr`.
export function diagram(tr, i) {
  const cfg = tr.config;
  const L = tr.n_layer;
  const attention = floats(tr.attention);
  const names = parts(cfg);
  const tokenText = (j) => quote(tr.tokens[j].text);
  const lensText = (l) => {
    const [, p, text] = tr.lens[l][i][0] ?? [null, 0, ""];
    return `lens: ${quote(text)} ${pct(p)}`;
  };
  // Rows: token, embedding, then per block attention, MLP, stream; then the head and its
  // next tokens.
  const rows = 4 + 3 * L;
  const height = rows * ROW + 10;
  const root = svg("svg", { class: "diagram", width: 780, height, viewBox: `0 0 780 ${height}`, role: "img" });
  root.dataset.position = i;
  root.append(svg("title", {}, `The model's layers, following token ${i} (${tokenText(i)})`));
  const maxNorm = Math.max(...tr.norms.map((l) => l[i]), 1e-6);
  const maxWrite = Math.max(...tr.attn_writes.map((l) => l[i]), ...tr.mlp_writes.map((l) => l[i]), 1e-6);
  const streamWidth = (norm) => (1.5 + 8 * norm / maxNorm).toFixed(2);
  const writeWidth = (w) => (1 + 6 * w / maxWrite).toFixed(2);
  const y = (row) => 5 + row * ROW;

  const box = (row, text, cls) => {
    const g = svg("g", { class: `part ${cls}` });
    g.append(svg("rect", { x: BOX_X, y: y(row) + 3, width: BOX_W, height: ROW - 6, rx: 5 }));
    g.append(svg("text", { x: BOX_X + 8, y: y(row) + ROW / 2 + 4 }, text));
    return g;
  };
  const label = (row, text, cls = "label") => svg("text", { class: cls, x: LABEL_X, y: y(row) + ROW / 2 + 4 }, text);
  const stream = (from, to, norm) =>
    svg("line", { class: "stream", x1: STREAM_X, y1: y(from) + ROW / 2, x2: STREAM_X, y2: y(to) + ROW / 2, "stroke-width": streamWidth(norm) });
  // A sub-layer reads the stream (thin) and adds back (as wide as its write).
  const branch = (row, write) => [
    svg("line", { class: "read", x1: STREAM_X, y1: y(row) + 9, x2: BOX_X, y2: y(row) + 9 }),
    svg("line", { class: "write", x1: BOX_X, y1: y(row) + ROW - 9, x2: STREAM_X, y2: y(row) + ROW - 9, "stroke-width": writeWidth(write) }),
    svg("text", { class: "plus", x: STREAM_X + 6, y: y(row) + ROW - 11 }, "+"),
  ];

  const token = box(0, `token ${i}: ${tokenText(i)} (id ${tr.tokens[i].id})`, "token");
  const embed = box(1, names.embedding, "embedding");
  root.append(
    svg("line", { class: "read", x1: BOX_X + 20, y1: y(0) + ROW - 3, x2: BOX_X + 20, y2: y(1) + 3 }),
    stream(1, 2, tr.norms[0][i]),
    token,
    embed,
    label(1, `‖x‖ ${tr.norms[0][i].toFixed(1)}, ${lensText(0)}`),
  );
  for (let l = 0; l < L; l++) {
    const r = 2 + 3 * l;
    const g = svg("g", { class: "block" });
    const top = reads(tr, attention, l, i).slice(0, 2);
    g.dataset.layer = l + 1;
    g.dataset.attnWrite = tr.attn_writes[l][i];
    g.dataset.mlpWrite = tr.mlp_writes[l][i];
    g.dataset.norm = tr.norms[l + 1][i];
    g.dataset.reads = top[0][0];
    const read = top.map(([j, w]) => `${tokenText(j)}@${j} ${pct(w)}`).join(", ");
    g.append(
      // The stream as it enters the block, then as it leaves.
      stream(r, r + 2, tr.norms[l][i]),
      stream(r + 2, r + 3, tr.norms[l + 1][i]),
      svg("text", { class: "layer", x: 2, y: y(r) + ROW / 2 + 4 }, `${l + 1}`),
      ...branch(r, tr.attn_writes[l][i]),
      box(r, names.attention, "attention"),
      label(r, `adds ‖${tr.attn_writes[l][i].toFixed(1)}‖; reads ${read}`),
      ...branch(r + 1, tr.mlp_writes[l][i]),
      box(r + 1, names.mlp, "mlp"),
      label(r + 1, `adds ‖${tr.mlp_writes[l][i].toFixed(1)}‖`),
      svg("circle", { class: "node", cx: STREAM_X, cy: y(r + 2) + ROW / 2, r: 4 }),
      label(r + 2, `after block ${l + 1}: ‖x‖ ${tr.norms[l + 1][i].toFixed(1)}, ${lensText(l + 1)}`, "label stream-label"),
    );
    root.append(g);
  }
  const last = rows - 2;
  const next = tr.lens[L][i].map(([, p, text]) => `${quote(text)} ${pct(p)}`).join(", ");
  const head = box(last, names.head, "head");
  head.dataset.next = tr.lens[L][i][0]?.[0] ?? "";
  root.append(
    svg("line", { class: "read", x1: STREAM_X, y1: y(last) + ROW / 2, x2: BOX_X, y2: y(last) + ROW / 2 }),
    head,
    svg("text", { class: "label", x: BOX_X + 8, y: y(last + 1) + ROW / 2 + 4 }, `next: ${next}`),
  );
  return root;
}
