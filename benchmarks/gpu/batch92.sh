# GPU batch 92 (one H200; the GPU itself unused): the selective-scan training kernels compiled by
# the device's Triton (3.6) with the forward launches' FLIPS 0 and 2, bf16 and fp32, for a diff.
source benchmarks/gpu/setup.sh
for dt in bf16 fp32; do
  timeout 200 python3 -P .snap/benchmarks/gpu/selective_codegen_dump.py $OUT/codegen $dt fwd,bwd 0,2 \
    | tee -a $OUT/codegen.jsonl
done
