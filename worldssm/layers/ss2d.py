"""SS2D: a 2-D selective-scan layer (VMamba / VFIMamba) on the shared ``selective_scan`` kernel.

x -> in-proj to (x, z) of 2·expand·C -> depthwise 3x3 conv + SiLU on x -> K S6 scans of the token
sequence in K orders (by default row-major, column-major and their reverses), each with its own
x-proj (Δ-rank + 2·d_state), Δ-proj, A and D -> outputs put back in token order and summed ->
LayerNorm -> gate with SiLU(z) -> out-proj.

The K directions run as ONE ``selective_scan`` call: directions are stacked along the channel
dim (K·D channels) and B/C are grouped (B, K, N, L), so direction k's channels read group k.

A layer sees one image (B, H, W, C) or a group of T frames (B, T, H, W, C) scanned as one
sequence whose tokens are interleaved frame by frame: the token of frame f at pixel (i, j) sits at
position (i·W + j)·T + f (VFIMamba's Mixed-SSM with T = 2). Other token arrangements (e.g.
ChangeMamba's) are any (K, L) permutations over that layout: pass them as ``orders``.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from worldssm.kernels.selective_scan import selective_scan

# Parameters that param_groups() puts in the no-weight-decay "ssm" group (as Mamba does).
SS2D_PARAM_NAMES = ("A_log", "D", "dt_bias")


def directional_orders(
    height: int, width: int, frames: int = 1, device: torch.device | str | None = None
) -> torch.Tensor:
    """The four scan orders of an (H, W) grid of T-frame token groups.

    Tokens are laid out as (H, W, T) flattened: token (i, j, f) at (i·W + j)·T + f.

    Returns:
        (4, L) int64 with L = H·W·T: row-major, column-major (frames still interleaved one by one
        at each pixel), and the reverses of both. Row k lists the token positions in scan order.
    """
    idx = torch.arange(height * width * frames, device=device).view(height, width, frames)
    row = idx.reshape(-1)
    col = idx.transpose(0, 1).reshape(-1)
    return torch.stack([row, col, row.flip(0), col.flip(0)])


def _dt_bias_init(d_inner: int, dt_min: float, dt_max: float, floor: float = 1e-4) -> torch.Tensor:
    """Mamba's Δ bias: softplus(bias) is log-uniform in [dt_min, dt_max] (inverse softplus)."""
    u = torch.rand(d_inner)
    dt = torch.exp(u * (math.log(dt_max) - math.log(dt_min)) + math.log(dt_min)).clamp(min=floor)
    return dt + torch.log(-torch.expm1(-dt))


