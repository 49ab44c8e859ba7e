// The Layers view: the logit lens (nostalgebraist 2020) on the served model. Each layer's
// output (row 0: the embeddings) goes through the final norm and the LM head, as if the model
// stopped there: each cell shows that layer's most likely next token at that position,
// shaded by its probability, and is marked when it is the token that actually follows;
// hovering gives the top tokens, the rank of the actual next token and the residual stream's
// norm. The last row is the model's own prediction. Below it, the architecture with one
// token followed through it (diagram.js): click a token in the table's head to follow it.

import { diagram } from "./diagram.js";

const $ = (id) => document.getElementById(id);

export function setupLens({ traceOf }) {
  let shown = null;

  async function run() {
    const out = $("lens-out");
    try {
      shown = await traceOf({ text: $("lens-text").value, top: 5 });
      out.replaceChildren(table(shown));
      follow(shown.tokens.length - 1);
    } catch (e) {
      out.textContent = `Error: ${e.message}`;
      $("lens-follow").replaceChildren();
    }
  }

  // Draws the diagram for position i and marks its column.
  function follow(i) {
    for (const th of $("lens-out").querySelectorAll("th[data-position]")) {
      th.classList.toggle("followed", Number(th.dataset.position) === i);
    }
    $("lens-follow").replaceChildren(diagram(shown, i));
  }

  function table(tr) {
    const t = tr.tokens.length;
    const el = (tag, text, cls) => {
      const e = document.createElement(tag);
      if (text !== undefined) e.textContent = text;
      if (cls) e.className = cls;
      return e;
    };
    const grid = el("table", undefined, "lens");
    const head = el("tr");
    head.append(
      el("th", "position →"),
      ...tr.tokens.map((x, i) => {
        const th = el("th", x.text, "pick");
        th.dataset.position = i;
        th.title = `position ${i}: click to follow it through the layers below`;
        th.addEventListener("click", () => follow(i));
        return th;
      }),
    );
    const follows = el("tr", undefined, "follows");
    follows.append(el("th", "next token"), ...tr.tokens.map((_, i) => el("td", i + 1 < t ? tr.tokens[i + 1].text : "?")));
    grid.append(head, follows);
    // The last layer first: the model's answer on top, the embeddings at the bottom.
    for (let l = tr.n_layer; l >= 0; l--) {
      const row = el("tr");
      row.dataset.layer = l;
      row.append(el("th", l === 0 ? "embeddings" : `layer ${l}`));
      for (let i = 0; i < t; i++) {
        const top = tr.lens[l][i];
        const [id, p, text] = top[0] ?? [null, 0, ""];
        const rank = tr.next_rank[l][i];
        const cell = el("td", text, rank === 0 ? "hit" : undefined);
        cell.dataset.id = id;
        cell.dataset.p = p;
        cell.style.backgroundColor = `rgba(47, 95, 208, ${(0.08 + 0.6 * p).toFixed(3)})`;
        const alternatives = top.map(([, q, s]) => `${JSON.stringify(s)} ${(100 * q).toFixed(1)}%`).join(", ");
        const next = rank === null ? "" : `; the next token is ranked ${rank + 1}`;
        cell.title = `${alternatives}${next}; norm ${tr.norms[l][i].toFixed(1)}`;
        row.append(cell);
      }
      grid.append(row);
    }
    return grid;
  }

  $("lens-go").addEventListener("click", run);
}
