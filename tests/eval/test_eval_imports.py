"""worldssm.eval stands on torch and its own libraries: it never imports models or training."""

import subprocess
import sys


def test_eval_imports_no_models_or_training():
    code = (
        "import sys, worldssm.eval, worldssm.eval.protocols, worldssm.eval.report, "
        "worldssm.eval.weights\n"
        "bad = [m for m in sys.modules if m.startswith(('worldssm.train', 'worldssm.models', "
        "'worldssm.layers', 'worldssm.envs'))]\n"
        "assert not bad, bad\n"
        "assert 'lpips' not in sys.modules  # the lpips package is only read for its heads file\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
