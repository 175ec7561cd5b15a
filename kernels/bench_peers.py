"""Peers timed by :mod:`worldssm.kernels.benchmark`, each in its native layout at equal work.

accelerated-scan (Triton and CUDA kernels, (B, C, T) layout), torch's ``associative_scan`` under
``torch.compile``, a sequential PyTorch loop, jax ``lax.associative_scan`` (run in a subprocess)
and a selective scan with every (B, D, L, N) intermediate materialised.
"""

from __future__ import annotations

import torch

from worldssm.kernels.linear_scan import linear_scan
from worldssm.kernels.linear_scan.torch_scan import sequential_scan


def _to_bct(a, b):
    """(B, T, *S) -> accelerated-scan's (B, C, T) layout, with a full-size gate tensor."""
    bsz, length = b.shape[:2]
    n = b[0, 0].numel()
    gates = a.expand_as(b).reshape(bsz, length, n).transpose(1, 2).contiguous()
    return gates, b.reshape(bsz, length, n).transpose(1, 2).contiguous()


def from_btc(scan_bct):
    """A (B, C, T) peer kernel called on (B, T, *S) data, the layout linear_scan takes: the
    transposes in (a expanded to full size) and out (a contiguous h) count as part of the call,
    as they would for a user whose data is stored that way."""

    def run(a, b):
        gates, x = _to_bct(a, b)
        return scan_bct(gates, x).transpose(1, 2).contiguous().view(b.shape)

    return run


# accelerated-scan's scalar kernels scan tiles of 2,048 steps.
PEER_SCALAR_BLOCK = 2048


def scalar_scan_with_slack(forget, inputs):
    """accelerated-scan's scalar (Triton) scan, its own two kernels and launches, with its
    states tensor followed by PEER_SCALAR_BLOCK elements of slack.

    Its backward loads ``states[t - 1]`` under the mask ``t > 0`` only, so the last sequence's
    final tile reads up to 2,047 elements past the end when T is not a multiple of 2,048
    (compute-sanitizer, GPU batch 43). On a GPU that read sometimes dies of an illegal memory
    access and takes the benchmark process with it (batches 42, 74 and 76). The slack is never
    written and the values read there are masked out of every result, so the work and the
    figures are the peer's own. forget, inputs: (B, C, T), contiguous.
    """
    return _ScalarScanWithSlack.apply(forget, inputs)


class _ScalarScanWithSlack(torch.autograd.Function):
    @staticmethod
    def forward(ctx, forget, inputs):
        from accelerated_scan.scalar import forward_scan

        bsz, chans, length = inputs.shape
        n = inputs.numel()
        states = inputs.new_empty(n + PEER_SCALAR_BLOCK)[:n].view(bsz, chans, length)
        forward_scan[(bsz, chans)](forget, inputs, states, seqlen=length, enable_fp_fusion=False)
        ctx.save_for_backward(forget, states)
        return states

    @staticmethod
    def backward(ctx, d_output):
        from accelerated_scan.scalar import backward_scan

        forget, states = ctx.saved_tensors
        bsz, chans, length = forget.shape
        d_forget = torch.empty_like(forget)
        d_inputs = torch.empty_like(states)
        backward_scan[(bsz, chans)](forget, states, d_output.contiguous(), d_inputs, d_forget,
                                    seqlen=length, enable_fp_fusion=False)  # fmt: skip
        return d_forget, d_inputs


# CUDA grids allow at most 65,535 programs along axes 1 and 2.
GRID_AXIS_MAX = 65535


