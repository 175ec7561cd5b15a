"""The benchmarks' timer: wall time on CPU; CUDA-graph replays on GPU, eager when not capturable."""

import pytest
import torch

from worldssm.kernels.bench_timing import time_call
from worldssm.kernels.linear_scan import linear_scan
from worldssm.kernels.linear_scan.torch_scan import sequential_scan


def loop_scan_bct(gates, x, max_channels=None):
    """A loop scan on accelerated-scan's (B, C, T) layout, standing in for its kernel; refuses
    more than ``max_channels`` channels (its grid limit) when given."""
    assert gates.shape == x.shape and x.is_contiguous()
    assert max_channels is None or x.shape[1] <= max_channels
    return sequential_scan(gates.transpose(1, 2), x.transpose(1, 2)).transpose(1, 2)


cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a GPU")


def test_cpu_times_wall_clock():
    calls = []
    ms, how = time_call(lambda: calls.append(1), torch.device("cpu"), reps=12)
    assert how == "cpu" and ms >= 0 and len(calls) == 1 + 3


@cuda
def test_graph_replay_computes_what_eager_computes():
    """The replayed fwd+bwd leaves the eager gradients in its buffers (so it times the work)."""
    dev = torch.device("cuda")
    a = torch.rand(2, 300, 64, device=dev) * 0.5 + 0.5
    b = torch.randn(2, 300, 64, device=dev)
    w = torch.randn_like(b)
    leaves = [a.detach().requires_grad_(), b.detach().requires_grad_()]

    def run():
        for x in leaves:
            x.grad = None
        linear_scan(*leaves).backward(w)

    ms, how = time_call(run, dev, reps=4)
    assert how == "cuda graph" and ms > 0
    replayed = [x.grad.clone() for x in leaves]
    run()  # eager
    for got, want in zip(replayed, [x.grad for x in leaves], strict=True):
        torch.testing.assert_close(got, want)


@cuda
def test_host_sync_falls_back_to_eager():
    x = torch.randn(1000, device="cuda")
    ms, how = time_call(lambda: (x * 2).sum().item(), torch.device("cuda"), reps=4)
    assert how == "eager" and ms > 0


@pytest.mark.parametrize("a_const", [False, True])
def test_peer_from_btc_layout_round_trip(a_const):
    """The peer row on (B, T, *S) data: a (B, C, T) kernel behind transposes in and out gives
    linear_scan's h and gradients (here the kernel is a loop on the (B, C, T) layout)."""
    from worldssm.kernels.bench_peers import from_btc

    torch.manual_seed(0)
    b = torch.randn(2, 9, 3, 5, dtype=torch.float64, requires_grad=True)
    a_shape = (1, 1, 3, 5) if a_const else b.shape
    a = (torch.rand(a_shape, dtype=torch.float64) * 0.5 + 0.5).requires_grad_()
    w = torch.randn_like(b)
    h = from_btc(loop_scan_bct)(a, b)
    assert h.shape == b.shape and h.is_contiguous()
    ga, gb = torch.autograd.grad((h * w).sum(), (a, b))
    h_ref = linear_scan(a, b)
    ga_ref, gb_ref = torch.autograd.grad((h_ref * w).sum(), (a, b))
    for got, ref in ((h, h_ref), (ga, ga_ref), (gb, gb_ref)):
        torch.testing.assert_close(got, ref, rtol=1e-10, atol=1e-10)


def test_peer_fold_channels_matches_unfolded():
    """At the video shape the peer's grid (B, C) has too many channels; folding them into the
    batch (a view) must scan each sequence exactly as before, gradients included."""
    from worldssm.kernels.bench_peers import fold_channels

    def scan_bct(gates, x):  # refuses more than 4 channels, its "grid limit" here
        return loop_scan_bct(gates, x, max_channels=4)

    torch.manual_seed(1)
    x = torch.randn(2, 12, 7, dtype=torch.float64, requires_grad=True)
    gates = (torch.rand(2, 12, 7, dtype=torch.float64) * 0.5 + 0.5).requires_grad_()
    w = torch.randn_like(x)
    h = fold_channels(scan_bct, max_channels=4)(gates, x)  # 12 channels -> k=3, 4 a row
    ref = loop_scan_bct(gates, x)
    assert h.shape == x.shape
    got = torch.autograd.grad((h * w).sum(), (gates, x))
    want = torch.autograd.grad((ref * w).sum(), (gates, x))
    torch.testing.assert_close(h, ref, rtol=1e-12, atol=1e-12)
    for g, r in zip(got, want, strict=True):
        torch.testing.assert_close(g, r, rtol=1e-12, atol=1e-12)
    with pytest.raises(AssertionError):
        scan_bct(gates, x)  # unfolded, 12 channels are over the limit


def test_peer_scalar_scan_with_slack_is_the_peer():
    """The accelerated-scan harness with slack after its states tensor runs the peer's own
    kernels (here in Triton's interpreter) and gives the scan's values and gradients at a T that
    is not a multiple of its 2,048-step tile, where its backward reads past the states' end."""
    pytest.importorskip("accelerated_scan")
    from accelerated_scan.scalar import scan as peer_scan

    from worldssm.kernels.bench_peers import scalar_scan_with_slack

    torch.manual_seed(2)
    x = torch.randn(2, 3, 300, requires_grad=True)
    gates = (torch.rand(2, 3, 300) * 0.5 + 0.5).requires_grad_()
    w = torch.randn_like(x)
    h = scalar_scan_with_slack(gates, x)
    ref = loop_scan_bct(gates, x)
    torch.testing.assert_close(h, ref, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(h, peer_scan(gates, x), rtol=0, atol=0)  # its forward is safe
    got = torch.autograd.grad((h * w).sum(), (gates, x))
    want = torch.autograd.grad((ref * w).sum(), (gates, x))
    for g, r in zip(got, want, strict=True):
        torch.testing.assert_close(g, r, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("length,backward", [(1000, True), (5000, False), (5000, True)])
def test_compiled_peer_skips_long_backward(length, backward):
    """The compiled associative_scan peer is timed fwd+bwd only up to T=4096 (its backward's
    compile outlasted a GPU batch at T=16384); the forward runs up to T=16384. The peer table
    is built for a CUDA device here, with CPU tensors: nothing is launched."""
    pytest.importorskip("accelerated_scan")
    from worldssm.kernels.bench_peers import linear_peers

    b = torch.randn(1, length, 3)
    a = torch.rand(1, length, 3)
    peer = linear_peers(a, b, torch.device("cuda"), backward, True)[
        "torch associative_scan (compiled)"
    ]
    assert isinstance(peer, str) == (backward and length > 4096), peer
