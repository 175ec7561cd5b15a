# GPU batch 51 (one GPU): the register-groups T-major backward (triton_groups.py). (1) Sweep its
# tiles against the rev_scan/shift_rows defaults at B=8, C=1536, T=65536, each checked against
# the (B, T, C) path first, bf16 and fp32; (2) the T-major / groups / tile-choice tests on the
# GPU; (3) memcheck of our kernels with the groups cases added.
source benchmarks/gpu/setup.sh
R=/tmp/res51 && mkdir -p $R
cd .snap
timeout 140 python3 -P benchmarks/gpu/tmajor_check.py --sweep 100 --sweep-dtype bf16 \
  --out $R/sweep-bf16.json > $R/sweep-bf16.log 2>&1
timeout 140 python3 -P benchmarks/gpu/tmajor_check.py --sweep 100 --sweep-dtype fp32 \
  --out $R/sweep-fp32.json > $R/sweep-fp32.log 2>&1
timeout 150 python3 -P -m pytest -q -p no:cacheprovider tests/kernels/test_linear_scan.py \
  -k "t_major or groups or variant_choice" > $R/tests.log 2>&1
timeout 130 compute-sanitizer --tool memcheck --print-limit 20 python3 -P \
  benchmarks/gpu/memcheck_scan.py --which ours > $R/memcheck-ours.log 2>&1
echo "memcheck ours rc=$?" >> $R/memcheck-ours.log
tar czf $OUT/results.tgz -C $R .
cut -c1-230 $R/sweep-bf16.log $R/sweep-fp32.log; tail -n 6 $R/memcheck-ours.log; tail -n 12 $R/tests.log
