"""Which code did this machine's Triton make of worldssm's scan kernels? Runs a workload, then
lists every kernel it compiled: its specialisation (signature, constexprs, attributes), warps,
stages, registers, spills and SASS instruction count, one JSON line each, and packs the TTGIR
and PTX into a tarball. ``--recompile rows.jsonl`` compiles the same specialisations for sm_90a
with the Triton that runs it (no GPU needed), to compare two Tritons.

    python3 -P benchmarks/gpu/triton_codegen_census.py --out DIR --workload linear-btc
    python3 -P benchmarks/gpu/triton_codegen_census.py --out DIR --recompile DIR/census.jsonl

Workloads: ``linear-btc``: linear_scan fwd+bwd on (B, T, C) = (8, 65536, 1536) data, fp32 and
bf16, a time-varying and time-invariant (the benchmark's long section); ``selective``:
selective_scan fwd+bwd at (8, 1536, 2048, 16), fp32 and bf16.
"""

import argparse
import importlib
import io
import json
import os
import re
import subprocess
import tarfile
import tempfile

import triton
from triton.backends.compiler import GPUTarget
from triton.compiler import ASTSource
from triton.runtime.jit import JITFunction

MODULES = {
    "linear-btc": ["worldssm.kernels.linear_scan." + m for m in (
        "triton_kernels", "triton_tiles", "triton_lane_tiles", "triton_groups", "triton_chain",
        "triton_io", "triton_fwd_tiles", "triton_bwd_tiles")],
    "selective": ["worldssm.kernels.selective_scan.triton_kernels"],
}  # fmt: skip
NVBIN = os.path.join(os.path.dirname(triton.__file__), "backends/nvidia/bin")


def run_workload(name):
    import torch

    dev = "cuda"
    for dtype in (torch.float32, torch.bfloat16):
        if name == "linear-btc":
            from worldssm.kernels import linear_scan

            b = torch.randn(8, 65536, 1536, device=dev, dtype=dtype, requires_grad=True)
            for shape in ((8, 65536, 1536), (1, 1, 1536)):
                a = (torch.rand(shape, device=dev) * 0.5 + 0.5).to(dtype).requires_grad_()
                linear_scan(a, b).backward(torch.randn_like(b))
        else:
            from worldssm.kernels import selective_scan

            g = dict(device=dev, dtype=dtype)
            u, delta, z = (torch.randn(8, 1536, 2048, **g).requires_grad_() for _ in range(3))
            bm, cm = (torch.randn(8, 16, 2048, **g).requires_grad_() for _ in range(2))
            a = -torch.rand(1536, 16, device=dev) - 0.5
            ones, zeros = torch.ones(1536, device=dev), torch.zeros(1536, device=dev)
            y = selective_scan(u, delta, a, bm, cm, D=ones, z=z, delta_bias=zeros,
                               delta_softplus=True)  # fmt: skip
            y.backward(torch.randn_like(y))
    torch.cuda.synchronize()


def _jit_function(obj):
    """The JITFunction ``obj`` is or wraps (autotuned kernels), else None."""
    fn = obj if isinstance(obj, JITFunction) else getattr(obj, "fn", None)
    return fn if isinstance(fn, JITFunction) else None


def jit_functions(modules):
    for mod_name in modules:
        mod = importlib.import_module(mod_name)
        for attr, obj in vars(mod).items():
            fn = _jit_function(obj)
            if fn is not None and fn.__module__ == mod_name:
                yield mod_name, attr, fn


def sass_stats(cubin: bytes):
    with tempfile.NamedTemporaryFile(suffix=".cubin", delete=False) as f:
        f.write(cubin)
    sass = subprocess.run([os.path.join(NVBIN, "cuobjdump"), "-sass", f.name],
                          capture_output=True, text=True).stdout  # fmt: skip
    os.unlink(f.name)
    return len(re.findall(r"^\s+/\*[0-9a-f]{4}\*/", sass, re.M))


