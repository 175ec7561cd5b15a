"""Training loops: rollout, imagination and frame prediction; trainer, datasets, distributed."""
