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
