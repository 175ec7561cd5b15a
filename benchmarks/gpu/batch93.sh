# GPU batch 93 (one H200): which code the device's Triton (3.6) makes of the linear scan's
# kernels on (B, T, C) data (fp32 and bf16, a time-varying and time-invariant: the bf16 path is
# short of the bandwidth targets) and of the selective scan's; recompiled later with Triton 3.8
# here (triton_codegen_census.py --recompile) to compare.
source benchmarks/gpu/setup.sh
C=.snap/benchmarks/gpu/triton_codegen_census.py
timeout 300 python3 -P $C --out $OUT/linear --workload linear-btc | cut -c1-400
timeout 150 python3 -P $C --out $OUT/selective --workload selective | cut -c1-400
