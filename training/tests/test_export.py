import json
import tempfile
import unittest
from pathlib import Path

import numpy as np
import onnx
import torch

from lookbook_training.export import (
    describe_onnx,
    export_image_tower,
    export_lookbook_model,
    export_text_tower,
    run_onnx_if_available,
)
from lookbook_training.model import (
    DualEncoder,
    DualEncoderConfig,
    ImageTowerConfig,
    TextTower,
    TextTowerConfig,
    randomize_for_fixture,
)
from lookbook_training.preprocess import PreprocessSpec
from lookbook_training.tokenizer import Tokenizer, train_wordpiece_vocab, wordpiece_tokenizer_json

CFG = DualEncoderConfig(
    dim=24,
    image=ImageTowerConfig(image_size=32, stem_channels=(4, 8), width=16, layers=1, heads=2),
    text=TextTowerConfig(vocab_size=120, context_length=8, width=16, layers=1, heads=2),
)


def model(cfg=CFG, normalize=True):
    torch.manual_seed(0)
    m = DualEncoder(cfg, normalize=normalize)
    randomize_for_fixture(m, torch.Generator().manual_seed(1))
    return m.eval()


class ExportTest(unittest.TestCase):
    def setUp(self):
        self._tmp = tempfile.TemporaryDirectory()
        self.tmp = Path(self._tmp.name)

    def tearDown(self):
        self._tmp.cleanup()

    def assert_parity(self, path, feeds, expected):
        outputs = run_onnx_if_available(path, feeds)
        if outputs is None:
            return  # no Python runtime on Debian bookworm; the Node tests check parity
        np.testing.assert_allclose(outputs[0], expected, atol=1e-5, rtol=0)

    def test_lookbook_directory_has_checker_valid_graphs_with_dynamic_batch(self):
        vocab = train_wordpiece_vocab(["red dress", "blue shoe"], vocab_size=120)
        spec = PreprocessSpec("shortest_edge", 32, 32, "bicubic", 1 / 255, (0.5,) * 3, (0.5,) * 3)
        m = model(CFG.__class__(dim=24, image=CFG.image, text=TextTowerConfig(
            vocab_size=len(vocab), context_length=8, width=16, layers=1, heads=2)))
        manifest = export_lookbook_model(
            m, wordpiece_tokenizer_json(vocab), self.tmp, model_id="t", version="0.0.0",
            description="test", preprocess=spec,
        )
        on_disk = json.loads((self.tmp / "lookbook.json").read_text())
        self.assertEqual(on_disk, manifest)
        self.assertEqual(on_disk["format"], "lookbook.dual-encoder")
        self.assertEqual(on_disk["formatVersion"], 1)
        self.assertEqual(on_disk["text"], {"onnx": "text.onnx", "tokenizer": "tokenizer.json",
                                           "contextLength": 8, "padTokenId": 0})
        Tokenizer.from_file(self.tmp / "tokenizer.json")
        for name in ("image.onnx", "text.onnx"):
            onnx.checker.check_model(onnx.load(str(self.tmp / name)), full_check=True)
            self.assertEqual(onnx.load(str(self.tmp / name)).opset_import[0].version, 17)
        inputs, outputs = describe_onnx(self.tmp / "image.onnx")
        self.assertEqual([(t.name, t.dtype, t.shape) for t in inputs],
                         [("pixel_values", "float32", ("batch", 3, 32, 32))])
        self.assertEqual([(t.name, t.dtype, t.shape) for t in outputs],
                         [("image_embeds", "float32", ("batch", 24))])
        inputs, outputs = describe_onnx(self.tmp / "text.onnx")
        self.assertEqual([(t.name, t.dtype, t.shape) for t in inputs],
                         [("input_ids", "int64", ("batch", 8))])
        self.assertEqual([(t.name, t.dtype, t.shape) for t in outputs],
                         [("text_embeds", "float32", ("batch", 24))])
        pixels = np.random.RandomState(0).randn(3, 3, 32, 32).astype(np.float32)
        with torch.no_grad():
            expected = m.image(torch.from_numpy(pixels)).numpy()
        self.assert_parity(self.tmp / "image.onnx", {"pixel_values": pixels}, expected)

    def test_manifest_refuses_a_crop_that_does_not_fit_the_tower(self):
        spec = PreprocessSpec("squash", 64, None, "bicubic", 1 / 255, (0.5,) * 3, (0.5,) * 3)
        with self.assertRaises(ValueError):
            export_lookbook_model(model(), {}, self.tmp, model_id="t", version="0", description="",
                                  preprocess=spec, write_onnx=False)

    def test_hf_style_text_graph_takes_a_mask_and_a_dynamic_sequence(self):
        cfg = TextTowerConfig(vocab_size=120, context_length=8, width=16, layers=1, heads=2,
                              pad_id=119, pooling="eos_argmax", causal=True)
        torch.manual_seed(0)
        tower = TextTower(cfg, 24, normalize=False).eval()
        path = self.tmp / "text_model.onnx"
        export_text_tower(tower, path, mask_input="attention_mask",
                          hidden_output="last_hidden_state", dynamic_sequence=True)
        inputs, outputs = describe_onnx(path)
        self.assertEqual([(t.name, t.dtype, t.shape) for t in inputs],
                         [("input_ids", "int64", ("batch", "sequence")),
                          ("attention_mask", "int64", ("batch", "sequence"))])
        self.assertEqual([(t.name, t.shape) for t in outputs],
                         [("text_embeds", ("batch", 24)), ("last_hidden_state", ("batch", "sequence", 16))])
        ids = np.array([[118, 5, 119, 119, 119]], dtype=np.int64)
        mask = np.array([[1, 1, 1, 0, 0]], dtype=np.int64)
        with torch.no_grad():
            expected = tower(torch.from_numpy(ids), torch.from_numpy(mask)).numpy()
        self.assert_parity(path, {"input_ids": ids, "attention_mask": mask}, expected)

    def test_openclip_style_graphs_use_their_names_and_int32_text(self):
        m = model(normalize=False)
        visual, textual = self.tmp / "visual.onnx", self.tmp / "textual.onnx"
        export_image_tower(m.image, visual, input_name="image", output_name="embedding")
        export_text_tower(m.text, textual, input_name="text", output_name="embedding",
                          input_dtype=torch.int32)
        self.assertEqual([(t.name, t.dtype) for t in describe_onnx(visual)[0]], [("image", "float32")])
        self.assertEqual([(t.name, t.dtype, t.shape) for t in describe_onnx(textual)[0]],
                         [("text", "int32", ("batch", 8))])
        self.assertEqual([t.name for t in describe_onnx(textual)[1]], ["embedding"])

    def test_export_is_byte_for_byte_reproducible(self):
        m = model()
        a, b = self.tmp / "a.onnx", self.tmp / "b.onnx"
        export_image_tower(m.image, a)
        export_image_tower(m.image, b)
        self.assertEqual(a.read_bytes(), b.read_bytes())


if __name__ == "__main__":
    unittest.main()
