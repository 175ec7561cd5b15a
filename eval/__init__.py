"""Evaluation: PSNR, SSIM, LPIPS and FVD, protocols, reports and plots."""
