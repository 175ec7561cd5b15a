"""Frame-prediction models: ConvS5 video model and its ConvLSTM and Transformer baselines."""

from worldssm.models.base import FramePredictor, VideoModelConfig
from worldssm.models.convlstm import ConvLSTMVideo, ConvLSTMVideoConfig
from worldssm.models.convs5_video import ConvS5Video, ConvS5VideoConfig
from worldssm.models.frame_transformer import FrameTransformer, FrameTransformerConfig
from worldssm.models.param_groups import param_groups
from worldssm.models.rssm import RSSM, RSSMConfig
from worldssm.models.s4wm import S4WM, S4WMConfig
from worldssm.models.transformer_wm import TransformerWM, TransformerWMConfig
from worldssm.models.vfimamba import VFIMamba, VFIMambaConfig, laplacian_l1
from worldssm.models.world_model import WorldModel, WorldModelConfig, WorldModelState

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
    "WorldModel",
    "WorldModelConfig",
    "WorldModelState",
    "S4WM",
    "S4WMConfig",
    "RSSM",
    "RSSMConfig",
    "TransformerWM",
    "TransformerWMConfig",
]
