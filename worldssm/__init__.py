"""worldssm: video and spatiotemporal world models built on state space models.

Everything rests on one kernel family, the diagonal linear recurrence
``h_t = a_t * h_{t-1} + b_t`` (:func:`worldssm.kernels.linear_scan`) and its selective (Mamba S6)
form (:func:`worldssm.kernels.selective_scan`).
"""

__version__ = "0.1.0"
