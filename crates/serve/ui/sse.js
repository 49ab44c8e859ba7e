// Server-sent events read from a fetch response's body, as the WHATWG spec parses them: a
// line split between two network reads is kept until its end arrives, and UTF-8 is decoded
// in streaming mode, so a character split between two reads is not broken (nanochat's page
// loses both). Yields each event's data (its `data:` lines joined); comments (the server's
// `: ping` keep-alives) are skipped.
export async function* events(body) {
  const reader = body.getReader();
  const decoder = new TextDecoder("utf-8");
  let buffer = "";
  let data = [];
  for (;;) {
    const { value, done } = await reader.read();
    buffer += done ? decoder.decode() : decoder.decode(value, { stream: true });
    let end;
    while ((end = buffer.search(/\r\n|\n|\r/)) >= 0) {
      const line = buffer.slice(0, end);
      // A lone \r at the very end may be the first half of \r\n: wait for the next read.
      if (buffer[end] === "\r" && end === buffer.length - 1 && !done) break;
      buffer = buffer.slice(end + (buffer.startsWith("\r\n", end) ? 2 : 1));
      if (line === "") {
        if (data.length) yield data.join("\n");
        data = [];
      } else if (line.startsWith("data:")) {
        data.push(line.slice(line.startsWith("data: ") ? 6 : 5));
      }
      // Comments (":") and the fields this API does not send (event, id, retry) are skipped.
    }
    if (done) {
      if (data.length) yield data.join("\n");
      return;
    }
  }
}
