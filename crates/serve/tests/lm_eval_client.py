"""lm-evaluation-harness (PyPI `lm-eval`) scores a multiple-choice file through the server's
/v1/completions, as its users run it: the `local-completions` model, the server's own
tokenizer found through /tokenizer_info and /tokenize, token-id prompts with echo and
logprobs, several requests at once. Prints one JSON line: acc_norm and each question's.

usage: lm_eval_client.py BASE_URL MODEL QUESTIONS.jsonl WORK_DIR
"""

import json
import os
import sys

base, model, questions, work = sys.argv[1:5]
# Everything offline and inside WORK_DIR: the `json` loader of `datasets` reads the file.
os.environ.update(HF_HOME=os.path.join(work, "hf"), HF_DATASETS_OFFLINE="1", HF_HUB_OFFLINE="1")

from lm_eval import simple_evaluate  # noqa: E402
from lm_eval.tasks import TaskManager  # noqa: E402

# The exam's format (crates/chat/src/exam): "Question: ...\nAnswer:" then " " and a choice.
task = {
    "task": "minichat_mc",
    "dataset_path": "json",
    "dataset_kwargs": {"data_files": {"test": os.path.abspath(questions)}},
    "test_split": "test",
    "output_type": "multiple_choice",
    "doc_to_text": "Question: {{question}}\nAnswer:",
    "doc_to_choice": "choices",
    "doc_to_target": "answer",
    "metric_list": [{"metric": "acc"}, {"metric": "acc_norm"}],
}
tasks_dir = os.path.join(work, "tasks")
os.makedirs(tasks_dir, exist_ok=True)
with open(os.path.join(tasks_dir, "minichat_mc.yaml"), "w") as f:
    json.dump(task, f)  # JSON is YAML

out = simple_evaluate(
    model="local-completions",
    model_args=f"model={model},base_url={base}/v1/completions,num_concurrent=4,max_retries=1,max_length=256",
    tasks=["minichat_mc"],
    task_manager=TaskManager(include_path=tasks_dir),
    log_samples=True,
)
result = out["results"]["minichat_mc"]
samples = sorted(out["samples"]["minichat_mc"], key=lambda s: s["doc_id"])
print(json.dumps({
    "acc_norm": result["acc_norm,none"],
    "per_question": [s["acc_norm"] for s in samples],
    "loglikelihoods": [[r[0][0] for r in s["resps"]] for s in samples],
}))
