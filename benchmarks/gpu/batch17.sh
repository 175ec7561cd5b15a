# GPU batch 17 (one GPU, PyAV wheel in .whl/): batch 15's linear_scan backward profile (complex
# packed + tile prefetch against run 1's code, bf16, fp32) and kernel tests, then `worldssm
# interpolate` end to end on 1080p with the threaded decode/encode pipeline, and the CLI tests.
source benchmarks/gpu/setup.sh
R=/tmp/res && mkdir -p $R
cd .snap
timeout 170 python3 -P benchmarks/gpu/scan_bwd_profile.py --out $R/scan-bwd-profile.json \
  > $R/scan-bwd-profile.log 2>&1
timeout 120 python3 -P -m pytest -q -x -p no:cacheprovider tests/kernels/test_linear_scan.py \
  > $R/tests-linear-scan.log 2>&1
timeout 150 python3 -P benchmarks/gpu/cli_e2e.py --frames 90 --out $R/cli-e2e.json > $R/cli-e2e.log 2>&1
timeout 100 python3 -P -m pytest -q -p no:cacheprovider tests/cli tests/train/test_vfi_video_pipeline.py \
  > $R/tests-cli.log 2>&1
tar czf $OUT/results.tgz -C $R .
grep -v "^ *$" $R/scan-bwd-profile.log | tail -n 60
tail -n 2 $R/tests-linear-scan.log $R/tests-cli.log; grep -v "interpolate:" $R/cli-e2e.log | tail -4
