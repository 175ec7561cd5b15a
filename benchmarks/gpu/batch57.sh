# GPU batch 57 (one GPU): batch 56 again after int32 offsets (OFF32) and the carry folded into
# the scan (FOLD) for pipelined lane tiles (ptxas: 250 -> 128 registers, 1074 -> 819 loop
# instructions for (32, 64, 1) with 3 stages), wider stage range. (1) the option
# tests on the GPU, where the pipeliner really runs (the interpreter runs the plain loop);
# (2) (B, T, C) at B=8, C=1536, T=65536: lane tiles with stages, each checked against the
# default path first, bf16 then fp32; (3) the same bf16 sweep at T=1024.
source benchmarks/gpu/setup.sh
R=/tmp/res57 && mkdir -p $R
cd .snap
timeout 120 python3 -P -m pytest -q -p no:cacheprovider tests/kernels/test_linear_scan.py \
  -k "options_match or variant_choice or prefetch" > $R/tests.log 2>&1
timeout 300 python3 -P benchmarks/gpu/lane_cols_sweep.py --budget 280 \
  --out $R/stages-sweep-65536.json > $R/stages-sweep-65536.log 2>&1
timeout 130 python3 -P benchmarks/gpu/lane_cols_sweep.py --budget 110 --lengths 1024 --dtypes bf16,fp32 \
  --out $R/stages-sweep-1024.json > $R/stages-sweep-1024.log 2>&1
tar czf $OUT/results.tgz -C $R .
tail -n 3 $R/tests.log; grep -v "^check" $R/stages-sweep-*.log | cut -c1-140
