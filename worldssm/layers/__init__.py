"""Shared layers: S5 / ConvS5 state space layers, ResNet encoder/decoder blocks, ConvLSTM cells."""

from worldssm.layers.convlstm import ConvLSTMCell
from worldssm.layers.convs5 import ConvS5, ConvS5State
from worldssm.layers.resnet import FrameDecoder, FrameEncoder, ResBlock
from worldssm.layers.s5 import S5, S5State
from worldssm.layers.ss2d import SS2D, directional_orders
from worldssm.layers.ssm_init import SSMConfig

__all__ = [
    "S5",
    "S5State",
    "ConvS5",
    "ConvS5State",
    "SSMConfig",
    "ResBlock",
    "FrameEncoder",
    "FrameDecoder",
    "ConvLSTMCell",
    "SS2D",
    "directional_orders",
]
