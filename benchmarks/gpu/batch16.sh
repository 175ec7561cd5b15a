# GPU batch 16 (one GPU, PyAV wheel in .whl/): `worldssm interpolate` end to end on a 1080p
# H.264 + AAC clip with the sequential inference scan, then the CLI tests on CUDA.
source benchmarks/gpu/setup.sh
R=/tmp/res && mkdir -p $R
cd .snap
timeout 240 python3 -P benchmarks/gpu/cli_e2e.py --frames 90 --out $R/cli-e2e.json > $R/cli-e2e.log 2>&1
timeout 200 python3 -P -m pytest -q -p no:cacheprovider tests/cli tests/models/test_vfimamba_fast.py \
  > $R/tests-cli.log 2>&1
tar czf $OUT/results.tgz -C $R .
grep -v "interpolate:" $R/cli-e2e.log | tail -8; tail -n 4 $R/tests-cli.log
