"""The worldssm command: help, info, and the quick scan benchmark (the README's first command)."""

import json

from worldssm.cli import main


def test_help_lists_commands(capsys):
    assert main([]) == 2
    out = capsys.readouterr().out
    assert "info" in out and "bench" in out


def test_info_json(capsys):
    assert main(["info", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["scan_backend_on_default_device"] in ("torch", "triton")
    assert "torch" in info


def test_bench_scan_quick_writes_results(tmp_path, capsys):
    out = tmp_path / "scan.json"
    assert main(["bench", "scan", "--quick", "--device", "cpu", "--out", str(out)]) == 0
    report = json.loads(out.read_text())
    assert report["copy_bandwidth_GBps"] > 0
    assert all(c["pass"] for c in report["checks"])
    timed = [r for r in report["results"] if r["pass_"] == "ok"]
    assert any(r["impl"].startswith("worldssm") and r["ms"] > 0 for r in timed)
