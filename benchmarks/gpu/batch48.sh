# GPU batch 48 (one GPU): below T_MAJOR_MIN_T = 256 a (B, C, T) input is copied to (B, T, C);
# batch 43 only compared T-major with the (B, T, C) kernel on (B, T, C) data. Now also the copy
# path itself, at T = 32, 64, 128 and 256.
source benchmarks/gpu/setup.sh
R=/tmp/res48 && mkdir -p $R
cd .snap
timeout 150 python3 -P benchmarks/gpu/tmajor_check.py --lengths 32,64,128,256 --no-peer --copied \
  --out $R/tmajor-copied.json > $R/tmajor-copied.log 2>&1
tar czf $OUT/results.tgz -C $R .
grep -v "^check" $R/tmajor-copied.log | cut -c1-120; grep -c "ok$" $R/tmajor-copied.log
