"""Scan kernel benchmark (same as ``worldssm bench scan``); see benchmarks/README.md.

python benchmarks/scan.py --out benchmarks/results/scan-h100.json     # on a GPU
python benchmarks/scan.py --quick                                     # on a CPU
"""

import sys

from worldssm.kernels.benchmark import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
