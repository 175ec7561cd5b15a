"""keep_freed_memory: the glibc malloc setting for CPU renders (process-wide, opt-in)."""

import subprocess
import sys

import pytest

SCRIPT = """
import resource, torch
from worldssm.envs import make_world
from worldssm.envs.cpu_allocator import keep_freed_memory
torch.set_num_threads(1)
if {tuned}:
    assert keep_freed_memory() and keep_freed_memory()  # idempotent
w = make_world("IndoorHabitat", 1024, image_size=64)
w.reset(torch.arange(1024), [i % 256 for i in range(1024)])
g = torch.Generator().manual_seed(0)
for _ in range(3):
    w.step(torch.randint(0, len(w.actions), (1024,), generator=g)); w.render()
counts = []
for _ in range(4):  # windows of 2 steps: the heap may still grow once to a new largest step
    f0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(2):
        w.step(torch.randint(0, len(w.actions), (1024,), generator=g)); w.render()
    counts.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - f0)
print(min(counts))
"""


def _faults(tuned: bool, cwd) -> int:
    # cwd: a source checkout in the working directory must not shadow the installed package.
    out = subprocess.run([sys.executable, "-c", SCRIPT.format(tuned=tuned)],
                         capture_output=True, text=True, cwd=cwd)  # fmt: skip
    assert out.returncode == 0, out.stderr
    return int(out.stdout.strip().splitlines()[-1])


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc mallopt")
def test_keep_freed_memory_stops_page_faults_in_renders(tmp_path):
    # Warm renders of the same batch reuse the memory they freed: (almost) no new pages in
    # most windows (untuned, every step faults 8-36k pages back in).
    assert _faults(True, tmp_path) < 200


def test_opt_out(monkeypatch):
    from worldssm.envs import cpu_allocator

    monkeypatch.setattr(cpu_allocator, "_applied", False)
    monkeypatch.setenv("WORLDSSM_MALLOC_TUNING", "0")
    assert cpu_allocator.keep_freed_memory() is False
