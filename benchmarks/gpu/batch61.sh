# GPU batch 61 (one GPU): ConvLSTM's share of batch 59's quality run (half the paper's sizes,
# the same 4.2-minute budget, 800 frames after 100 for 16 unseen videos).
source benchmarks/gpu/setup.sh
R=/tmp/res61 && mkdir -p $R
cd .snap
timeout 300 python3 -P benchmarks/convs5_quality.py --minutes 4.2 --warmup 50 --batch 8 \
  --seq-len 300 --checkpoint-layers --test-videos 16 --set num_layers=4 \
  --set enc_channels=[32,64,128] --model convlstm --run-dir /tmp/q3 \
  --out $R/quality-convlstm.json > $R/quality-convlstm.log 2>&1
tar czf $OUT/results.tgz -C $R .
python3 -c "import json,sys; d=json.load(open(sys.argv[1])); \
print(d['model'], d['train'], [(b['frames'], round(b['psnr'],2), round(b['ssim'],3)) for b in d['buckets']])" \
  $R/quality-convlstm.json; tail -n 3 $R/quality-convlstm.log | cut -c1-200
