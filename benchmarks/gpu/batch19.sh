# GPU batch 19 (one GPU): helper-16's Voxel renderer changes (shared with CUDA) on a GPU: the
# envs tests (CPU/CUDA agreement, sync-free dispatch, graph replay), then the Voxel benchmark.
source benchmarks/gpu/setup.sh
R=/tmp/res && mkdir -p $R
cd .snap
timeout 150 python3 -P -m pytest -q -p no:cacheprovider tests/envs > $R/tests-envs.log 2>&1
timeout 90 python3 -P benchmarks/envs.py --device cuda --graph --worlds VoxelMinecraft --sizes 64 128 \
  --batches 1024 8192 65536 --out $R/envs-voxel.json > $R/envs-voxel.log 2>&1
tar czf $OUT/results.tgz -C $R .
tail -n 3 $R/tests-envs.log; grep -v peer $R/envs-voxel.log | tail -9
