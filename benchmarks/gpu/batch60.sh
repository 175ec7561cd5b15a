# GPU batch 60 (one GPU): (1) ConvLSTM's share of the quality run of batch 59 (same sizes, same
# 4.2-minute budget); (2) every linear-scan test on the GPU after batch 57's picks.
source benchmarks/gpu/setup.sh
R=/tmp/res60 && mkdir -p $R
cd .snap
Q="python3 -P benchmarks/convs5_quality.py --minutes 4.2 --warmup 50 --batch 8 --seq-len 300 \
  --checkpoint-layers --test-videos 16 --set num_layers=4 --set enc_channels=[32,64,128]"
timeout 300 $Q --model convlstm --run-dir /tmp/q3 \
  --out $R/quality-convlstm.json > $R/quality-convlstm.log 2>&1
timeout 270 python3 -P -m pytest -q -p no:cacheprovider tests/kernels/test_linear_scan.py \
  > $R/tests.log 2>&1
tar czf $OUT/results.tgz -C $R .
for f in $R/quality-*.json; do python3 -c "import json,sys; d=json.load(open(sys.argv[1])); \
print(d['model'], d['train'], [(b['frames'], round(b['psnr'],2), round(b['ssim'],3)) for b in d['buckets']])" $f; done
tail -n 3 $R/quality-*.log | cut -c1-200; tail -n 3 $R/tests.log
