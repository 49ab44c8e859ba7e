// Markdown as DOM nodes, never as HTML: every piece of text goes in through `textContent`,
// so nothing a model or a user writes can become markup or run (no string is parsed as HTML).
// The subset a chat reply uses: fenced code blocks, headings, bullet and numbered lists,
// paragraphs, and inline `code`, **bold** and *italic*. Links stay text.

export function render(parent, text) {
  const doc = parent.ownerDocument;
  const el = (tag, cls) => {
    const e = doc.createElement(tag);
    if (cls) e.className = cls;
    return e;
  };
  const lines = text.split("\n");
  let i = 0;
  while (i < lines.length) {
    const line = lines[i];
    const fence = line.match(/^\s*```\s*([\w+-]*)/);
    if (fence) {
      const body = [];
      for (i++; i < lines.length && !/^\s*```\s*$/.test(lines[i]); i++) body.push(lines[i]);
      i++;
      const pre = el("pre");
      const code = el("code");
      if (fence[1]) code.dataset.lang = fence[1];
      code.textContent = body.join("\n");
      pre.append(code);
      parent.append(pre);
      continue;
    }
    const heading = line.match(/^(#{1,6})\s+(.*)$/);
    if (heading) {
      const h = el(`h${Math.min(6, heading[1].length + 2)}`);
      inline(h, heading[2]);
      parent.append(h);
      i++;
      continue;
    }
    const item = /^\s*([-*+]|\d+[.)])\s+(.*)$/;
    if (item.test(line)) {
      const ordered = /^\s*\d/.test(line);
      const list = el(ordered ? "ol" : "ul");
      for (; i < lines.length && item.test(lines[i]); i++) {
        const li = el("li");
        inline(li, lines[i].match(item)[2]);
        list.append(li);
      }
      parent.append(list);
      continue;
    }
    if (line.trim() === "") {
      i++;
      continue;
    }
    const para = [];
    for (; i < lines.length && lines[i].trim() !== "" && !fenceOrBlock(lines[i]); i++) para.push(lines[i]);
    const p = el("p");
    inline(p, para.join("\n"));
    parent.append(p);
  }
}

function fenceOrBlock(line) {
  return /^\s*```/.test(line) || /^#{1,6}\s/.test(line) || /^\s*([-*+]|\d+[.)])\s+/.test(line);
}

// Inline code, bold and italic; the rest as text nodes.
function inline(parent, text) {
  const doc = parent.ownerDocument;
  const parts = text.split(/(`[^`\n]+`|\*\*[^*\n]+\*\*|\*[^*\s][^*\n]*\*)/);
  for (const part of parts) {
    if (!part) continue;
    let tag = null;
    let inner = part;
    if (part.length > 2 && part.startsWith("`") && part.endsWith("`")) [tag, inner] = ["code", part.slice(1, -1)];
    else if (part.length > 4 && part.startsWith("**") && part.endsWith("**")) [tag, inner] = ["strong", part.slice(2, -2)];
    else if (part.length > 2 && part.startsWith("*") && part.endsWith("*")) [tag, inner] = ["em", part.slice(1, -1)];
    if (tag) {
      const e = doc.createElement(tag);
      e.textContent = inner;
      parent.append(e);
    } else {
      parent.append(doc.createTextNode(part));
    }
  }
}