class SS2D(nn.Module):
    """2-D selective scan over images (B, H, W, C) or interleaved frame groups (B, T, H, W, C).

    Args:
        dim: C, input and output channels.
        d_state: N, the S6 state size per channel.
        expand: D = expand · C inner channels.
        dt_rank: rank of the Δ projection; default ceil(C / 16).
        d_conv: kernel size of the depthwise conv.
        num_dirs: K, number of scan orders (4 for :func:`directional_orders`).
        dt_min, dt_max: range of the initial Δ (Mamba init).

    Example::

        >>> layer = SS2D(32)
        >>> y = layer(torch.randn(2, 5, 7, 32))            # one image per sample
        >>> y2 = layer(torch.randn(2, 2, 8, 8, 32))        # two frames, tokens interleaved
    """

    ssm_param_names = SS2D_PARAM_NAMES
    # True: run the four default directions through the generic gathered path (scan_tokens),
    # the formulation before scan_four_directions; benchmarks and tests compare the two.
    gather_directions = False
    # True: without autograd, scan channels-last tokens (_scan_four_directions_tokens_last), the
    # layout of the default inference kernel; False: the autograd layout also at inference
    # (benchmarks time the tiled inference kernel on it as the peer).
    tokens_last_inference = True

    def __init__(
        self,
        dim: int,
        d_state: int = 16,
        expand: float = 2.0,
        dt_rank: int | None = None,
        d_conv: int = 3,
        num_dirs: int = 4,
        dt_min: float = 1e-3,
        dt_max: float = 1e-1,
    ):
        super().__init__()
        if d_conv % 2 != 1:
            raise ValueError(f"d_conv must be odd (same-size depthwise conv); got {d_conv}")
        self.dim, self.d_state, self.num_dirs = dim, d_state, num_dirs
        self.d_inner = d_inner = int(expand * dim)
        self.dt_rank = dt_rank or math.ceil(dim / 16)
        k, r = num_dirs, self.dt_rank
        self.in_proj = nn.Linear(dim, 2 * d_inner, bias=False)
        self.conv = nn.Conv2d(d_inner, d_inner, d_conv, padding=d_conv // 2, groups=d_inner)
        # Per-direction projections, stored stacked so all directions run in one einsum.
        self.x_proj_weight = nn.Parameter(
            torch.empty(k, r + 2 * d_state, d_inner).uniform_(-1, 1) / math.sqrt(d_inner)
        )
        self.dt_proj_weight = nn.Parameter(torch.empty(k, d_inner, r).uniform_(-(r**-0.5), r**-0.5))
        self.dt_bias = nn.Parameter(
            torch.stack([_dt_bias_init(d_inner, dt_min, dt_max) for _ in range(k)])
        )
        # S4D-real init A = -(1..N) per channel, kept as log for positivity.
        a = torch.arange(1, d_state + 1, dtype=torch.float32).repeat(k * d_inner, 1)
        self.A_log = nn.Parameter(torch.log(a).view(k, d_inner, d_state))
        self.D = nn.Parameter(torch.ones(k, d_inner))
        self.out_norm = nn.LayerNorm(d_inner)
        self.out_proj = nn.Linear(d_inner, dim, bias=False)

    def forward(self, x: torch.Tensor, orders: torch.Tensor | None = None) -> torch.Tensor:
        """Mix ``x`` by 2-D selective scans.

        Args:
            x: (B, H, W, C) images, or (B, T, H, W, C) groups of T frames scanned as one sequence
                of L = T·H·W tokens interleaved frame by frame.
            orders: (K, L) int64 permutations of the (H, W, T) token layout; default
                :func:`directional_orders`.

        Returns:
            Same shape as ``x``.
        """
        if x.dim() not in (4, 5) or x.shape[-1] != self.dim:
            raise ValueError(
                f"SS2D expects (B, H, W, {self.dim}) or (B, T, H, W, {self.dim}); "
                f"got {tuple(x.shape)}"
            )
        single = x.dim() == 4
        if single:
            x = x[:, None]
        bsz, frames, h, w, _ = x.shape
        # Per-token work (projections, norm, gate) runs in x's memory order. The Mixed-SSM block
        # passes a (T, B, H, W, C) tensor seen as (B, T, H, W, C) (its frames are stacked
        # frame-major); working on the (T, B, ...) tensor keeps every step a view, not a copy.
        frames_first = not x.is_contiguous() and x.transpose(0, 1).is_contiguous()
        xs = x.transpose(0, 1) if frames_first else x
        xz = self.in_proj(xs)
        u, z = xz.chunk(2, dim=-1)  # (N1, N2, H, W, D) each, in xs's order
        u = u.reshape(-1, h, w, self.d_inner).permute(0, 3, 1, 2)
        u = F.silu(self.conv(u))  # (N1*N2, D, H, W): the conv sees each frame alone
        u = u.view(*xs.shape[:2], self.d_inner, h, w)
        u = u.transpose(0, 1) if frames_first else u  # (B, T, D, H, W)
        if orders is None and self.num_dirs == 4 and not self.gather_directions:
            y = self.scan_four_directions(u, frames_first=frames_first)
        else:
            if orders is None:
                orders = directional_orders(h, w, frames, device=x.device)
            # (B, T, D, H, W) -> tokens (B, L, D) in the (H, W, T) layout.
            tokens = u.permute(0, 3, 4, 1, 2).reshape(bsz, h * w * frames, self.d_inner)
            y = self.scan_tokens(tokens, orders)
            y = y.view(bsz, h, w, frames, self.d_inner).permute(0, 3, 1, 2, 4)
        y = y.transpose(0, 1) if frames_first else y  # xs's order, like z
        out = self.out_proj(self.out_norm(y) * F.silu(z))
        out = out.transpose(0, 1) if frames_first else out
        return out[:, 0] if single else out

    def _scan_weights(self, dtype: torch.dtype):
        """(x-proj as (2, 2·(R+2N), D) per layout, Δ-proj, A, D, Δ bias) for the fused scan.

        The scan parameters (A, D, Δ bias) stay in (at least) float32, also under bf16. Without
        autograd the result is cached until a parameter changes (in-place updates bump
        ``_version``), so an inference pass does not redo these small kernels per call.
        """
        params = (self.x_proj_weight, self.dt_proj_weight, self.A_log, self.D, self.dt_bias)
        # Inference tensors (weights made under inference_mode) have no version counter; they
        # cannot be changed in place outside inference_mode.
        versions = tuple(-1 if p.is_inference() else p._version for p in params)
        key = (dtype, self.A_log.device, versions, *((p.data_ptr(), p.dtype) for p in params))
        cached = getattr(self, "_scan_cache", None)
        if not torch.is_grad_enabled() and cached is not None and cached[0] == key:
            return cached[1]
        k, d, n, r = self.num_dirs, self.d_inner, self.d_state, self.dt_rank
        c_all = r + 2 * n
        # Direction k = 2p + s (s: layout, p: reversed): (2, 2C, D) with rows (p, C) per layout.
        w_x = self.x_proj_weight.to(dtype).view(2, 2, c_all, d).transpose(0, 1)
        acc = torch.promote_types(self.A_log.dtype, torch.float32)
        out = (
            w_x.reshape(2, 2 * c_all, d),
            self.dt_proj_weight.to(dtype),
            -torch.exp(self.A_log.to(acc)).view(k * d, n),
            self.D.to(acc).view(-1),
            self.dt_bias.to(acc).view(-1),
            *(self._block_weights(dtype) if not torch.is_grad_enabled() else (None, None)),
        )
        if not torch.is_grad_enabled():
            self._scan_cache = (key, out)
        return out

    def _block_weights(self, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
        """x-proj and Δ-proj of all four directions as block-diagonal matrices (channels last).

        Returns (2·D, K·P): tokens of both layouts side by side, (B, L, 2, D), times it give
        every direction's projections per token, (B, L, K, P), in direction order k = 2p + s
        (layout s = k % 2), with columns (B: N, C: N, Δ-rank: R, zeros) and P = 2N + R rounded
        up to 16, so that each step's B and C rows start 16-byte aligned (vector loads); and
        (K·R, K·D): the Δ-ranks of all directions times it give (B, L, K·D). The zero blocks
        cost a few GFLOP at 1080p, next to the copies they save.
        """
        k, d, n, r = self.num_dirs, self.d_inner, self.d_state, self.dt_rank
        width = -(-(2 * n + r) // 16) * 16
        w_x = self.x_proj_weight.to(dtype)  # (K, R+2N, D), rows (Δ-rank, B, C)
        w_x = torch.cat([w_x[:, r:], w_x[:, :r]], dim=1)  # rows (B, C, Δ-rank)
        w_dt = self.dt_proj_weight.to(dtype)  # (K, D, R)
        x_blk = w_x.new_zeros(2 * d, k * width)
        dt_blk = w_dt.new_zeros(k * r, k * d)
        for i in range(k):
            s = i % 2
            x_blk[s * d : (s + 1) * d, i * width : i * width + 2 * n + r] = w_x[i].t()
            dt_blk[i * r : (i + 1) * r, i * d : (i + 1) * d] = w_dt[i].t()
        return x_blk, dt_blk

    def scan_four_directions(self, u: torch.Tensor, frames_first: bool = False) -> torch.Tensor:
        """The four :func:`directional_orders` scans without gathering the tokens four times.

        Same result as ``scan_tokens(tokens, directional_orders(H, W, T))``. Two layouts of u are
        built, row-major (H, W, T) and column-major (W, H, T) tokens; the reverse scans read
        them backwards inside the kernel (``reverse``), all four directions share them (u has
        2D channels for 4D scanned ones), and each reverse scan writes its outputs back in its
        layout's token order, so only the column-major half is transposed back.

        Args:
            u: (B, T, D, H, W) tokens after the conv and SiLU (any strides).
            frames_first: store the result as (T, B, H, W, D) memory (returned as a (B, T, ...)
                view), the order of a frame-major input.

        Returns:
            (B, T, H, W, D) in u's dtype: the sum of the four directions, channels last.
        """
        if self.tokens_last_inference and not torch.is_grad_enabled():
            return self._scan_four_directions_tokens_last(u, frames_first)
        bsz, frames, d, h, w = u.shape
        k, n, r, length = 4, self.d_state, self.dt_rank, frames * h * w
        # Direction k = 2p + s: s = 0 row-major, 1 column-major; p = 1 reversed.
        u2 = u.new_empty(bsz, 2, d, length)
        u2[:, 0].view(bsz, d, h, w, frames).copy_(u.permute(0, 2, 3, 4, 1))
        u2[:, 1].view(bsz, d, w, h, frames).copy_(u.permute(0, 2, 4, 3, 1))
        w_x, w_dt, a, d_skip, dt_bias, _, _ = self._scan_weights(u.dtype)
        # x-proj is per token, so each layout is projected for both of its directions at once:
        # (2, 2C, D) @ (B, 2, D, L) -> (B, s, p, C, L) -> direction order (B, K, C, L).
        c_all = r + 2 * n
        x_dbl = torch.matmul(w_x, u2).view(bsz, 2, 2, c_all, length)
        x_dbl = x_dbl.transpose(1, 2).reshape(bsz, k, c_all, length)
        dts, bs, cs = torch.split(x_dbl, [r, n, n], dim=2)  # B/C stay strided views
        dts = torch.einsum("bkrl,kdr->bkdl", dts, w_dt)
        out = selective_scan(
            u2.view(bsz, 2 * d, length),  # channel k*D + i reads u2 channel (k % 2)*D + i
            dts.reshape(bsz, k * d, length),
            a,
            bs,
            cs,
            D=d_skip,
            delta_bias=dt_bias,
            delta_softplus=True,
            reverse=[False, False, True, True],
        )
        # Sum forward + reverse per layout in (at least) float32, then write the two layouts
        # into one channels-last (B, T, H, W, D) tensor: copy_ and add_ transpose on the fly
        # (and, unlike add(out=...), keep autograd).
        ys = out.view(bsz, 2, 2, d, length).sum(1, dtype=a.dtype)  # (B, s, D, L)
        if frames_first:
            y = u.new_empty(frames, bsz, h, w, d).transpose(0, 1)
        else:
            y = u.new_empty(bsz, frames, h, w, d)
        y.copy_(ys[:, 0].view(bsz, d, h, w, frames).permute(0, 4, 2, 3, 1))
        return y.add_(ys[:, 1].view(bsz, d, w, h, frames).permute(0, 4, 3, 2, 1))

    def _scan_four_directions_tokens_last(
        self, u: torch.Tensor, frames_first: bool
    ) -> torch.Tensor:
        """:meth:`scan_four_directions` without autograd, with every tensor channels last.

        Tokens (B, L, 2, D) hold both layouts side by side; one block-diagonal matmul gives all
        directions' (B, C, Δ-rank) as (B, L, K, P), another their Δ as (B, L, K·D), and the
        scan reads and writes (B, L, channels) memory through strides (the per-channel
        sequential kernel, ``triton_seq``, reads one step of 32 neighbouring channels per warp).
        The outputs, (B, L, K·D), are summed per layout and moved to (B, T, H, W, D).
        """
        bsz, frames, d, h, w = u.shape
        k, n, r, length = 4, self.d_state, self.dt_rank, frames * h * w
        u2 = u.new_empty(bsz, length, 2, d)  # (B, L, layout s, D)
        u2[:, :, 0].view(bsz, h, w, frames, d).copy_(u.permute(0, 3, 4, 1, 2))
        u2[:, :, 1].view(bsz, w, h, frames, d).copy_(u.permute(0, 4, 3, 1, 2))
        _, _, a, d_skip, dt_bias, x_blk, dt_blk = self._scan_weights(u.dtype)
        x_dbl = torch.matmul(u2.view(bsz, length, 2 * d), x_blk).view(bsz, length, k, -1)
        dts = torch.matmul(x_dbl[..., 2 * n : 2 * n + r].reshape(bsz, length, k * r), dt_blk)
        # B and C in float32 (a small copy): the scan then loads them without unpacking bf16,
        # about a fifth of its instructions per step.
        bc = x_dbl[..., : 2 * n].to(a.dtype)  # (B, L, K, 2N)
        bs = bc[..., :n].permute(0, 2, 3, 1)  # (B, K, N, L) views
        cs = bc[..., n:].permute(0, 2, 3, 1)
        out = selective_scan(
            u2.view(bsz, length, 2 * d).transpose(1, 2),  # channel k*D + i reads (k % 2)*D + i
            dts.transpose(1, 2),
            a,
            bs,
            cs,
            D=d_skip,
            delta_bias=dt_bias,
            delta_softplus=True,
            reverse=[False, False, True, True],
        )  # (B, K*D, L) over (B, L, K*D) memory
        ys = out.transpose(1, 2).reshape(bsz, length, 2, 2, d).sum(2, dtype=a.dtype)  # (B, L, s, D)
        if frames_first:
            y = u.new_empty(frames, bsz, h, w, d).transpose(0, 1)
        else:
            y = u.new_empty(bsz, frames, h, w, d)
        y.copy_(ys[:, :, 0].view(bsz, h, w, frames, d).permute(0, 3, 1, 2, 4))
        return y.add_(ys[:, :, 1].view(bsz, w, h, frames, d).permute(0, 3, 2, 1, 4))

    def scan_tokens(self, u: torch.Tensor, orders: torch.Tensor) -> torch.Tensor:
        """The K directional S6 scans of a token sequence, summed in token order.

        Args:
            u: (B, L, D) tokens (after the conv and SiLU).
            orders: (K, L) int64; row k is the token order of direction k (a permutation of
                0..L-1; not checked, as that would synchronise with the GPU).

        Returns:
            (B, L, D) in u's dtype: sum over k of scan_k(u in order k), back in token order.
        """
        bsz, length, d = u.shape
        k, n, r = self.num_dirs, self.d_state, self.dt_rank
        if orders.dim() != 2 or orders.shape != (k, length):
            raise ValueError(
                f"orders must have shape (K, L) = ({k}, {length}); got {tuple(orders.shape)}"
            )
        orders = orders.to(u.device, torch.long)
        # (B, K, D, L): direction k's copy of the sequence in its scan order.
        xs = torch.stack([u.index_select(1, o) for o in orders], 1).transpose(2, 3)
        x_dbl = torch.einsum("bkdl,kcd->bkcl", xs, self.x_proj_weight.to(xs.dtype))
        dts, bs, cs = torch.split(x_dbl, [r, n, n], dim=2)
        dts = torch.einsum("bkrl,kdr->bkdl", dts, self.dt_proj_weight.to(dts.dtype))
        # The scan parameters stay in (at least) float32, also under bf16 autocast.
        acc = torch.promote_types(self.A_log.dtype, torch.float32)
        a = -torch.exp(self.A_log.to(acc)).view(k * d, n)
        out = selective_scan(
            xs.reshape(bsz, k * d, length),
            dts.reshape(bsz, k * d, length),
            a,
            bs.contiguous(),
            cs.contiguous(),
            D=self.D.to(acc).view(-1),
            delta_bias=self.dt_bias.to(acc).view(-1),
            delta_softplus=True,
        ).view(bsz, k, d, length)
        # Undo each permutation (inverse order) and sum the directions in (at least) float32.
        positions = torch.arange(length, device=u.device).expand(k, length)
        inverse = torch.empty_like(orders).scatter_(1, orders, positions)
        y = sum(out[:, i].to(acc).index_select(2, inverse[i]) for i in range(k))
        return y.transpose(1, 2).to(u.dtype)
