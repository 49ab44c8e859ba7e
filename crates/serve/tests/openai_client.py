"""The official `openai` Python client against `minichat serve` (run by tests/openai.rs, which
starts the server and passes its base URL and API key). Each check is a plain assert; the
script prints how many passed and exits non-zero at the first that fails."""

import sys

import openai
from openai import OpenAI

base_url, key = sys.argv[1], sys.argv[2]
client = OpenAI(base_url=base_url, api_key=key, max_retries=0)
question = [{"role": "user", "content": "What is 12*7?"}]
checks = 0


def check(cond, what):
    global checks
    assert cond, what
    checks += 1


def ask(**kw):
    args = dict(model="tiny", messages=question, max_tokens=24)
    args.update(kw)
    return client.chat.completions.create(**args)


models = client.models.list()
check([m.id for m in models.data] == ["tiny"], f"models: {models}")
check(client.models.retrieve("tiny").id == "tiny", "retrieve")

whole = ask(temperature=0)
text = whole.choices[0].message.content
check(whole.object == "chat.completion" and whole.choices[0].message.role == "assistant", "shape")
check(whole.choices[0].finish_reason in ("stop", "length"), whole.choices[0].finish_reason)
check(whole.usage.total_tokens == whole.usage.prompt_tokens + whole.usage.completion_tokens, "usage")

# Streamed: the same text at temperature 0, and usage last when asked.
parts, usage, ids = [], None, set()
for chunk in ask(temperature=0, stream=True, stream_options={"include_usage": True}):
    ids.add(chunk.id)
    if chunk.usage is not None:
        usage = chunk.usage
        check(chunk.choices == [], "the usage chunk has no choices")
    for c in chunk.choices:
        if c.delta.content:
            parts.append(c.delta.content)
check("".join(parts) == text, f"stream {''.join(parts)!r} vs {text!r}")
check(len(ids) == 1, "one id for every chunk")
check(usage is not None and usage.completion_tokens == whole.usage.completion_tokens, f"usage {usage}")

# n, seeds.
two = ask(n=2, seed=5, temperature=1.0)
check(len(two.choices) == 2 and two.choices[0].message.content != two.choices[1].message.content, "n=2")
a = ask(seed=11, temperature=1.0).choices[0].message.content
b = ask(seed=11, temperature=1.0).choices[0].message.content
check(a == b, "the same seed, the same text")

# stop: the text ends before the stop string, which is left out.
if len(text) > 8:
    stop = text[4:6]
    cut = ask(temperature=0, stop=[stop]).choices[0].message.content
    check(cut == text[: text.index(stop)], f"stop {stop!r}: {cut!r} of {text!r}")

# logprobs: the tokens concatenate to the content.
lp = ask(temperature=0, logprobs=True, top_logprobs=2)
entries = lp.choices[0].logprobs.content
check("".join(e.token for e in entries) == lp.choices[0].message.content, "logprob tokens")
check(all(e.logprob <= 0 and len(e.top_logprobs) == 2 and e.bytes is not None for e in entries), "logprob entries")

# llama.cpp's sampler extensions and unknown fields go in extra_body and are accepted.
ok = ask(extra_body={"top_k": 5, "min_p": 0.05, "repeat_penalty": 1.1, "not_a_field": True})
check(ok.choices[0].message.content is not None, "extra fields")
ask(max_completion_tokens=3, frequency_penalty=0.5, presence_penalty=0.5, user="u", logit_bias={"5": -100})
checks += 1

# Text completions with echo and logprobs.
comp = client.completions.create(model="tiny", prompt="The quick", max_tokens=5, temperature=0, logprobs=1, echo=True)
check(comp.choices[0].text.startswith("The quick"), comp.choices[0].text)
check(len(comp.choices[0].logprobs.tokens) == len(comp.choices[0].logprobs.token_logprobs), "legacy logprobs")
streamed = "".join(c.choices[0].text for c in client.completions.create(model="tiny", prompt="The quick", max_tokens=5, temperature=0, stream=True) if c.choices)
plain = client.completions.create(model="tiny", prompt="The quick", max_tokens=5, temperature=0).choices[0].text
check(streamed == plain, f"completion stream {streamed!r} vs {plain!r}")

# Errors map to the client's exception classes.
def raises(cls, **kw):
    try:
        ask(**kw)
    except cls as e:
        return e
    raise AssertionError(f"{kw}: no {cls.__name__}")

check(raises(openai.NotFoundError, model="gpt-4").status_code == 404, "unknown model")
bad = raises(openai.BadRequestError, temperature=5)
check(bad.body["param"] == "temperature", f"{bad.body}")
long = raises(openai.BadRequestError, messages=[{"role": "user", "content": "word " * 400}])
check(long.body["type"] == "exceed_context_size_error" and long.body["n_ctx"] == 256, f"{long.body}")
try:
    OpenAI(base_url=base_url, api_key="wrong", max_retries=0).models.list()
    raise AssertionError("a wrong key was accepted")
except openai.AuthenticationError as e:
    check(e.status_code == 401, "wrong key")

print(f"openai {openai.__version__}: {checks} checks passed")
