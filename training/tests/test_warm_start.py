"""Warm start: an exported model directory's weights load back into PyTorch exactly."""

import tempfile
import unittest
from pathlib import Path

import numpy as np
import torch
from torch import nn

from lookbook_training.export import export_image_tower, export_text_tower
from lookbook_training.model import DualEncoder, DualEncoderConfig, ImageTowerConfig, TextTowerConfig
from lookbook_training.warm_start import _initializers, calibrate_batchnorm, load_from_model_dir

CFG = DualEncoderConfig(
    dim=24,
    image=ImageTowerConfig(image_size=32, stem_channels=(4, 8), width=16, layers=2, heads=2),
    text=TextTowerConfig(vocab_size=120, context_length=8, width=16, layers=2, heads=2),
)


def trained_like(seed: int) -> DualEncoder:
    """A model whose BatchNorms have non-trivial statistics, as after training."""
    torch.manual_seed(seed)
    m = DualEncoder(CFG)
    with torch.no_grad():
        for p in m.parameters():
            p.add_(torch.randn(p.shape) * 0.05)
        for bn in (x for x in m.modules() if isinstance(x, nn.BatchNorm2d)):
            bn.running_mean.copy_(torch.randn(bn.num_features) * 0.3)
            bn.running_var.copy_(torch.rand(bn.num_features) + 0.5)
            bn.weight.copy_(torch.rand(bn.num_features) + 0.5)
    return m.eval()


class WarmStartTest(unittest.TestCase):
    def setUp(self):
        self._tmp = tempfile.TemporaryDirectory()
        self.dir = Path(self._tmp.name)
        self.source = trained_like(0)
        export_image_tower(self.source.image, self.dir / "image.onnx")
        export_text_tower(self.source.text, self.dir / "text.onnx")
        self.pixels = torch.randn(6, 3, 32, 32, generator=torch.Generator().manual_seed(2))
        self.ids = torch.randint(1, 120, (5, 8), generator=torch.Generator().manual_seed(3))

    def tearDown(self):
        self._tmp.cleanup()

    def load(self) -> DualEncoder:
        target = DualEncoder(CFG)
        report = load_from_model_dir(target, self.dir)
        self.assertEqual(report["missing"], [])
        return target.eval()

    def test_loaded_model_computes_what_the_graphs_compute(self):
        target = self.load()
        with torch.no_grad():
            np.testing.assert_allclose(target.image(self.pixels), self.source.image(self.pixels), atol=1e-5)
            np.testing.assert_allclose(target.text(self.ids), self.source.text(self.ids), atol=1e-6)
        # Tower weights come back bit for bit (only the stem was re-expressed; the loss
        # temperature is not in the graphs).
        src = dict(self.source.named_parameters())
        for name, p in target.named_parameters():
            if name.startswith(("image.", "text.")) and not name.startswith("image.stem"):
                self.assertTrue(torch.equal(p, src[name]), name)

    def test_re_export_reproduces_the_graphs_initializers(self):
        target = self.load()
        out = self.dir / "again"
        out.mkdir()
        export_image_tower(target.image, out / "image.onnx")
        export_text_tower(target.text, out / "text.onnx")
        for name in ("image.onnx", "text.onnx"):
            a, b = _initializers(self.dir / name), _initializers(out / name)
            self.assertEqual(set(a), set(b))
            for key in a:
                np.testing.assert_allclose(a[key], b[key], atol=1e-6, err_msg=f"{name} {key}")

    def test_calibration_keeps_eval_output_and_brings_train_mode_close(self):
        target = self.load()
        with torch.no_grad():
            before = target.image(self.pixels)
            target.image.train()
            uncalibrated = target.image(self.pixels)
            calibrate_batchnorm(target.image, self.pixels)
            target.image.eval()
            after = target.image(self.pixels)
            target.image.train()
            train_mode = target.image(self.pixels)
        np.testing.assert_allclose(after, before, atol=1e-5)
        # On the calibration batch train mode (batch statistics) is the eval function.
        np.testing.assert_allclose(train_mode, before, atol=1e-4)
        self.assertGreater(float((uncalibrated - before).abs().max()), 1e-2)

    def test_a_different_architecture_is_refused(self):
        other = DualEncoder(DualEncoderConfig(dim=24, image=CFG.image, text=TextTowerConfig(
            vocab_size=120, context_length=8, width=16, layers=1, heads=2)))
        with self.assertRaises(ValueError):
            load_from_model_dir(other, self.dir)

    def test_a_graph_from_another_pytorch_version_is_refused_with_the_reason(self):
        import onnx

        path = self.dir / "image.onnx"
        model = onnx.load(str(path))
        model.producer_version = "0.1.0"  # initializer names are the exporter's own
        onnx.save(model, str(path))
        with self.assertRaisesRegex(ValueError, "exported by pytorch 0.1.0"):
            load_from_model_dir(DualEncoder(CFG), self.dir)


if __name__ == "__main__":
    unittest.main()