def fold_channels(scan_bct, max_channels=GRID_AXIS_MAX):
    """A (B, C, T) peer kernel whose grid is (B, C), called with channels folded into the batch:
    (B, C, T) -> (B * k, C / k, T) for the smallest k that brings C / k to ``max_channels`` or
    below (a view of contiguous data; each row is still one independent sequence). This is what
    a user would do at the video shape, where C = 65,536 exceeds the grid's second axis."""

    def run(gates, x):
        bsz, chans, length = x.shape
        k = next(k for k in range(1, chans + 1) if chans % k == 0 and chans // k <= max_channels)
        h = scan_bct(
            gates.reshape(bsz * k, chans // k, length), x.reshape(bsz * k, chans // k, length)
        )
        return h.reshape(bsz, chans, length)

    return run


def _assoc_scan_compiled():
    from torch._higher_order_ops.associative_scan import associative_scan

    def combine(left, right):
        return left[0] * right[0], right[0] * left[1] + right[1]

    @torch.compile(dynamic=False)
    def run(a, b):
        return associative_scan(combine, (a, b), dim=1)[1]

    return run


def linear_peers(a, b, device, backward, compile_peer):
    """Peers of linear_scan: name -> (fn(a, b) -> h, inputs in its native layout) or a reason."""
    peers: dict[str, tuple | str] = {}
    length = b.shape[1]
    if device.type == "cuda":
        if b.is_complex():
            peers["accelerated-scan"] = "real dtypes only"
        else:
            try:
                from accelerated_scan.scalar import scan as scan_scalar

                if length % PEER_SCALAR_BLOCK:  # its backward reads past the end otherwise
                    scan_scalar = scalar_scan_with_slack
                peers["accelerated-scan scalar (triton)"] = (scan_scalar, _to_bct(a, b))
                peers["accelerated-scan scalar (triton), from (B, T, C) data"] = (
                    from_btc(scan_scalar), (a, b))  # fmt: skip
                if b[0, 0].numel() > GRID_AXIS_MAX:
                    peers["accelerated-scan scalar (triton), channels folded into batch"] = (
                        fold_channels(scan_scalar), _to_bct(a, b))  # fmt: skip
            except Exception as e:  # noqa: BLE001 - an import failure is reported, not raised
                peers["accelerated-scan scalar (triton)"] = f"unavailable: {e}"
            if not (32 <= length <= 65536 and length & (length - 1) == 0):
                peers["accelerated-scan warp (cuda)"] = "needs power-of-two T in [32, 65536]"
            elif b.dtype == torch.bfloat16 and length >= 16384:
                # Seen on an H100: an illegal memory access that kills the process, in its bf16
                # backward and in its bf16 forward with a broadcast a at B=8, C=1536, T=65536
                # (2026-11-27, twice), in its bf16 forward at B=1, C=1536, T=16384 (GPU batch
                # 66) and at B=8, C=1536, T=16384 (batch 74; it had run there before).
                peers["accelerated-scan warp (cuda)"] = (
                    "skipped: its bf16 kernel crashes at T >= 16384"
                )
            else:
                try:
                    from accelerated_scan.warp import scan as scan_warp

                    peers["accelerated-scan warp (cuda)"] = (scan_warp, _to_bct(a, b))
                except Exception as e:  # noqa: BLE001
                    peers["accelerated-scan warp (cuda)"] = f"unavailable: {e}"
        # Compiling costs ~30 s per shape: only fp32 with a time-varying a, T <= 16384.
        if compile_peer and b.dtype == torch.float32 and a.shape == b.shape and length <= 16384:
            if backward and length > 4096:
                # GPU batch 80 (H200): compiling its backward at T=16384 had not finished
                # after 4 minutes, and the batch's time limit ended the process.
                peers["torch associative_scan (compiled)"] = (
                    "skipped: compiling its backward takes minutes at T > 4096"
                )
            else:
                peers["torch associative_scan (compiled)"] = (
                    _assoc_scan_compiled(),
                    (a.expand_as(b).contiguous(), b),
                )
    # ~0.37 s a call at T=16384 on an H100 (0.2% of copy bandwidth): only short T on a GPU.
    if not backward and (device.type == "cpu" or length <= 4096):
        peers["sequential torch loop"] = (sequential_scan, (a, b))
    return peers


def selective_decomposed(u, delta, A, B, C, D, z, delta_bias):
    """Mamba's scan with every (B, D, L, N) intermediate materialised, then linear_scan.

    Computes in float32 (half inputs are upcast) and returns u's dtype.
    """
    dtype = u.dtype
    u, delta, B, C, z = (x.float() for x in (u, delta, B, C, z))
    dt = torch.nn.functional.softplus(delta + delta_bias[:, None])
    coeff = torch.exp(dt[..., None] * A[:, None, :])  # (B, D, L, N)
    inp = (dt * u)[..., None] * B.transpose(-1, -2)[:, None]  # (B, D, L, N)
    h = linear_scan(coeff.transpose(1, 2), inp.transpose(1, 2))  # (B, L, D, N)
    y = torch.einsum("bldn,bnl->bdl", h, C) + D[:, None] * u
    return (y * torch.nn.functional.silu(z)).to(dtype)


JAX_SNIPPET = r"""
import json, sys, time
import jax, jax.numpy as jnp
cases = json.loads(sys.argv[1])
out = []
def comb(l, r):
    return l[0] * r[0], r[0] * l[1] + r[1]
for bsz, length, n, backward in cases:
    key = jax.random.PRNGKey(0)
    a = jax.random.uniform(key, (bsz, length, n)) * 0.5 + 0.5
    b = jax.random.normal(key, (bsz, length, n))
    fwd = jax.jit(lambda a, b: jax.lax.associative_scan(comb, (a, b), axis=1)[1])
    if backward:
        f = jax.jit(jax.grad(lambda a, b: fwd(a, b).sum(), argnums=(0, 1)))
    else:
        f = fwd
    try:
        jax.block_until_ready(f(a, b))
        ts = []
        for _ in range(10):
            t0 = time.perf_counter(); jax.block_until_ready(f(a, b))
            ts.append((time.perf_counter() - t0) * 1e3)
        out.append([bsz, length, n, backward, sorted(ts)[5], ""])
    except Exception as e:
        out.append([bsz, length, n, backward, None, type(e).__name__ + ": " + str(e)[:150]])
    del a, b
print("JAXRESULT " + json.dumps(out))
"""
