"""Frame-prediction models: ConvS5 video model and its ConvLSTM and Transformer baselines."""

from worldssm.models.base import FramePredictor, VideoModelConfig
from worldssm.models.convlstm import ConvLSTMVideo, ConvLSTMVideoConfig
from worldssm.models.convs5_video import ConvS5Video, ConvS5VideoConfig
from worldssm.models.frame_transformer import FrameTransformer, FrameTransformerConfig
from worldssm.models.param_groups import param_groups
from worldssm.models.vfimamba import VFIMamba, VFIMambaConfig, laplacian_l1

__all__ = [
    "FramePredictor",
    "VideoModelConfig",
    "ConvS5Video",
    "ConvS5VideoConfig",
    "ConvLSTMVideo",
    "ConvLSTMVideoConfig",
    "FrameTransformer",
    "FrameTransformerConfig",
    "param_groups",
    "VFIMamba",
    "VFIMambaConfig",
    "laplacian_l1",
]
