import json
import tempfile
import unittest
from pathlib import Path

import numpy as np
import torch

from lookbook_training.evaluate import first_hit_ranks, ranks_chunked, recall_summary, split_summary


class RecallTest(unittest.TestCase):
    def test_ranks_on_a_hand_made_case(self):
        # 3 queries, gallery of 4 items labelled [10, 11, 12, 10].
        scores = np.array([
            [0.9, 0.1, 0.2, 0.3],  # label 10: first item best -> rank 0
            [0.9, 0.5, 0.8, 0.1],  # label 11: two better items -> rank 2
            [0.1, 0.2, 0.3, 0.4],  # label 13: not in the gallery -> -1
        ])
        ranks = first_hit_ranks(scores, np.array([10, 11, 13]), np.array([10, 11, 12, 10]))
        self.assertEqual(ranks.tolist(), [0, 2, -1])
        summary = recall_summary(ranks, ks=(1, 2, 3))
        self.assertEqual(summary, {"n": 2, "r1": 50.0, "r2": 50.0, "r3": 100.0, "skipped": 1})

    def test_any_item_of_the_concept_counts(self):
        scores = np.array([[0.1, 0.9, 0.5]])
        ranks = first_hit_ranks(scores, np.array([7]), np.array([7, 8, 7]))
        self.assertEqual(ranks.tolist(), [1])  # the 0.5 item of label 7 is second

    def test_ties_go_to_the_earlier_gallery_item(self):
        scores = np.array([[1.0, 1.0, 1.0], [1.0, 1.0, 1.0]])
        ranks = first_hit_ranks(scores, np.array([2, 0]), np.array([0, 1, 2]))
        self.assertEqual(ranks.tolist(), [2, 0])

    def test_hamming_ranking_uses_sign_bits(self):
        gallery = np.array([[0.5, 0.5, -0.5, -0.5], [0.5, -0.5, 0.5, -0.5], [-0.5, -0.5, 0.5, 0.5]], np.float32)
        query = np.array([[0.01, 0.9, -0.3, -0.001]], np.float32)  # signs of gallery row 0
        labels = np.array([0, 1, 2])
        self.assertEqual(ranks_chunked(query, gallery, np.array([0]), labels, binary=True).tolist(), [0])
        self.assertEqual(ranks_chunked(query, gallery, np.array([2]), labels, binary=True).tolist(), [2])
        # Zero is not positive: the bit is clear, as the service packs it.
        zero = np.array([[0.0, 0.0, 1.0, 1.0]], np.float32)
        self.assertEqual(ranks_chunked(zero, gallery, np.array([2]), labels, binary=True).tolist(), [0])

    def test_float_ranking_matches_a_brute_force_sort(self):
        rng = np.random.default_rng(0)
        q, g = rng.normal(size=(50, 8)).astype(np.float32), rng.normal(size=(40, 8)).astype(np.float32)
        ql, gl = rng.integers(0, 10, 50), rng.integers(0, 10, 40)
        ranks = ranks_chunked(q, g, ql, gl, binary=False, chunk=7)
        for i in range(50):
            order = np.argsort(-(q[i] @ g.T), kind="stable")
            hits = np.nonzero(gl[order] == ql[i])[0]
            self.assertEqual(ranks[i], hits[0] if len(hits) else -1)

    def test_split_summary_separates_seen_and_unseen(self):
        ranks = np.array([0, 3, 0, 9])
        s = split_summary(ranks, np.array([False, False, True, True]))
        self.assertEqual((s["all"]["r1"], s["seen"]["r1"], s["unseen"]["r1"]), (50.0, 50.0, 50.0))
        self.assertEqual((s["seen"]["r5"], s["unseen"]["r5"]), (100.0, 50.0))


class SmokeTest(unittest.TestCase):
    """The CI smoke run end to end: synthetic data, training, evaluation, export."""

    def test_smoke_run_trains_evaluates_and_exports(self):
        from lookbook_training.train import run_smoke
        from lookbook_training.tokenizer import Tokenizer

        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            with tempfile.TemporaryDirectory() as tmp:
                out = Path(tmp)
                result = run_smoke(out, log=lambda _: None)
                self.assertLess(result["final_loss"], result["first_loss"])
                model = out / "model"
                for name in ("image.onnx", "text.onnx", "tokenizer.json", "lookbook.json", "EVAL.md",
                             "LICENSES.md", "training.json", "reference.json"):
                    self.assertTrue((model / name).is_file(), name)
                manifest = json.loads((model / "lookbook.json").read_text())
                self.assertEqual((manifest["id"], manifest["dimension"]), ("lookbook-emoji", 512))
                self.assertEqual(manifest["image"]["preprocess"]["background"], [255, 255, 255])
                self.assertEqual(manifest["text"]["contextLength"], 16)
                ref = json.loads((model / "reference.json").read_text())
                tok = Tokenizer.from_file(model / "tokenizer.json")
                self.assertEqual(ref["texts"][0]["ids"][0], tok.token_to_id("[CLS]"))
                emoji = [i for i in ref["images"] if i["file"].startswith("reference-twitter-")]
                self.assertTrue(emoji and all(i.get("in_model_dir") and "dir" not in i and (model / i["file"]).is_file()
                                              for i in emoji))
                self.assertTrue(all(i["alpha"] for i in emoji))
                square = next(i for i in ref["images"] if i["file"] == "square-64.png")
                self.assertEqual((square["alpha"], square["dir"]), (False, "test/fixtures/images"))
                self.assertTrue(all(abs(np.linalg.norm(i["embedding"]) - 1) < 1e-5 for i in ref["images"]))
        finally:
            torch.set_num_threads(threads)


if __name__ == "__main__":
    unittest.main()
