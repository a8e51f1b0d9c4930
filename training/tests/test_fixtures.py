import base64
import json
import tempfile
import unittest
from pathlib import Path

import numpy as np

from lookbook_training.make_fixtures import REPO_ROOT, generate

REFERENCES = ("fixture", "hf-clip-tiny", "openclip-tiny")  # named after the model directories


def tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


class FixturesTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls._tmp = tempfile.TemporaryDirectory()
        cls.root = Path(cls._tmp.name) / "a"
        generate(cls.root, log=lambda _: None)
        cls.refs = {
            name: json.loads((cls.root / "test/fixtures/reference" / f"{name}.json").read_text())
            for name in REFERENCES
        }

    @classmethod
    def tearDownClass(cls):
        cls._tmp.cleanup()

    def test_generating_twice_writes_identical_files(self):
        again = Path(self._tmp.name) / "b"
        generate(again, log=lambda _: None)
        first, second = tree(self.root), tree(again)
        self.assertEqual(sorted(first), sorted(second))
        for name in first:
            self.assertEqual(first[name], second[name], name)

    def test_every_model_directory_has_its_layout_files(self):
        for rel in (
            "models/fixture/lookbook.json", "models/fixture/image.onnx", "models/fixture/text.onnx",
            "models/fixture/tokenizer.json", "models/fixture/README.md",
            "test/fixtures/models/hf-clip-tiny/onnx/vision_model.onnx",
            "test/fixtures/models/hf-clip-tiny/onnx/text_model.onnx",
            "test/fixtures/models/hf-clip-tiny/tokenizer.json",
            "test/fixtures/models/hf-clip-tiny/tokenizer_config.json",
            "test/fixtures/models/hf-clip-tiny/preprocessor_config.json",
            "test/fixtures/models/hf-clip-tiny/config.json",
            "test/fixtures/models/openclip-tiny/visual/model.onnx",
            "test/fixtures/models/openclip-tiny/visual/preprocess_cfg.json",
            "test/fixtures/models/openclip-tiny/textual/model.onnx",
            "test/fixtures/models/openclip-tiny/textual/tokenizer.json",
            "test/fixtures/models/openclip-tiny/textual/tokenizer_config.json",
            "test/fixtures/models/openclip-tiny/config.json",
        ):
            self.assertTrue((self.root / rel).is_file(), rel)
        onnx_bytes = sum((self.root / "models/fixture" / n).stat().st_size for n in ("image.onnx", "text.onnx"))
        self.assertLess(onnx_bytes, 2_000_000)

    def test_references_cover_the_required_cases(self):
        for name, ref in self.refs.items():
            texts = {t["text"]: t for t in ref["texts"]}
            self.assertTrue(any(t["truncated"] for t in ref["texts"]), name)
            self.assertIn("a", texts)
            for t in ref["texts"]:
                self.assertEqual(len(t["ids"]), ref["context_length"])
                self.assertEqual(len(t["embedding"]), ref["dimension"])
                self.assertAlmostEqual(float(np.linalg.norm(t["embedding"])), 1.0, places=5)
                self.assertEqual("attention_mask" in t, name == "hf-clip-tiny")
            for image in ref["images"]:
                pixels = np.frombuffer(base64.b64decode(image["pixel_values_b64"]), dtype="<f4")
                self.assertEqual(pixels.size, int(np.prod(image["shape"])))
                self.assertEqual(image["shape"][1:], [ref["preprocess"]["crop"] or ref["preprocess"]["size"]] * 2)
                self.assertAlmostEqual(float(np.linalg.norm(image["embedding"])), 1.0, places=5)
        lookbook = {t["text"]: t for t in self.refs["fixture"]["texts"]}
        self.assertIn(1, lookbook["quokka 🦘 zebra-striped umbrella"]["ids"])  # [UNK]
        self.assertEqual(self.refs["fixture"]["model"], "lookbook-fixture")
        self.assertFalse(self.refs["fixture"]["images"][0]["resampled"])  # square-64.png

    def test_committed_fixtures_are_current(self):
        committed = REPO_ROOT / "test/fixtures/reference"
        if not committed.is_dir():
            self.skipTest("no committed fixtures")
        for name, fresh in self.refs.items():
            old = json.loads((committed / f"{name}.json").read_text())
            for a, b in zip(fresh["texts"], old["texts"], strict=True):
                self.assertEqual({k: v for k, v in a.items() if k != "embedding"},
                                 {k: v for k, v in b.items() if k != "embedding"})
                np.testing.assert_allclose(a["embedding"], b["embedding"], atol=1e-5, rtol=0)
            for a, b in zip(fresh["images"], old["images"], strict=True):
                self.assertEqual({k: v for k, v in a.items() if k != "embedding"},
                                 {k: v for k, v in b.items() if k != "embedding"})
                np.testing.assert_allclose(a["embedding"], b["embedding"], atol=1e-5, rtol=0)
        # Text files other than the references are torch-independent: compare bytes.
        for rel, data in tree(self.root).items():
            if rel.endswith((".json", ".md")) and "/reference/" not in rel:
                self.assertEqual((REPO_ROOT / rel).read_bytes(), data, rel)


if __name__ == "__main__":
    unittest.main()
