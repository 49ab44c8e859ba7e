"""llama.cpp (through llama-cpp-python, from PyPI) runs a GGUF file from `minichat export gguf`:
it loads it, feeds the prompt ids given (no tokenizer involved), and prints, as JSON, the
next-token logits after the prompt and the greedy continuation of `n` tokens. Run by
crates/train/tests/gguf.rs, which compares them with minichat's own.

    python gguf_check.py FILE.gguf "1 2 3" N
"""
import json
import sys

from llama_cpp import Llama

path, ids, n = sys.argv[1], [int(t) for t in sys.argv[2].split()], int(sys.argv[3])
llm = Llama(model_path=path, n_ctx=len(ids) + n + 1, n_threads=2, n_batch=64, logits_all=True, verbose=False)
llm.eval(ids)
first = [float(x) for x in llm.scores[len(ids) - 1]]
greedy = []
for _ in range(n):
    row = llm.scores[llm.n_tokens - 1]
    token = int(max(range(len(row)), key=lambda i: row[i]))
    greedy.append(token)
    llm.eval([token])
meta = llm.metadata
print(json.dumps({"logits": first, "greedy": greedy, "architecture": meta.get("general.architecture"),
                  "n_vocab": llm.n_vocab(), "tokens": [llm.detokenize([t]).decode("utf-8", "replace") for t in ids]}))
