"""Package data: sample clips, textures, small checkpoints."""
