from pathlib import Path

import numpy as np
import pytest
import torch

from filmcolor.network import ModelInfo
from train import model
from train.export import to_onnx

torch.set_num_threads(1)  # the suite runs beside other work on 2 cores; the network is small
REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> Path:
    """A small random unet as an ONNX model file: fast, and independent of the shipped model."""
    torch.manual_seed(0)
    net = model.build("unet", {"channels": [8, 16, 16, 32, 32]})
    path = tmp_path_factory.mktemp("model") / "tiny.onnx"
    to_onnx(net, ModelInfo(arch="unet", params=model.config_to_dict(net.cfg)), path)
    return path


@pytest.fixture
def photo() -> np.ndarray:
    """A real colour photo (RGB uint8) from the repository's samples."""
    import cv2

    bgr = cv2.imread(str(REPO / "tests" / "data" / "photo.jpg"))
    assert bgr is not None
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
