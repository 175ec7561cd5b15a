# GPU batch 82 (one H200): is the selective scan's fwd+bwd slower than in run 7 (6.10 ms, H100,
# commit 212e7dc) because of the code or the timing? Today's package and 212e7dc's (carried as
# .snapold), the same script, eager (do_bench) and, for today's, graph-timed.
source benchmarks/gpu/setup.sh
rm -rf /tmp/pkgold && mkdir -p /tmp/pkgold && cp -r .snapold/worldssm /tmp/pkgold/
for d in kernels envs train eval assets; do cp -r ".snapold/$d" "/tmp/pkgold/worldssm/$d"; done
S=.snap/benchmarks/gpu/selective_regress.py
timeout 100 python3 -P $S head | tee $OUT/regress.jsonl
PYTHONPATH=/tmp/pkgold timeout 100 python3 -P $S 212e7dc | tee -a $OUT/regress.jsonl
