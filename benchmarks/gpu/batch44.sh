# GPU batch 44 (one GPU): (1) T-major backward sweep at B=8, C=1536, T=65536 with shift_rows
# (a_{t+1}, h_{t-1} from aligned loads shifted in registers) against the rev_scan defaults, each
# checked against the default path first, bf16 and fp32; (2) memcheck of our kernels with the
# shift_rows cases added; (3) the T-major / tile-choice tests on the GPU; (4) the official long
# benchmark at T=1024 with every peer, now that a (B, C, T) input runs T-major from T=256
# (last: the peer's backward reads past its states tensor and may kill the process).
source benchmarks/gpu/setup.sh
R=/tmp/res44 && mkdir -p $R
cd .snap
timeout 110 python3 -P benchmarks/gpu/tmajor_check.py --sweep 90 --sweep-dtype bf16 \
  --out $R/sweep-bf16.json > $R/sweep-bf16.log 2>&1
timeout 110 python3 -P benchmarks/gpu/tmajor_check.py --sweep 90 --sweep-dtype fp32 \
  --out $R/sweep-fp32.json > $R/sweep-fp32.log 2>&1
timeout 150 compute-sanitizer --tool memcheck --print-limit 20 python3 -P \
  benchmarks/gpu/memcheck_scan.py --which ours > $R/memcheck-ours.log 2>&1
echo "memcheck ours rc=$?" >> $R/memcheck-ours.log
timeout 120 python3 -P -m pytest -q -p no:cacheprovider tests/kernels/test_linear_scan.py \
  -k "t_major or variant_choice" > $R/tests.log 2>&1
timeout 180 python3 -P benchmarks/scan.py --sections long --lengths 1024 --no-jax \
  --out $R/scan-long-1024.json > $R/scan-long-1024.log 2>&1
tar czf $OUT/results.tgz -C $R .
cut -c1-190 $R/sweep-bf16.log $R/sweep-fp32.log; tail -n 4 $R/memcheck-ours.log; tail -n 2 $R/tests.log
grep "linear_scan " $R/scan-long-1024.log | cut -c17-175; tail -n 3 $R/scan-long-1024.log
