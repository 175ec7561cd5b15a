# GPU batch 59 (one GPU): the short quality run at half the paper's sizes (encoder widths
# (32, 64, 128), 4 layers; ConvS5 state 128; Transformer width 256, 4 heads), moving digits
# 64x64, T=300 clips, batch 8, the same 4.2-minute wall-clock budget for each model, then 800
# frames predicted after 100 for 16 unseen videos. ConvS5 and the frame Transformer here, one
# after the other on the whole GPU; ConvLSTM in batch 60.
source benchmarks/gpu/setup.sh
R=/tmp/res59 && mkdir -p $R
cd .snap
Q="python3 -P benchmarks/convs5_quality.py --minutes 4.2 --warmup 50 --batch 8 --seq-len 300 \
  --checkpoint-layers --test-videos 16 --set num_layers=4 --set enc_channels=[32,64,128]"
timeout 290 $Q --model convs5 --set state_size=128 --run-dir /tmp/q1 \
  --out $R/quality-convs5.json > $R/quality-convs5.log 2>&1
timeout 290 $Q --model frame_transformer --set width=256 --set heads=4 --run-dir /tmp/q2 \
  --out $R/quality-transformer.json > $R/quality-transformer.log 2>&1
tar czf $OUT/results.tgz -C $R .
for f in $R/quality-*.json; do python3 -c "import json,sys; d=json.load(open(sys.argv[1])); \
print(d['model'], d['train'], [(b['frames'], round(b['psnr'],2), round(b['ssim'],3)) for b in d['buckets']]); \
print(' last ctx', [round(b['psnr'],2) for b in d['baselines']['last context frame']], \
'blank', [round(b['psnr'],2) for b in d['baselines']['blank frame']])" $f; done
tail -n 5 $R/quality-*.log | cut -c1-200
