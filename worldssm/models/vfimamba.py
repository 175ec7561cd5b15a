"""VFIMamba (Zhang et al., NeurIPS 2024): video frame interpolation with Mixed-SSM blocks.

Pipeline (RIFE / EMA-VFI style):
1. A shared 5-stage :class:`FeatureExtractor` runs on both frames (convs at 1, 1/2, 1/4; Mixed-SSM
   blocks at 1/8 and 1/16 that scan the two frames' tokens interleaved).
2. Coarse-to-fine :class:`FlowHead` s (1/16 features, then 1/8) predict bidirectional flow from
   time t to both frames and a blend mask; t in [0, 1] is an input channel, so any timestep works.
3. Optional RIFE-style local refinement (``local_refine``) at 1/2 and 1.
4. Both frames and their features are backward-warped to t and blended; a :class:`RefineUNet`
   adds a residual. Output clamped to [0, 1].

``mixer="conv"`` swaps the Mixed-SSM scans for a local conv mixer of the same width and depth:
the conv-only flow baseline. Train with :func:`laplacian_l1`.

Example::

    >>> model = worldssm.create_model("vfimamba_tiny")
    >>> pred = model(img0, img1, 0.5)                      # (B, 3, H, W), H, W % 16 == 0
    >>> pred, aux = model(img0, img1, torch.rand(B), return_aux=True)
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from worldssm.models.vfi_blocks import FeatureExtractor
from worldssm.models.vfi_flow import (
    FlowHead,
    LocalRefineBlock,
    RefineUNet,
    resize,
    resize_flow,
    warp_features,
    warp_pair,
)


@dataclass
class VFIMambaConfig:
    """Hyper-parameters of :class:`VFIMamba`.

    Attributes:
        width: F; the feature stages have F, 2F, 4F, 8F, 16F channels.
        depths: blocks per stage (conv layers for stages 0-2, Mixed-SSM blocks for 3-4).
        mixer: ``"ssm"`` (Mixed-SSM, VFIMamba) or ``"conv"`` (conv-only baseline, same size).
        d_state, expand: S6 state size and inner expansion of the SS2D layers.
        head_width: hidden width of the flow heads; default 4F.
        unet_width: base width of the refinement U-Net; default 2F.
        local_refine: add two RIFE-style local flow refinement blocks (at 1/2 and full size).
        local_width: hidden width of those blocks; default 4F.
    """

    width: int = 32
    depths: tuple[int, ...] = (2, 2, 2, 3, 3)
    mixer: str = "ssm"
    d_state: int = 16
    expand: float = 2.0
    head_width: int | None = None
    unet_width: int | None = None
    local_refine: bool = True
    local_width: int | None = None

    def __post_init__(self):
        self.depths = tuple(self.depths)
        if len(self.depths) != 5 or min(self.depths) < 0 or min(self.depths[3:]) < 1:
            raise ValueError(
                f"depths must be 5 counts (conv stages >= 0, SSM stages >= 1); got {self.depths}"
            )
        if self.width < 1:
            raise ValueError(f"width must be positive; got {self.width}")
        if self.mixer not in ("ssm", "conv"):
            raise ValueError(f"mixer must be 'ssm' or 'conv'; got {self.mixer!r}")


def _as_timestep(t, batch: int, ref: torch.Tensor) -> torch.Tensor:
    """t (float or (B,) / (B, 1, 1, 1) tensor) -> (B, 1, 1, 1) float tensor; checks [0, 1]."""
    t = torch.as_tensor(t, dtype=torch.float32, device=ref.device)
    if t.dim() == 0:
        t = t.expand(batch)
    t = t.reshape(-1)
    if t.numel() != batch:
        raise ValueError(f"t must be a float or a ({batch},) tensor; got {t.numel()} values")
    if not torch.isfinite(t).all() or (t < 0).any() or (t > 1).any():
        raise ValueError(f"t must lie in [0, 1] (the wanted frame's time); got {t.tolist()}")
    return t.view(batch, 1, 1, 1)


class VFIMamba(nn.Module):
    """Frame interpolation: (img0, img1, t) -> the frame at time t.

    ``pad_multiple``: H and W (after ``scale``) must be multiples of it; pad first (replicate
    padding, see :func:`pad_to_multiple`) and crop the output back.
    """

    pad_multiple = 16

    def __init__(self, cfg: VFIMambaConfig | None = None):
        super().__init__()
        self.cfg = cfg = cfg or VFIMambaConfig()
        f = cfg.width
        widths = tuple(f * 2**i for i in range(5))
        self.encoder = FeatureExtractor(widths, cfg.depths, cfg.mixer, cfg.d_state, cfg.expand)
        head = cfg.head_width or 4 * f
        # Coarse to fine: the 1/16 features (img0, img1, t: 7 inputs), then the 1/8 ones with
        # the previous warps, mask logits and flow (3 + 3 + 3 + 3 + 1 + 1 + 4 = 18).
        self.heads = nn.ModuleList(
            [FlowHead(widths[4], 16, head, 7), FlowHead(widths[3], 8, head, 18)]
        )
        local = cfg.local_width or 4 * f
        self.local = nn.ModuleList(
            [LocalRefineBlock(local, s) for s in (2, 1)] if cfg.local_refine else []
        )
        self.unet = RefineUNet(widths, cfg.unet_width or 2 * f)

    def _check(self, img0, img1, scale):
        if img0.dim() != 4 or img0.shape[1] != 3 or img1.shape != img0.shape:
            raise ValueError(
                "img0 and img1 must both be (B, 3, H, W); got "
                f"{tuple(img0.shape)} and {tuple(img1.shape)}"
            )
        if not 0 < scale <= 1:
            raise ValueError(f"scale must be in (0, 1]; got {scale}")
        h, w = img0.shape[-2:]
        m = self.pad_multiple
        sh, sw = h * scale, w * scale
        if sh != int(sh) or sw != int(sw) or int(sh) % m or int(sw) % m:
            need = m if scale == 1 else f"{m}/scale = {m / scale:g}"
            raise ValueError(
                f"VFIMamba needs H and W that are multiples of {need}; got {h}x{w}. Pad the "
                "frames (worldssm.models.vfimamba.pad_to_multiple, replicate mode) and crop "
                "the output back."
            )

    # Set by prepare_for_inference: the dtype the weights were cast to (None: not prepared) and
    # whether activations run in channels_last (NHWC) memory.
    inference_dtype: torch.dtype | None = None
    channels_last: bool = False

    def prepare_for_inference(
        self, dtype: torch.dtype = torch.bfloat16, channels_last: bool = True
    ) -> VFIMamba:
        """Set the model up for fast inference, in place; returns ``self`` in eval mode.

        - Weights are cast to ``dtype`` once. Run the prepared model WITHOUT autocast: autocast
          re-casts fp32 weights and activations on every call (hundreds of copy kernels per
          forward at 1080p), and keeps LayerNorm in fp32. The S6 parameters (A, D, Δ bias) stay
          float32, as the scan consumes them; flows, masks, warps and the blend stay float32
          (images in, float32 frames out), as under autocast.
        - ``channels_last``: conv weights and activations in NHWC memory, so cuDNN runs its
          NHWC kernels without layout transposes and the Mixed-SSM token views are free.

        Outputs equal the unprepared model's within float tolerance (bf16: within bf16's). The
        prepared model is for inference: train an unprepared one (reload its weights).
        """
        from worldssm.layers.ss2d import SS2D

        keep = {
            id(p) for m in self.modules() if isinstance(m, SS2D) for p in (m.A_log, m.D, m.dt_bias)
        }
        with torch.no_grad():
            for p in self.parameters():
                if id(p) not in keep and p.is_floating_point():
                    p.data = p.data.to(dtype)
        if channels_last:
            self.to(memory_format=torch.channels_last)
        self.inference_dtype, self.channels_last = dtype, channels_last
        return self.eval()

    def forward(
        self,
        img0: torch.Tensor,
        img1: torch.Tensor,
        t: float | torch.Tensor = 0.5,
        return_aux: bool = False,
        scale: float = 1.0,
    ):
        """Interpolate the frame at time ``t`` between ``img0`` (t=0) and ``img1`` (t=1).

        Args:
            img0, img1: (B, 3, H, W) in [0, 1]; H, W multiples of ``pad_multiple / scale``.
            t: float or (B,) tensor in [0, 1].
            return_aux: also return a dict with ``flow`` (B, 4, H, W) (t->0 then t->1, in
                pixels), ``mask`` (B, 1, H, W) (weight of warped img0, in [0, 1]), ``merged``
                (B, 3, H, W) (blend before the U-Net) and ``merged_stages`` (the blend after
                each flow stage, for deep supervision).
            scale: estimate flow on frames resized by ``scale`` (0.5 / 0.25 for 2K / 4K), then
                upsample it; features for the refinement are taken at full size.

        Returns:
            pred (B, 3, H, W) in [0, 1], and ``aux`` when ``return_aux``.
        """
        self._check(img0, img1, scale)
        tt = _as_timestep(t, img0.shape[0], img0)
        return self.interpolate(img0, img1, tt, return_aux, scale)

    def interpolate(
        self,
        img0: torch.Tensor,
        img1: torch.Tensor,
        tt: torch.Tensor,
        return_aux: bool = False,
        scale: float = 1.0,
    ):
        """:meth:`forward` without its checks: tt is a (B, 1, 1, 1) float tensor in [0, 1].

        No host synchronisation, so a fixed-size call can be captured in a CUDA graph.
        """
        bsz, _, h, w = img0.shape
        cl = self.channels_last
        # Frames stacked (2B, 3, H, W) [img0; img1] as the encoder wants them; warps of both
        # frames run as one call on this stack.
        imgs = torch.cat([img0, img1], 0)
        if cl:
            imgs = imgs.contiguous(memory_format=torch.channels_last)
        small = imgs if scale == 1 else resize(imgs, (int(h * scale), int(w * scale)))
        feats = self.encoder(small)
        flow, mask, warps, stages = self._estimate_flow(small, tt, feats, return_aux)
        if scale != 1:
            flow, mask = resize_flow(flow, (h, w)), resize(mask, (h, w))
            feats = self.encoder(imgs)
            warps = warp_pair(imgs, flow)
        img0, img1 = imgs[:bsz], imgs[bsz:]
        for block in self.local:
            d_flow, d_mask = block([img0, img1, warps[:bsz], warps[bsz:], mask], flow, cl)
            flow, mask = flow + d_flow, mask + d_mask
            warps = warp_pair(imgs, flow)
        warp0, warp1 = warps[:bsz], warps[bsz:]
        weight = torch.sigmoid(mask)
        merged = torch.lerp(warp1, warp0, weight)  # warp0 * weight + warp1 * (1 - weight)
        c0, c1 = warp_features(feats, flow)
        res = self.unet([img0, img1, warp0, warp1, mask, flow], c0, c1, cl)
        pred = (merged + res).clamp(0, 1)
        if not return_aux:
            return pred
        aux = {"flow": flow, "mask": weight, "merged": merged, "merged_stages": stages}
        return pred, aux

    def _estimate_flow(self, imgs, tt, feats, return_aux):
        """Coarse-to-fine flow and mask logits at the size of the stacked (2B, 3, H, W) imgs.

        Returns flow, mask, the warps (2B, 3, H, W) of imgs by the final flow, and each stage's
        blend (only with ``return_aux``; else an empty list).
        """
        n2, _, h, w = imgs.shape
        bsz = n2 // 2
        img0, img1 = imgs[:bsz], imgs[bsz:]
        t_map = tt.to(imgs.dtype).expand(bsz, 1, h, w)
        flow = mask = warps = None
        stages = []
        for i, head in enumerate(self.heads):
            f = feats[4 - i]
            if flow is None:
                flow, mask = head(f, [img0, img1, t_map], None, self.channels_last)
            else:
                inputs = [img0, img1, warps[:bsz], warps[bsz:], mask, t_map]
                d_flow, d_mask = head(f, inputs, flow, self.channels_last)
                flow, mask = flow + d_flow, mask + d_mask
            warps = warp_pair(imgs, flow)
            if return_aux:
                stages.append(torch.lerp(warps[bsz:], warps[:bsz], torch.sigmoid(mask)))
        return flow, mask, warps, stages


class GraphedVFIMamba:
    """A prepared :class:`VFIMamba` forward of one fixed size, replayed from a CUDA graph.

    The interpolate CLI runs many frame pairs of one size; below 1080p a forward is a few hundred
    kernels shorter than their launches, and one graph replay launches them all at once. The
    inputs are copied into static buffers, the graph replays :meth:`VFIMamba.interpolate`
    (which has no host synchronisation), and the returned tensor is the graph's static output:
    it is overwritten by the next call (clone it to keep it).

    Args:
        model: a VFIMamba, best after :meth:`VFIMamba.prepare_for_inference` (no autocast
            inside the graph); its weights must not change afterwards (the graph reads them
            and SS2D's cached scan weights in place).
        shape: (B, 3, H, W) of every call. scale: the flow scale of every call.
        capture: False runs the same static-buffer code eagerly (CPU, tests); default: on CUDA.
        warmup: eager passes on a side stream before capture (Triton JIT, cuDNN autotuning and
            workspaces happen outside the graph).
    """

    def __init__(self, model, shape, device, scale: float = 1.0, capture=None, warmup: int = 2):
        device = torch.device(device)
        self.model, self.scale, self.shape = model, scale, tuple(shape)
        self.img0 = torch.zeros(self.shape, device=device)
        self.img1 = torch.zeros(self.shape, device=device)
        self.tt = torch.full((self.shape[0], 1, 1, 1), 0.5, device=device)
        model._check(self.img0, self.img1, scale)
        self.capture = device.type == "cuda" if capture is None else capture
        self.graph = self.out = None
        if self.capture:
            stream = torch.cuda.Stream(device)
            stream.wait_stream(torch.cuda.current_stream(device))
            with torch.cuda.stream(stream), torch.inference_mode():
                for _ in range(warmup):
                    self._run()
            torch.cuda.current_stream(device).wait_stream(stream)
            self.graph = torch.cuda.CUDAGraph()
            with torch.inference_mode(), torch.cuda.graph(self.graph):
                self.out = self._run()

    def _run(self) -> torch.Tensor:
        return self.model.interpolate(self.img0, self.img1, self.tt, False, self.scale)

    def __call__(self, img0, img1, t=0.5, scale: float | None = None) -> torch.Tensor:
        """img0, img1: (B, 3, H, W) of the captured shape; t: float or (B,). Returns pred."""
        if tuple(img0.shape) != self.shape or tuple(img1.shape) != self.shape:
            raise ValueError(
                f"this graph was captured for {self.shape}; got {tuple(img0.shape)} and "
                f"{tuple(img1.shape)} (build another GraphedVFIMamba for another size)"
            )
        if scale is not None and scale != self.scale:
            raise ValueError(f"this graph was captured with scale {self.scale}; got {scale}")
        self.tt.copy_(_as_timestep(t, self.shape[0], self.tt))
        self.img0.copy_(img0)
        self.img1.copy_(img1)
        if self.graph is None:
            with torch.inference_mode():
                return self._run()
        self.graph.replay()
        return self.out


def pad_to_multiple(
    x: torch.Tensor, multiple: int, mode: str = "replicate"
) -> tuple[torch.Tensor, tuple[int, int]]:
    """Pad (..., C, H, W) at the bottom and right up to multiples of ``multiple``.

    Returns the padded tensor and the original (H, W); crop with ``y[..., :H, :W]``.
    """
    h, w = x.shape[-2:]
    ph, pw = (-h) % multiple, (-w) % multiple
    if ph or pw:
        flat = F.pad(x.reshape(-1, *x.shape[-3:]), (0, pw, 0, ph), mode=mode)
        x = flat.reshape(*x.shape[:-2], h + ph, w + pw)
    return x, (h, w)


def _gauss_kernel(channels: int, device, dtype) -> torch.Tensor:
    k1 = torch.tensor([1.0, 4.0, 6.0, 4.0, 1.0], device=device, dtype=dtype) / 16
    return (k1[:, None] * k1[None, :]).expand(channels, 1, 5, 5).contiguous()


def _blur(x: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    return F.conv2d(F.pad(x, (2, 2, 2, 2), mode="replicate"), kernel, groups=x.shape[1])


def laplacian_pyramid(x: torch.Tensor, levels: int = 5) -> list[torch.Tensor]:
    """Laplacian pyramid of (N, C, H, W): ``levels`` band-pass images, then the low-pass rest."""
    kernel = _gauss_kernel(x.shape[1], x.device, x.dtype)
    pyramid = []
    for _ in range(levels):
        if min(x.shape[-2:]) < 2:
            break
        down = _blur(x, kernel)[..., ::2, ::2]
        # Upsample by zero insertion and a 4x-gain blur (the standard pyrUp).
        up = torch.zeros_like(x)
        up[..., ::2, ::2] = down * 4
        pyramid.append(x - _blur(up, kernel))
        x = down
    pyramid.append(x)
    return pyramid


def laplacian_l1(pred: torch.Tensor, target: torch.Tensor, levels: int = 5) -> torch.Tensor:
    """Laplacian-pyramid L1 loss: sum over levels of the mean |L_k(pred) - L_k(target)|.

    Args:
        pred, target: (B, C, H, W) images of the same shape. levels: band-pass levels (fewer
            when the image gets smaller than 2 pixels).

    Returns:
        A scalar float32 tensor; zero iff pred == target (the pyramid is invertible).
    """
    if pred.shape != target.shape or pred.dim() != 4:
        raise ValueError(
            f"pred and target must be (B, C, H, W) of one shape; got {tuple(pred.shape)} and "
            f"{tuple(target.shape)}"
        )
    diff = pred.float() - target.float()  # the pyramid is linear: one pyramid of the difference
    return sum(band.abs().mean() for band in laplacian_pyramid(diff, levels))
