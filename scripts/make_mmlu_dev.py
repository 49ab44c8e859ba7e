#!/usr/bin/env python3
"""data/exam/mmlu_dev.jsonl: the MMLU dev questions (Hendrycks et al. 2021, MIT licence) that
lm-evaluation-harness 0.4.13 (PyPI, MIT) ships as its chain-of-thought few-shot prompts, as
the exam's multiple-choice lines {"question", "choices", "answer", "subject"}.

    python3 scripts/make_mmlu_dev.py

Downloads the lm-eval wheel (pip download, no dependencies), reads
lm_eval/tasks/mmlu/flan_cot_fewshot/_cot_prompts.json (57 subjects, 5 questions each, every
one followed by a worked answer ending in "The answer is (X)."), keeps the questions whose
four choices and answer letter parse, and shuffles them (seeded), so that the exam's first N
questions span the subjects. BIG-bench's multiple-choice tasks were the first choice,
but PyPI's `bigbench` (0.0.1, the only version there) ships its code without the task files.
For evaluation only: these are benchmark questions, never training data.
"""
import json
import random
import re
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "data/exam/mmlu_dev.jsonl"
MEMBER = "lm_eval/tasks/mmlu/flan_cot_fewshot/_cot_prompts.json"
# json.loads turned LaTeX commands such as \frac, \times, \rightarrow, \beta into control
# characters in the shipped file; these put the backslash back.
LATEX = {"\f": "\\f", "\t": "\\t", "\r": "\\r", "\b": "\\b", "\x07": "\\a", "\x0b": "\\v"}
CHOICES = re.compile(r"\(A\) (.*?) \(B\) (.*?) \(C\) (.*?) \(D\) (.*)")
ANSWER = re.compile(r"The answer is \(([ABCD])\)")


def prompts():
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "lm-eval==0.4.13", "-d", tmp],
                       check=True)
        wheel = next(Path(tmp).glob("lm_eval-0.4.13-*.whl"))
        with zipfile.ZipFile(wheel) as z:
            return json.loads(z.read(MEMBER))


def questions(subject, prompt):
    """(question, choices, answer) for each block "Q: ...\n(A) .. (D) ..\nA: ... (X)."."""
    for block in prompt.split("\n\nQ: ")[1:]:
        block = "".join(LATEX.get(ch, ch) for ch in block)
        head, sep, worked = block.partition("\nA: ")
        lines = head.split("\n")
        m = CHOICES.fullmatch(lines[-1].strip())
        a = ANSWER.search(worked)
        if not sep or not m or not a or len(lines) < 2:
            continue
        # One block in the shipped file starts with the end of the previous worked answer
        # ("... has $n!$ elements, hence it is not true that ...\nFind the characteristic...").
        if any(" hence " in line for line in lines[:-2]):
            continue
        yield {"question": "\n".join(lines[:-1]).strip(), "choices": [c.strip() for c in m.groups()],
               "answer": "ABCD".index(a.group(1)), "subject": subject}


def main():
    rows = [q for subject, prompt in sorted(prompts().items()) for q in questions(subject, prompt)]
    random.Random(0).shuffle(rows)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    print(f"{OUT}: {len(rows)} questions from {len({r['subject'] for r in rows})} subjects")


if __name__ == "__main__":
    main()
