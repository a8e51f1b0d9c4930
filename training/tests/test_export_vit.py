import json
import tempfile
import unittest
from pathlib import Path

import onnx
import torch
from onnx import TensorProto

from lookbook_training.export import describe_onnx
from lookbook_training.export_vit import SIZES, build_model, convert_to_fp16, export_dirs, main, time_pytorch
from lookbook_training.model import ImageTower, ImageTowerConfig, TextTower, TextTowerConfig

REPO = Path(__file__).resolve().parents[2]


class PatchEmbeddingTest(unittest.TestCase):
    def test_vit_b32_image_tower_is_one_patch_convolution_on_a_7x7_grid(self):
        cfg = SIZES["vit-b32"].image
        self.assertEqual(cfg.grid_size, 7)
        tower = ImageTower(ImageTowerConfig(image_size=64, patch_size=32, width=16, layers=1, heads=2), dim=8)
        self.assertEqual(len(tower.stem), 1)
        self.assertEqual(tuple(tower.stem[0].weight.shape), (16, 3, 32, 32))
        self.assertEqual(tuple(tower.pos_embed.shape), (2 * 2 + 1, 16))
        self.assertEqual(tuple(tower(torch.zeros(3, 3, 64, 64)).shape), (3, 8))

    def test_vit_b32_has_clip_sized_towers(self):
        model = build_model("vit-b32")
        image = sum(p.numel() for p in model.image.parameters())
        text = sum(p.numel() for p in model.text.parameters())
        # CLIP ViT-B/32: 87.8 M (vision) and 63.2 M (text) parameters; no ln_pre / biases differ slightly.
        self.assertTrue(86e6 < image < 89e6, image)
        self.assertTrue(62e6 < text < 64.5e6, text)

    def test_float16_text_tower_masks_padding_without_nan(self):
        tower = TextTower(TextTowerConfig(vocab_size=50, context_length=6, width=16, layers=1, heads=2, causal=True), dim=8)
        ids = torch.tensor([[2, 7, 3, 0, 0, 0]])
        # Debian's PyTorch 1.13 has no float16 matrix products on the CPU: check the bias alone.
        x = torch.zeros(1, 6, 16, dtype=torch.float16)
        from lookbook_training.model import MASKED_SCORE_FP16

        keep = ids != 0
        bias = (1.0 - keep.to(x.dtype))[:, None, None, :] * MASKED_SCORE_FP16
        self.assertTrue(torch.isfinite(bias).all())
        self.assertTrue(torch.isfinite(tower(ids)).all())


class ExportVitTest(unittest.TestCase):
    def test_writes_fp32_and_fp16_directories_the_service_loads(self):
        model = build_model("tiny")
        with tempfile.TemporaryDirectory() as tmp:
            dirs = export_dirs(model, Path(tmp), REPO / "models" / "lookbook-emoji", "tiny")
            for precision, directory in dirs.items():
                manifest = json.loads((directory / "lookbook.json").read_text())
                self.assertEqual(manifest["image"]["preprocess"]["size"], 64)
                self.assertEqual(manifest["text"]["contextLength"], 77)
                self.assertTrue((directory / "tokenizer.json").exists())
                inputs, outputs = describe_onnx(directory / "image.onnx")
                self.assertEqual((inputs[0].name, inputs[0].dtype, inputs[0].shape), ("pixel_values", "float32", ("batch", 3, 64, 64)))
                self.assertEqual((outputs[0].name, outputs[0].dtype), ("image_embeds", "float32"))
                inputs, outputs = describe_onnx(directory / "text.onnx")
                self.assertEqual((inputs[0].name, inputs[0].dtype, inputs[0].shape), ("input_ids", "int64", ("batch", 77)))
                self.assertEqual(outputs[0].dtype, "float32")
            half = onnx.load(str(dirs["fp16"] / "image.onnx"))
            types = {init.data_type for init in half.graph.initializer}
            self.assertNotIn(TensorProto.FLOAT, types)
            self.assertIn(TensorProto.FLOAT16, types)
            self.assertLess((dirs["fp16"] / "image.onnx").stat().st_size, 0.6 * (dirs["fp32"] / "image.onnx").stat().st_size)

    def test_fp16_conversion_clips_the_padding_bias_to_a_finite_value(self):
        model = build_model("tiny")
        with tempfile.TemporaryDirectory() as tmp:
            dirs = export_dirs(model, Path(tmp), REPO / "models" / "lookbook-emoji", "tiny")
            half = convert_to_fp16(onnx.load(str(dirs["fp32"] / "text.onnx")))
            from onnx import numpy_helper

            for init in half.graph.initializer:
                if init.data_type == TensorProto.FLOAT16:
                    self.assertTrue(abs(numpy_helper.to_array(init).astype("float32")).max() <= 65504)

    def test_times_the_towers_on_the_cpu(self):
        result = time_pytorch(build_model("tiny"), [1, 2], warmup=0, iterations=1, device="cpu")
        self.assertEqual({(r["tower"], r["batch"], r["precision"]) for r in result["rows"]},
                         {(t, b, "fp32") for t in ("image", "text") for b in (1, 2)})
        self.assertTrue(all(r["items_per_s"] > 0 for r in result["rows"]))

    def test_command_line_writes_json(self):
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "r.json"
            self.assertEqual(main(["--size", "tiny", "--time", "--batches", "1", "--warmup", "0", "--iterations", "1", "--json", str(out)]), 0)
            self.assertEqual(json.loads(out.read_text())["size"], "tiny")


if __name__ == "__main__":
    unittest.main()
