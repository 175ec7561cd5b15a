"""Compile the selective scan's training kernels for sm_90a with this machine's Triton and write
their TTGIR, PTX and SASS, with counts, for a diff of two variants (no GPU needed).

    python3 -P benchmarks/gpu/selective_codegen_dump.py OUT_DIR bf16 fwd,bwd 0,2

Args: output folder, dtype of the (B, D, L) and B/C tensors (bf16, fp16, fp32), kernels, forward
launches' FLIPS values (``triton_scan.FLIP_FORWARD_TILES`` masks). Tiles: today's (2, 32, 1),
N = 16, every option on as in the Mamba case.
"""

import json
import os
import re
import subprocess
import sys

import triton
from triton.backends.compiler import GPUTarget
from triton.compiler import ASTSource

from worldssm.kernels.selective_scan import triton_kernels

TENSORS_IN_DTYPE = {"U", "DELTA", "Bm", "Cm", "Z", "DOUT", "DU", "DDELTA", "DZ", "OUT"}
UNALIGNED = {"n_slots", "G", "n_dblocks", "d_per_group", "n_tiles", "d_first",
             "tiles_per_chunk", "n_chunks"}  # fmt: skip


def compile_kernel(dtype, which, flips):
    common = dict(HAS_D=True, HAS_Z=True, HAS_DBIAS=True, SOFTPLUS=True, REV=False,
                  FLIPS=flips, SHARED_U=False, BLOCK_D=2, BLOCK_L=32, BLOCK_N=16, sBl=1, sCl=1,
                  STAGES=1)  # fmt: skip
    if which == "fwd":
        kernel = triton_kernels._selective_fwd_kernel
        consts = dict(common, HAS_H0=False, STORE_CKPT=True, STORE_LAST=True, EARLY=True)
    else:
        kernel = triton_kernels._selective_bwd_kernel
        consts = dict(common, HAS_DLAST=False, EARLY=False)
    names = kernel.arg_names
    first_int = names.index("L")
    sig = {n: "*" + (dtype if n in TENSORS_IN_DTYPE else "fp32") for n in names[:first_int]}
    sig.update({n: "constexpr" if n in consts else "i32" for n in names[first_int:]})
    attrs = {(i,): [["tt.divisibility", 16]] for i, n in enumerate(names)
             if sig[n] != "constexpr" and n not in UNALIGNED}  # fmt: skip
    src = ASTSource(kernel, sig, consts, attrs=attrs)
    return triton.compile(src, target=GPUTarget("cuda", 90, 32), options={"num_warps": 1})


def main():
    out, dtype, whichs, flips_list = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
    os.makedirs(out, exist_ok=True)
    nvbin = os.path.join(os.path.dirname(triton.__file__), "backends/nvidia/bin")
    for which in whichs.split(","):
        for flips in (int(f) for f in flips_list.split(",")):
            k = compile_kernel(dtype, which, flips)
            tag = os.path.join(out, f"{which}-{dtype}-flips{flips}")
            for ext in ("ttgir", "ptx"):
                with open(f"{tag}.{ext}", "w") as f:
                    f.write(k.asm[ext])
            ptx = k.asm["ptx"]
            ptxas = [os.path.join(nvbin, "ptxas"), "-arch=sm_90a", "-v", f"{tag}.ptx", "-o",
                     f"{tag}.cubin"]  # fmt: skip
            info = subprocess.run(ptxas, capture_output=True, text=True).stderr
            sass = subprocess.run([os.path.join(nvbin, "cuobjdump"), "-sass", f"{tag}.cubin"],
                                  capture_output=True, text=True).stdout  # fmt: skip
            with open(f"{tag}.sass", "w") as f:
                f.write(sass)
            row = dict(kernel=which, dtype=dtype, flips=flips, triton=triton.__version__,
                       registers=re.findall(r"Used (\d+) registers", info),
                       spill_stores=re.findall(r"(\d+) bytes spill stores", info),
                       global_loads=len(re.findall(r"ld\.global", ptx)),
                       vector_loads=len(re.findall(r"ld\.global[^\n]*\.v\d", ptx)),
                       shuffles=len(re.findall(r"shfl", ptx)),
                       shared_loads=len(re.findall(r"ld\.shared", ptx)),
                       shared_stores=len(re.findall(r"st\.shared", ptx)),
                       barriers=len(re.findall(r"bar\.sync", ptx)),
                       sass_instructions=len(re.findall(r"^\s+/\*[0-9a-f]{4}\*/", sass, re.M)),
                       )  # fmt: skip
            print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
