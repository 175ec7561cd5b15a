"""Frame-interpolation objective, motion curriculum, padding and validation helpers.

Model contract (``worldssm.models.vfimamba``): ``model(img0, img1, t) -> pred`` with images
(B, 3, H, W) in [0, 1], ``t`` (B,) in (0, 1), H and W multiples of ``model.pad_multiple``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

# data.kind values of the interpolation task (the trainer picks the task from data.kind).
TRIPLET_KINDS = ("vfi_embedded", "vimeo90k", "video_triplets")


@dataclass(frozen=True)
class Curriculum:
    """Small motions first, then larger ones (VFIMamba trains on Vimeo90K first and adds the
    large-motion X-TRAIN set progressively; here the motion range itself grows).

    The allowed motion is ``start`` (a fraction of the maximum) at step 0 and grows linearly to the
    maximum at ``steps``; ``steps=0`` disables the curriculum. A pure function of the step, so a
    resumed run sees the same data.
    """

    steps: int = 0
    start: float = 0.25

    def fraction(self, step: int) -> float:
        if self.steps <= 0:
            return 1.0
        return self.start + (1.0 - self.start) * min(1.0, max(0, step) / self.steps)

    def max_gap(self, step: int, max_gap: int) -> int:
        """Largest frame gap (>= 2) allowed at ``step`` for video/environment triplets."""
        return max(2, round(2 + (max_gap - 2) * self.fraction(step)))

    def max_motion(self, step: int, max_motion: float) -> float:
        """Largest synthetic displacement (pixels between img0 and img1) allowed at ``step``."""
        return max_motion * self.fraction(step)


def laplacian_loss(pred: torch.Tensor, gt: torch.Tensor) -> torch.Tensor:
    """The model's Laplacian-pyramid L1 (``worldssm.models.vfimamba.laplacian_l1``), in fp32."""
    from worldssm.models.vfimamba import laplacian_l1

    return laplacian_l1(pred.float(), gt.float())


def as_time(t, batch: int, device) -> torch.Tensor:
    """A float or a (B,) tensor -> (B,) float32 on ``device``."""
    t = torch.as_tensor(t, dtype=torch.float32, device=device)
    return t.expand(batch).contiguous() if t.dim() == 0 else t.reshape(batch)


def psnr_batch(pred: torch.Tensor, gt: torch.Tensor) -> torch.Tensor:
    """(B,) PSNR in dB of images in [0, 1] ((B, C, H, W)); predictions are rounded to 8 bits
    first, as when frames are saved."""
    p = (pred.float().clamp(0, 1) * 255).round() / 255
    mse = (p - gt.float()).square().flatten(1).mean(1)
    return 10 * torch.log10(1.0 / mse.clamp_min(1e-10))


@torch.no_grad()
def validate(model, batches: list[dict], device, amp: bool = False) -> dict:
    """Mean PSNR of ``model`` and of linear blending over fixed triplet ``batches``."""
    was_training = model.training
    model.eval()
    scores, blend = [], []
    for b in batches:
        img0, img1, gt = (b[k].to(device) for k in ("img0", "img1", "gt"))
        t = b["t"].to(device)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
            pred = model(img0, img1, t)
        scores.append(psnr_batch(pred, gt))
        w = t.view(-1, 1, 1, 1)
        blend.append(psnr_batch((1 - w) * img0 + w * img1, gt))
    model.train(was_training)
    return {"psnr": torch.cat(scores).mean().item(), "psnr_blend": torch.cat(blend).mean().item()}


def sample_strip(batch: dict, pred: torch.Tensor, n: int = 4) -> torch.Tensor:
    """(n, 3, H, 4W) rows img0 | gt | pred | img1 for TensorBoard."""
    n = min(n, pred.shape[0])
    parts = [batch["img0"][:n], batch["gt"][:n], pred[:n].detach(), batch["img1"][:n]]
    return torch.cat([p.float().cpu() for p in parts], dim=-1).clamp(0, 1)
