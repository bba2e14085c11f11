"""The face parser: a small UNet from a photo (RGB in [-1, 1]) to the 19
CelebAMask-HQ classes. Trained by ``train.py --method sp_embedding --stage
parser``; it serves the encoders' semantic feature-matching loss (its
decoder features of output and target) and the semantics metric of the
evaluation (the parser's reading of a face against the sketch's parts).
Saved as ``SPEmbedding/latest_net_parser.pkl`` in a checkpoint folder."""

from models.base_model import load_network
from models.sp_embedding import checkpoint as sp_ckpt
from models.sp_embedding.unet import UNet

PARSER_NAME = "parser"
PARSER_CLASSES = 19
PARSER_BASE, PARSER_DEPTH = 16, 4


def define_parser():
    """The face parser: UNet, RGB in [-1, 1] -> 19 CelebAMask-HQ classes."""
    return UNet(3, PARSER_CLASSES, base=PARSER_BASE, depth=PARSER_DEPTH)


def parser_path(root, epoch="latest"):
    return sp_ckpt.net_path(root, PARSER_NAME, epoch)


def load_parser(root):
    """The trained parser of folder ``root``, in evaluation mode."""
    return load_network(define_parser(), parser_path(root)).eval()