def ptxas_stats(ptx: str):
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "k.ptx")
        with open(path, "w") as f:
            f.write(ptx)
        cmd = [os.path.join(NVBIN, "ptxas"), "-arch=sm_90a", "-v", path, "-o", path + ".cubin"]
        info = subprocess.run(cmd, capture_output=True, text=True).stderr
        regs = re.findall(r"Used (\d+) registers", info)
        spills = re.findall(r"(\d+) bytes spill stores", info)
        with open(path + ".cubin", "rb") as f:
            cubin = f.read()
    return dict(registers=int(regs[0]) if regs else None,
                spill_stores=int(spills[0]) if spills else None,
                sass_instructions=sass_stats(cubin))  # fmt: skip


def census(workload, out):
    run_workload(workload)
    rows, tar_buf = [], io.BytesIO()
    with tarfile.open(fileobj=tar_buf, mode="w:gz") as tar:
        for mod_name, attr, fn in jit_functions(MODULES[workload]):
            for caches in fn.device_caches.values():
                kernels = caches[0] if isinstance(caches, tuple) else caches
                for kernel in kernels.values():
                    src, md = kernel.src, kernel.metadata
                    names = fn.arg_names
                    row = dict(
                        module=mod_name, kernel=attr, triton=triton.__version__,
                        signature={k: str(v) for k, v in src.signature.items()},
                        constexprs={names[k[0]]: getattr(v, "value", v)
                                    for k, v in src.constants.items() if len(k) == 1},
                        attrs={names[k[0]]: v for k, v in src.attrs.items() if len(k) == 1},
                        num_warps=md.num_warps, num_stages=md.num_stages,
                        ptx_lines=kernel.asm["ptx"].count("\n"),
                        **ptxas_stats(kernel.asm["ptx"]),
                    )  # fmt: skip
                    row["id"] = f"{attr}-{len(rows)}"
                    rows.append(row)
                    for ext in ("ttgir", "ptx"):
                        data = kernel.asm[ext].encode()
                        info = tarfile.TarInfo(f"{row['id']}.{ext}")
                        info.size = len(data)
                        tar.addfile(info, io.BytesIO(data))
    with open(os.path.join(out, "census.tar.gz"), "wb") as f:
        f.write(tar_buf.getvalue())
    return rows


def recompile(path):
    rows = []
    for line in open(path):
        ref = json.loads(line)
        fn = _jit_function(getattr(importlib.import_module(ref["module"]), ref["kernel"]))
        names = fn.arg_names
        attrs = {(names.index(k),): v for k, v in ref["attrs"].items()}
        src = ASTSource(fn, ref["signature"], ref["constexprs"], attrs=attrs)
        try:
            k = triton.compile(src, target=GPUTarget("cuda", 90, 32),
                               options=dict(num_warps=ref["num_warps"],
                                            num_stages=ref["num_stages"]))  # fmt: skip
            row = dict(id=ref["id"], kernel=ref["kernel"], triton=triton.__version__,
                       ptx_lines=k.asm["ptx"].count("\n"), **ptxas_stats(k.asm["ptx"]))  # fmt: skip
        except Exception as e:  # noqa: BLE001 (report and go on)
            row = dict(id=ref["id"], kernel=ref["kernel"], error=repr(e)[:300])
        rows.append(row)
    return rows


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--out", required=True)
    p.add_argument("--workload", choices=sorted(MODULES))
    p.add_argument("--recompile")
    args = p.parse_args()
    os.makedirs(args.out, exist_ok=True)
    rows = recompile(args.recompile) if args.recompile else census(args.workload, args.out)
    name = "recompiled.jsonl" if args.recompile else "census.jsonl"
    with open(os.path.join(args.out, name), "w") as f:
        for row in rows:
            f.write(json.dumps(row, default=str) + "\n")
            print(json.dumps({k: v for k, v in row.items() if k not in ("signature", "attrs")},
                             default=str), flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
