# GPU batch 11 (one GPU): first run of last session's untested CUDA work:
# the Voxel renderer rewrite and VectorEnv graph=True (tests/envs), VFI tests (tests/models),
# the interpolate CLI's CUDA-graph path with PyAV present (tests/cli), then the envs
# benchmark with --graph and a profile of the Voxel step.
source benchmarks/gpu/setup.sh
R=/tmp/res && mkdir -p $R
cd .snap
timeout 200 python3 -P -m pytest -q -x -p no:cacheprovider tests/envs > $R/tests-envs.log 2>&1
timeout 150 python3 -P -m pytest -q -p no:cacheprovider tests/models tests/cli > $R/tests-models-cli.log 2>&1
timeout 150 python3 -P benchmarks/envs.py --device cuda --graph --sizes 64 128 \
  --batches 1024 8192 65536 --out $R/envs-graph.json > $R/envs-graph.log 2>&1
timeout 60 python3 -P benchmarks/profile_ops.py envs --world VoxelMinecraft --envs 8192 --size 64 \
  --steps 20 --out $R/prof-voxel.json > $R/prof-voxel.log 2>&1
tar czf $OUT/results.tgz -C $R .
tail -n 4 $R/*.log
