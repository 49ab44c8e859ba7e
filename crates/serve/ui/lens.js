// The Layers view: the logit lens (nostalgebraist 2020) on the served model. Each layer's
// output (row 0: the embeddings) goes through the final norm and the LM head, as if the model
// stopped there: each cell shows that layer's most likely next token at that position,
// shaded by its probability, and is marked when it is the token that actually follows;
// hovering gives the top tokens, the rank of the actual next token and the residual stream's
// norm. The last row is the model's own prediction.

const $ = (id) => document.getElementById(id);

export function setupLens({ traceOf }) {
  async function run() {
    const out = $("lens-out");
    try {
      const tr = await traceOf({ text: $("lens-text").value, top: 5 });
      out.replaceChildren(table(tr));
    } catch (e) {
      out.textContent = `Error: ${e.message}`;
    }
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
    head.append(el("th", "position →"), ...tr.tokens.map((x) => el("th", x.text)));
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
