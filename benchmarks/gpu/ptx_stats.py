"""Compile the Triton linear-scan kernels for sm_90a (no GPU needed) and print what ptxas says.

For each spec ``fwd|bwd,fp32|bf16,a_const(0/1),BLOCK_T,BLOCK_N,warps,prefetch(0/1)[,t]``
(``t``: the T-major layout, ``l``: lane_cols, ``r``: rev_scan, ``s``: shift_rows, ``g``:
the register-groups backward (triton_groups.py), digits: the tile loop's pipeline stages
(``scan_config(stages=...)``), ``c``: the chunked variant, whose digits are the look-back
window (``scan_config(lookback=...)``, 0: the strict chain); e.g. ``,tr``, ``,l4`` or
``,lc4``): the shuffles, barriers, global loads and stores (and the vectorised ones) in the
PTX, the registers and spill bytes from ``ptxas -v`` (the ptxas that ships with triton), and
the blocked layouts of the TTGIR. Run it where
the kernels will run: the GPU box has another Triton version.

Usage: ``python3 -P benchmarks/gpu/ptx_stats.py bwd,bf16,1,2,256,1,1 fwd,fp32,0,16,256,2,0``
"""

import hashlib
import os
import re
import subprocess
import sys
import tempfile

import triton
from triton.backends.compiler import GPUTarget
from triton.compiler import ASTSource

from worldssm.kernels.linear_scan import triton_scan as ts

PTX = os.environ.get("PTX_OUT") or os.path.join(tempfile.mkdtemp(), "k.ptx")  # kept if set
BIN = os.path.join(os.path.dirname(triton.__file__), "backends/nvidia/bin")


def _code_md5(ptx: str) -> str:
    """Hash of the PTX instructions alone (no line info or debug sections): equal when two
    builds differ only in source positions."""
    code = ptx.split("\n\t.section\t.debug")[0]
    keep = [ln for ln in code.splitlines() if not ln.lstrip().startswith((".loc", ".file", "$L__"))]
    return hashlib.md5("\n".join(keep).encode()).hexdigest()[:8]


def compile_one(kernel, fwd, dtype, a_const, BT, BN, W, prefetch, t_major=False):
    ptr = f"*{dtype}"
    # Pointers come before T; T, N and the strides are ints; the rest are constexpr flags.
    names = list(kernel.arg_names[: kernel.arg_names.index("stride_at") + 1])
    sig = {n: ptr for n in names[: names.index("T")]}
    sig.update(RESET="*u8", COUNTER="*i64", STATE="*i64")
    if not fwd and a_const:
        sig["DA"] = "*fp32"  # per-program partial sums
    consts = dict(
        HAS_H0=True,
        HAS_RESET=False,
        REVERSE=False,
        A_CONST=a_const,
        COMPLEX=False,
        PACKED=False,
        CHUNKED=CHUNK,
        MAX_POLLS=1 << 24,
        BLOCK_T=BT,
        BLOCK_N=BN,
        PREFETCH=prefetch,
    )
    consts["STRIDED"] = t_major
    if STAGES > 1:
        consts["STAGES"] = STAGES
    if "LOOKBACK" in kernel.arg_names:  # ASTSource does not fill in constexpr defaults
        consts.update(LOOKBACK=LOOK, INC_EVERY=1)
    if "CHUNK_TILES" in kernel.arg_names:
        consts["CHUNK_TILES"] = CHUNK_TILES
    if LANE and STAGES > 1 and not t_major:  # as the launch does when T x N fits in int32
        consts["OFF32"] = True
    consts["LANE_COLS"] = max(2, BN // (32 * W)) if LANE else 0
    if not fwd:
        consts["HAS_GHT"] = True
        consts["UP"] = t_major and not REV
        consts["REV"] = REV
        consts["SHIFT"] = SHIFT
    # Strides as the launch passes them: 1 is specialised to a constant by Triton, so the
    # contiguous axis (columns, or T when t_major) is a constexpr here too.
    strides = ["stride_ab", "stride_at", "stride_an", "stride_xb", "stride_xt", "stride_xn"]
    names = names[: names.index("T")] + ["T", "N", *strides]
    for n in ["T", "N", *strides]:
        sig[n] = "i32"
    ones = {"stride_xt"} if t_major else {"stride_xn", "stride_an"}
    if t_major and a_const:
        ones.add("stride_an")
    if t_major and not a_const:
        ones.add("stride_at")
    consts.update(dict.fromkeys(ones, 1))
    if a_const:
        consts["stride_at"] = 0
    sig.update(dict.fromkeys(consts, "constexpr"))
    idx = {n: i for i, n in enumerate(kernel.arg_names)}
    aligned = [n for n in names if sig[n] != "constexpr"]  # as for T, N = 16k, 64k
    attrs = {(idx[n],): [["tt.divisibility", 16]] for n in aligned}
    src = ASTSource(kernel, sig, consts, attrs=attrs)
    k = triton.compile(src, target=GPUTarget("cuda", 90, 32), options={"num_warps": W})
    ptx = k.asm["ptx"]
    ttgir = k.asm["ttgir"]
    lay = sorted(set(re.findall(r"#blocked\d* = #ttg.blocked<\{[^}]*\}>", ttgir)))
    open(PTX, "w").write(ptx)
    out = subprocess.run(
        [f"{BIN}/ptxas", "-arch=sm_90a", "-v", PTX, "-o", PTX + ".cubin"],
        capture_output=True,
        text=True,
    ).stderr
    regs = re.findall(r"Used (\d+) registers", out)
    spill = re.findall(r"(\d+) bytes spill stores", out)
    facts = dict(
        shfl=ptx.count("shfl.sync"),
        bar=ptx.count("bar.sync"),
        ldg=len(re.findall(r"ld\.global", ptx)),
        cp_async=ptx.count("cp.async.cg") + ptx.count("cp.async.ca"),
        ldv=len(re.findall(r"ld\.global[^\n]*\.v\d", ptx)),
        stg=len(re.findall(r"st\.global", ptx)),
        stv=len(re.findall(r"st\.global[^\n]*\.v\d", ptx)),
        regs=regs,
        md5=_code_md5(ptx),
        spill=spill,
    )
    print(
        ("fwd" if fwd else "bwd"),
        dtype,
        "const" if a_const else "tv",
        (BT, BN, W),
        "pf" if prefetch else "",
        "t-major" if t_major else "",
        f"stages {STAGES}" if STAGES > 1 else "",
        ("chunked" + (f" look-back {LOOK}" if LOOK else "")) if CHUNK else "",
        facts,
    )
    for l in lay:
        print("   ", l[:160])


for args in sys.argv[1:]:
    f, dt, ac, BT, BN, W, pf, *tm = args.split(",")
    tm = "".join(tm)
    kern = ts._scan_fwd_kernel if f == "fwd" else ts._scan_bwd_kernel
    if "g" in tm:
        kern = ts._scan_bwd_groups_kernel
    t_major = "t" in tm
    LANE = "l" in tm
    REV = "r" in tm
    SHIFT = "s" in tm
    digits = int("".join(ch for ch in tm if ch.isdigit()) or 0)
    CHUNK = "c" in tm
    STAGES = 1 if CHUNK else max(digits, 1)
    LOOK = digits if CHUNK else 0
    CHUNK_TILES = int(os.environ.get("CHUNK_TILES", "1"))  # scan_config(chunk_tiles=...)
    compile_one(kern, f == "fwd", dt, ac == "1", int(BT), int(BN), int(W), pf == "1", t_major)
