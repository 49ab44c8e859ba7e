// The Attention view, bertviz's two views (Vig 2019, arXiv 1906.05714) on the served model:
// - head view: one layer; the tokens in two columns, a line from each token (left) to each
//   earlier token it attends to (right), as opaque as the attention weight, one colour per
//   head (heads toggled by their squares); hovering a token on the left keeps only its lines;
// - model view: every layer x head as a small heat map (row: a token, column: what it attends
//   to); clicking one shows that layer and head alone in the head view.
// The weights are the model's own, from the trace (`attention`: [layer][head][t][t]).

import { floats } from "./views.js";

const $ = (id) => document.getElementById(id);
const SVG = "http://www.w3.org/2000/svg";
const COLOURS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
  "#bcbd22", "#17becf", "#393b79", "#637939"];
// Lines lighter than this are not drawn on long texts (there would be t^2 of them per head).
const FAINT = 0.01;

export function setupAttention({ traceOf }) {
  let data = null; // { tokens, n_layer, n_head, t, att }
  let heads = new Set();
  let focus = null;

  const weight = (l, h, i, j) => data.att[((l * data.n_head + h) * data.t + i) * data.t + j];

  async function run() {
    try {
      const tr = await traceOf({ text: $("attention-text").value, top: 0 });
      data = { tokens: tr.tokens, n_layer: tr.n_layer, n_head: tr.n_head, t: tr.tokens.length, att: floats(tr.attention) };
      heads = new Set([...Array(data.n_head).keys()]);
      focus = null;
      const layer = $("attention-layer");
      layer.replaceChildren(
        ...[...Array(data.n_layer).keys()].map((l) => {
          const o = document.createElement("option");
          o.value = l;
          o.textContent = `layer ${l}`;
          return o;
        }),
      );
      drawHeads();
      drawLines();
      drawModel();
    } catch (e) {
      $("attention-lines").replaceChildren(document.createTextNode(`Error: ${e.message}`));
    }
  }

  function drawHeads() {
    const box = $("attention-heads");
    box.replaceChildren(
      ...[...Array(data.n_head).keys()].map((h) => {
        const b = document.createElement("button");
        b.type = "button";
        b.className = "head";
        b.dataset.head = h;
        b.title = `head ${h}`;
        b.setAttribute("aria-pressed", String(heads.has(h)));
        b.style.background = heads.has(h) ? COLOURS[h % COLOURS.length] : "transparent";
        b.style.borderColor = COLOURS[h % COLOURS.length];
        b.addEventListener("click", () => {
          if (heads.has(h)) heads.delete(h);
          else heads.add(h);
          drawHeads();
          drawLines();
        });
        return b;
      }),
    );
  }

  function drawLines() {
    const l = Number($("attention-layer").value);
    const { t, tokens } = data;
    const rowH = 20;
    const width = 520;
    const svg = document.createElementNS(SVG, "svg");
    svg.setAttribute("width", width);
    svg.setAttribute("height", t * rowH + 10);
    svg.setAttribute("class", "lines");
    const label = (i, x, anchor, side) => {
      const text = document.createElementNS(SVG, "text");
      text.setAttribute("x", x);
      text.setAttribute("y", i * rowH + 15);
      text.setAttribute("text-anchor", anchor);
      text.setAttribute("class", `token ${side}`);
      text.dataset.index = i;
      text.textContent = tokens[i].text;
      if (side === "left") {
        text.addEventListener("mouseenter", () => show(svg, i));
        text.addEventListener("mouseleave", () => show(svg, null));
      }
      return text;
    };
    for (let i = 0; i < t; i++) svg.append(label(i, 150, "end", "left"), label(i, width - 150, "start", "right"));
    for (const h of heads) {
      for (let i = 0; i < t; i++) {
        for (let j = 0; j <= i; j++) {
          const w = weight(l, h, i, j);
          if (t > 64 && w < FAINT) continue;
          const line = document.createElementNS(SVG, "line");
          line.setAttribute("x1", 160);
          line.setAttribute("y1", i * rowH + 10);
          line.setAttribute("x2", width - 160);
          line.setAttribute("y2", j * rowH + 10);
          line.setAttribute("stroke", COLOURS[h % COLOURS.length]);
          line.setAttribute("stroke-opacity", w.toFixed(4));
          line.setAttribute("stroke-width", 2);
          line.dataset.head = h;
          line.dataset.from = i;
          line.dataset.to = j;
          line.dataset.weight = w;
          svg.append(line);
        }
      }
    }
    $("attention-lines").replaceChildren(svg);
    show(svg, focus);
  }

  // Only token `i`'s lines (all with null), and its label in bold; the drawing stays.
  function show(svg, i) {
    focus = i;
    for (const line of svg.querySelectorAll("line")) line.classList.toggle("hidden", i !== null && Number(line.dataset.from) !== i);
    for (const text of svg.querySelectorAll("text.left")) text.classList.toggle("focus", Number(text.dataset.index) === i);
  }

  // Every layer x head as a heat map, a pixel per (token, earlier token).
  function drawModel() {
    const { t, n_layer, n_head } = data;
    const grid = $("attention-model");
    grid.style.gridTemplateColumns = `repeat(${n_head}, auto)`;
    const cells = [];
    for (let l = 0; l < n_layer; l++) {
      for (let h = 0; h < n_head; h++) {
        const canvas = document.createElement("canvas");
        canvas.width = t;
        canvas.height = t;
        canvas.className = "map";
        canvas.title = `layer ${l}, head ${h}: click to show it alone`;
        canvas.dataset.layer = l;
        canvas.dataset.head = h;
        const ctx = canvas.getContext("2d");
        const img = ctx.createImageData(t, t);
        for (let i = 0; i < t; i++) {
          for (let j = 0; j < t; j++) {
            const v = Math.round(255 * (1 - Math.sqrt(weight(l, h, i, j))));
            const at = 4 * (i * t + j);
            img.data.set([v, v, 255, 255], at);
          }
        }
        ctx.putImageData(img, 0, 0);
        canvas.addEventListener("click", () => {
          $("attention-layer").value = l;
          heads = new Set([h]);
          drawHeads();
          drawLines();
        });
        cells.push(canvas);
      }
    }
    grid.replaceChildren(...cells);
  }

  $("attention-go").addEventListener("click", run);
  $("attention-layer").addEventListener("change", () => data && drawLines());
}
