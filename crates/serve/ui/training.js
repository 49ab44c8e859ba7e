// The Training view: the served run's metrics log (GET /v1/training, the run's metrics.jsonl
// as training writes it): the training loss by step with the validation loss as dots, the
// learning rate, throughput, and the latest samples the run wrote. It asks again every few
// seconds while shown, so a run that is still training is followed live.

const $ = (id) => document.getElementById(id);
const SVG = "http://www.w3.org/2000/svg";
const EVERY_MS = 3000;

export function setupTraining({ headers }) {
  let timer = null;

  async function refresh() {
    const out = $("training-out");
    try {
      const r = await fetch("/v1/training", { headers: headers(), cache: "no-store" });
      const v = await r.json();
      if (!r.ok) throw new Error(v.error?.message ?? `${r.status}`);
      draw(v.records);
    } catch (e) {
      out.textContent = `No metrics: ${e.message}`;
    }
  }

  function draw(records) {
    const steps = records.filter((r) => r.loss !== undefined);
    const evals = records.filter((r) => r.val_loss !== undefined);
    const samples = records.filter((r) => r.prompt !== undefined);
    const last = steps.at(-1);
    const summary = document.createElement("p");
    summary.id = "training-summary";
    summary.textContent = last
      ? `step ${last.step}: loss ${last.loss.toFixed(4)}` +
        (evals.length ? `, validation ${evals.at(-1).val_loss.toFixed(4)} (${evals.at(-1).val_bpb.toFixed(3)} bits per byte)` : "") +
        `, ${Math.round(last.tokens_per_s)} tokens/s, ${(last.tokens / 1e6).toFixed(2)}M tokens in ${last.seconds.toFixed(0)} s`
      : "no training steps yet";
    const loss = chart("training-loss", "loss", steps.map((r) => [r.step, r.loss]), evals.map((r) => [r.step, r.val_loss]));
    const lr = chart("training-lr", "learning rate", steps.map((r) => [r.step, r.lr]), []);
    const list = document.createElement("div");
    list.id = "training-samples";
    for (const s of samples.slice(-3).reverse()) {
      const item = document.createElement("div");
      item.className = "sample";
      item.textContent = `step ${s.step} · ${s.prompt}\n  greedy: ${s.greedy}\n  sampled: ${s.sampled}`;
      list.append(item);
    }
    $("training-out").replaceChildren(summary, loss, lr, list);
  }

  // A line of (x, y) points and dots of others, scaled to the box, with the ranges written.
  function chart(id, name, line, dots) {
    const [w, h, pad] = [640, 200, 36];
    const all = [...line, ...dots];
    const svg = document.createElementNS(SVG, "svg");
    svg.id = id;
    svg.setAttribute("class", "chart");
    svg.setAttribute("width", w);
    svg.setAttribute("height", h);
    svg.setAttribute("role", "img");
    svg.setAttribute("aria-label", name);
    const text = (x, y, s, anchor = "start") => {
      const t = document.createElementNS(SVG, "text");
      t.setAttribute("x", x);
      t.setAttribute("y", y);
      t.setAttribute("text-anchor", anchor);
      t.textContent = s;
      svg.append(t);
    };
    text(pad, 14, name);
    if (!all.length) return svg;
    const xs = all.map((p) => p[0]);
    const ys = all.map((p) => p[1]);
    const [x0, x1, y0, y1] = [Math.min(...xs), Math.max(...xs), Math.min(...ys), Math.max(...ys)];
    const sx = (x) => pad + ((x - x0) / (x1 - x0 || 1)) * (w - 2 * pad);
    const sy = (y) => h - pad + 10 - ((y - y0) / (y1 - y0 || 1)) * (h - 2 * pad);
    const poly = document.createElementNS(SVG, "polyline");
    poly.setAttribute("points", line.map(([x, y]) => `${sx(x).toFixed(1)},${sy(y).toFixed(1)}`).join(" "));
    poly.dataset.points = line.length;
    svg.append(poly);
    for (const [x, y] of dots) {
      const c = document.createElementNS(SVG, "circle");
      c.setAttribute("cx", sx(x));
      c.setAttribute("cy", sy(y));
      c.setAttribute("r", 3.5);
      c.setAttribute("class", "dot");
      svg.append(c);
    }
    const fmt = (v) => (Math.abs(v) < 0.01 && v !== 0 ? v.toExponential(1) : v.toFixed(3));
    text(4, sy(y1) + 4, fmt(y1));
    text(4, sy(y0) + 4, fmt(y0));
    text(pad, h - 4, `step ${x0}`);
    text(w - pad, h - 4, `step ${x1}`, "end");
    return svg;
  }

  // Follows the log while the view is shown.
  return {
    shown(on) {
      clearInterval(timer);
      timer = null;
      if (on) {
        refresh();
        timer = setInterval(refresh, EVERY_MS);
      }
    },
  };
}
