"""Sweep the Triton linear-scan tile shapes on the current GPU (fwd and fwd+bwd).

    python benchmarks/tune_scan.py --out tune.json

Each config is checked against the default config's output before it is timed.
"""

import argparse
import json

import torch
import triton.testing

from worldssm.kernels import linear_scan
from worldssm.kernels.benchmark import copy_bandwidth
from worldssm.kernels.linear_scan import triton_scan

CONFIGS = [(8, 512, 4), (16, 512, 4), (8, 1024, 8), (16, 256, 2), (32, 256, 2), (32, 128, 1),
           (64, 128, 1), (64, 32, 1), (128, 32, 1), (256, 32, 1), (64, 64, 2), (128, 64, 2),
           (16, 128, 4), (128, 16, 4)]  # fmt: skip
SHAPES = [((8, 300, 65536), torch.float32), ((8, 300, 65536), torch.bfloat16),
          ((8, 300, 65536), torch.complex64), ((8, 1024, 1536), torch.float32),
          ((8, 16384, 1536), torch.float32), ((8, 65536, 1536), torch.float32)]  # fmt: skip


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--out", default=None)
    args = p.parse_args()
    bw = copy_bandwidth(torch.device("cuda"))
    rows = []
    for (bsz, t, n), dtype in SHAPES:
        b = torch.randn(bsz, t, n, device="cuda").to(dtype)
        for a_const in (False, True):
            a = torch.rand((1, 1, n) if a_const else (bsz, t, n), device="cuda") * 0.5 + 0.5
            a = a.to(dtype)
            triton_scan.CONFIG_OVERRIDE = None
            ref = linear_scan(a, b)
            el = b.element_size()
            for cfg in [None, *CONFIGS]:
                triton_scan.CONFIG_OVERRIDE = cfg
                try:
                    out = linear_scan(a, b)
                    err = ((out - ref).abs().max() / ref.abs().max()).item()
                    fwd = triton.testing.do_bench(lambda a=a, b=b: linear_scan(a, b),
                                                  return_mode="median")  # fmt: skip
                    a_, b_ = a.clone().requires_grad_(), b.clone().requires_grad_()

                    def fb(a_=a_, b_=b_):
                        a_.grad = b_.grad = None
                        linear_scan(a_, b_).backward(torch.ones_like(b_))

                    fwdbwd = triton.testing.do_bench(fb, return_mode="median")
                except Exception as e:  # noqa: BLE001 - a config that fails to compile is data
                    rows.append(
                        dict(shape=[bsz, t, n], dtype=str(dtype), cfg=cfg, error=str(e)[:100])
                    )
                    continue
                nf = b.numel() * el * (2 if a_const else 3)
                nb = nf + b.numel() * el * (3 if a_const else 5)
                row = dict(shape=[bsz, t, n], dtype=str(dtype), a_const=a_const, cfg=cfg,
                           err=err, fwd_ms=fwd, fwdbwd_ms=fwdbwd,
                           fwd_frac=nf / (fwd * 1e6) / bw,
                           fwdbwd_frac=nb / (fwdbwd * 1e6) / bw)  # fmt: skip
                rows.append(row)
                print(f"{str((bsz, t, n)):20} {str(dtype)[6:]:9} const={a_const:d} {str(cfg):16} "
                      f"err={err:.1e} fwd {fwd:7.3f} ms {100 * row['fwd_frac']:5.1f}%  "
                      f"fwd+bwd {fwdbwd:7.3f} ms {100 * row['fwdbwd_frac']:5.1f}%",
                      flush=True)  # fmt: skip
        torch.cuda.empty_cache()
    if args.out:
        with open(args.out, "w") as f:
            json.dump({"copy_GBps": bw, "card": torch.cuda.get_device_name(), "rows": rows}, f)


if __name__ == "__main__":
    main()
