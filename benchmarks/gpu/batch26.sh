# GPU batch 26 (one GPU; prepared in session 6, not yet run): (1) the envs' CUDA tests after the
# CPU C kernels landed (their CUDA path is unchanged; check it), (2) bf16 backward tiles with a
# time-invariant a at the video shape after a 20 s warm-up (the official run gave 79.0% fwd+bwd,
# target 80%; batch 25's short processes were too slow to compare), (3) the ConvS5 / ConvLSTM /
# Transformer training and generation benchmark on an H100 (the >= 4x training ratio was
# measured on an H200 only).
source benchmarks/gpu/setup.sh
R=/tmp/res && mkdir -p $R
cd .snap
timeout 150 python3 -P -m pytest -q -p no:cacheprovider tests/envs > $R/tests-envs.log 2>&1
timeout 150 python3 -P benchmarks/gpu/linear_scan_variants.py --bwd-sweep --warmup 20 \
  --budget 100 --out $R/lsv-bwd-warm.json > $R/lsv-bwd-warm.log 2>&1
timeout 280 python3 -P benchmarks/convs5.py --checkpoint-layers --repeats 2 --out $R/convs5-h100.json \
  > $R/convs5.log 2>&1
tar czf $OUT/results.tgz -C $R .
tail -n 2 $R/tests-envs.log; grep -v "^check" $R/lsv-bwd-warm.log | tail -n 16; tail -n 15 $R/convs5.log
