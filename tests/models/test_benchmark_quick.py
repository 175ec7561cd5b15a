"""benchmarks/convs5.py runs in --quick mode and writes its JSON."""

import importlib.util
import json
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "convs5.py"


def test_convs5_benchmark_quick(tmp_path):
    spec = importlib.util.spec_from_file_location("bench_convs5", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    out = tmp_path / "r.json"
    assert mod.main(["--quick", "--models", "convs5,convlstm", "--out", str(out)]) == 0
    result = json.loads(out.read_text())
    rows = {r["model"]: r for r in result["results"]}
    for name in ("convs5_tiny", "convlstm_tiny"):
        assert rows[name]["train_step_s"] > 0 and rows[name]["generate_s"] > 0
    assert result["ratios"]["train_convlstm_over_convs5"] > 0


def test_convs5_quality_quick_reports_trivial_baselines(tmp_path):
    """The quality run scores the model and, per bucket, what it must beat."""
    path = SCRIPT.parent / "convs5_quality.py"
    spec = importlib.util.spec_from_file_location("bench_quality", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    out = tmp_path / "q.json"
    video = tmp_path / "q.mp4"
    mod.main(["--quick", "--set", "num_layers=1", "--run-dir", str(tmp_path / "run"),
              "--out", str(out), "--video", str(video)])  # fmt: skip
    result = json.loads(out.read_text())
    assert video.stat().st_size > 0 and not (tmp_path / "q.json.tmp").exists()
    assert result["model_overrides"]["num_layers"] == 1 and result["params_M"] > 0
    buckets = [b["frames"] for b in result["buckets"]]
    assert set(result["baselines"]) == {"blank frame", "last context frame", "mean of the context"}
    for rows in result["baselines"].values():
        assert [r["frames"] for r in rows] == buckets
        assert all(0 < r["psnr"] < 100 and -1 <= r["ssim"] <= 1 for r in rows)
    # Per frame of the horizon's start (6 frames in the quick run), the model and each baseline.
    first = result["first_frames_psnr"]
    assert set(first) == {"model", *result["baselines"]}
    assert all(len(v) == 6 and all(0 < x < 100 for x in v) for v in first.values())
    # Right after the context the digits have moved little: the last frame beats a blank one.
    assert (
        result["baselines"]["last context frame"][0]["psnr"]
        > result["baselines"]["blank frame"][0]["psnr"]
    )
