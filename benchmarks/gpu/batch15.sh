# GPU batch 15 (one GPU, ~3 min): where the linear_scan backward's time goes
# (benchmarks/gpu/scan_bwd_profile.py): complex64 pairs (old) and packed (new default) and bf16 /
# fp32 at the video shape, each checked against the PyTorch path, then fwd, fwd+bwd, backward
# alone, the ones_like fill, a reference add, the reverse scan, and per-kernel device times from
# torch.profiler; each with the backward's new one-tile load prefetch off (run 1's code) and on.
# Then the kernel tests (packed complex and the prefetch are now the defaults).
source benchmarks/gpu/setup.sh
R=/tmp/res && mkdir -p $R
cd .snap
timeout 170 python3 -P benchmarks/gpu/scan_bwd_profile.py --out $R/scan-bwd-profile.json \
  > $R/scan-bwd-profile.log 2>&1
timeout 150 python3 -P -m pytest -q -x -p no:cacheprovider tests/kernels/test_linear_scan.py \
  > $R/tests-linear-scan.log 2>&1
tar czf $OUT/results.tgz -C $R .
grep -v "^ *$" $R/scan-bwd-profile.log | tail -n 80
tail -n 4 $R/tests-linear-scan.log
