# GPU batch 62 (one GPU; prepared, not yet run): the quality run at the tiny presets (32x32
# frames, encoder (16, 32, 32), 2 layers), where a few minutes buy thousands of steps; batch 59's
# half-size models did not beat a blank frame in 4.2 minutes. Each model has the whole GPU for
# the same 2.8 minutes, then predicts 800 frames after 100 for 16 unseen videos.
source benchmarks/gpu/setup.sh
R=/tmp/res62 && mkdir -p $R
cd .snap
Q="python3 -P benchmarks/convs5_quality.py --minutes 2.8 --warmup 50 --batch 8 --seq-len 300 \
  --image-size 32 --test-videos 16"
for m in convs5 frame_transformer convlstm; do
  timeout 190 $Q --model ${m}_tiny --run-dir /tmp/q-$m --out $R/quality-$m.json > $R/quality-$m.log 2>&1
done
tar czf $OUT/results.tgz -C $R .
for f in $R/quality-*.json; do python3 -c "import json,sys; d=json.load(open(sys.argv[1])); \
print(d['model'], d['train'], [(b['frames'], round(b['psnr'],2), round(b['ssim'],3)) for b in d['buckets']]); \
print(' blank', [round(b['psnr'],2) for b in d['baselines']['blank frame']])" $f; done
