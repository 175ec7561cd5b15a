# GPU batch 52 (one GPU), after batch 51's picks (the register-groups T-major backward on by
# default, tiles in T_MAJOR_BWD): (1) tmajor_check at T = 16384, 65536 with accelerated-scan
# (checks and times of our (B, T, C) path, T-major and the peer); (2) sweep larger and smaller
# groups tiles, bf16 and fp32; (3) the T-major / groups / tile-choice tests on the GPU.
source benchmarks/gpu/setup.sh
R=/tmp/res52 && mkdir -p $R
cd .snap
timeout 80 python3 -P benchmarks/gpu/tmajor_check.py --out $R/tmajor.json > $R/tmajor.log 2>&1
timeout 120 python3 -P benchmarks/gpu/tmajor_check.py --sweep 85 --sweep-dtype bf16 \
  --out $R/sweep-bf16.json > $R/sweep-bf16.log 2>&1
timeout 110 python3 -P benchmarks/gpu/tmajor_check.py --sweep 75 --sweep-dtype fp32 \
  --out $R/sweep-fp32.json > $R/sweep-fp32.log 2>&1
timeout 130 python3 -P -m pytest -q -p no:cacheprovider tests/kernels/test_linear_scan.py \
  -k "t_major or groups or variant_choice" > $R/tests.log 2>&1
tar czf $OUT/results.tgz -C $R .
grep -v "^check" $R/tmajor.log | cut -c1-120; grep -c "ok$" $R/tmajor.log; grep FAIL $R/tmajor.log
cut -c1-40,120-230 $R/sweep-bf16.log $R/sweep-fp32.log; tail -n 3 $R/tests.log
