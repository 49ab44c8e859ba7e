"""torch.optim.Muon on the hidden matrices minichat's bench prints (bench/muon_step.sh): the
median ms per update after warm-up, with its Newton-Schulz iterations in bf16 as shipped and
in f32 (torch's own function with the dtype changed, as ours run).

    python muon_step.py THREADS 'config tiny: ... shapes [[256, 256], ...]'
"""
import json
import re
import sys
import time
from pathlib import Path

import torch
import torch.optim._muon as muon_module

# torch's Newton-Schulz with float32 in place of bfloat16, as the parity fixture uses it.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))
from make_muon_fixture import zeropower_f32  # noqa: E402

shipped = muon_module._zeropower_via_newtonschulz


def median_ms(shapes, zeropower, warm, timed):
    muon_module._zeropower_via_newtonschulz = zeropower
    torch.manual_seed(1)
    params = [torch.nn.Parameter(torch.randn(r, c) * 0.02) for r, c in shapes]
    for p in params:
        p.grad = torch.randn_like(p)
    opt = torch.optim.Muon(params, lr=0.02, momentum=0.95, weight_decay=0.0)
    times = []
    for i in range(warm + timed):
        start = time.perf_counter()
        opt.step()
        if i >= warm:
            times.append((time.perf_counter() - start) * 1e3)
    muon_module._zeropower_via_newtonschulz = shipped
    return sorted(times)[len(times) // 2]


def main():
    torch.set_num_threads(int(sys.argv[1]))
    line = sys.argv[2]
    name = re.search(r"config (\S+):", line).group(1)
    shapes = json.loads(re.search(r"shapes (\[.*\])", line).group(1))
    warm, timed = (3, 20) if name == "tiny" else (1, 5)
    bf16 = median_ms(shapes, shipped, warm, timed)
    f32 = median_ms(shapes, zeropower_f32, warm, timed)
    print(f"config {name}: torch {torch.__version__} {bf16:.2f} ms/update (bf16 iterations, as shipped), "
          f"{f32:.2f} ms/update (f32 iterations)")


if __name__ == "__main__":
    main()
