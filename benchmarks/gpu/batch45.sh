# GPU batch 45 (one GPU), after batch 44's picks (shift_rows for the T-major backward, bf16
# time-varying tile (256, 1, 1)): (1) tmajor_check at T = 16384, 65536 with accelerated-scan
# (checks and times of our (B, T, C) path, T-major and the peer); (2) the T-major / tile-choice
# tests on the GPU; (3) the official long benchmark at T=1024 with every peer, bf16 then fp32
# (a (B, C, T) input runs T-major from T=256 now; the peer's backward reads past its states
# tensor at this length and may kill the process, so each dtype runs in its own process).
source benchmarks/gpu/setup.sh
R=/tmp/res45 && mkdir -p $R
cd .snap
timeout 70 python3 -P benchmarks/gpu/tmajor_check.py --out $R/tmajor.json > $R/tmajor.log 2>&1
timeout 70 python3 -P -m pytest -q -p no:cacheprovider tests/kernels/test_linear_scan.py \
  -k "t_major or variant_choice" > $R/tests.log 2>&1
timeout 250 python3 -P benchmarks/scan.py --sections long --lengths 1024 --dtypes bfloat16 \
  --no-jax --out $R/scan-long-1024-bf16.json > $R/scan-long-1024-bf16.log 2>&1
timeout 140 python3 -P benchmarks/scan.py --sections long --lengths 1024 --dtypes float32 \
  --no-jax --out $R/scan-long-1024-fp32.json > $R/scan-long-1024-fp32.log 2>&1
tar czf $OUT/results.tgz -C $R .
grep -v "^check" $R/tmajor.log | cut -c1-120; grep -c "ok$" $R/tmajor.log; grep FAIL $R/tmajor.log
tail -n 2 $R/tests.log
grep "^linear_scan " $R/scan-long-1024-*.log | cut -c40-200
