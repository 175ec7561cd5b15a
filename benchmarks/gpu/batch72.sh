# GPU batch 72 (one GPU): the tiny ConvS5 quality run again (batch 62's settings, 3.5 minutes),
# now recording per-frame PSNR over the first 20 predicted frames (first_frames_psnr) beside the
# trivial predictions, and a real | predicted video: does the model hold the digits for a few
# frames before it drifts, or is the first predicted frame already no better than a blank one?
# First run (2026-11-28): it trained, then died writing the video (PyAV is not among the carried
# wheels, .whl) before the JSON was written; convs5_quality.py now writes the JSON first, and
# this script asks for no video (carry .whl-av, PyAV's wheel, for one: setup.sh installs it).
# Not rerun: the session's device time was spent.
source benchmarks/gpu/setup.sh
R=/tmp/res72 && mkdir -p $R
cd .snap
timeout 280 python3 -P benchmarks/convs5_quality.py --minutes 3.5 --warmup 50 --batch 8 \
  --seq-len 300 --image-size 32 --test-videos 16 --model convs5_tiny --run-dir /tmp/q-convs5 \
  --out $R/quality-convs5.json > $R/quality-convs5.log 2>&1
cp $R/* $OUT/ 2>/dev/null
tail -n 5 $R/quality-convs5.log
python3 -c "import json; d=json.load(open('$R/quality-convs5.json')); print(d['train']); \
[print(k, [round(x, 1) for x in v]) for k, v in d['first_frames_psnr'].items()]"
