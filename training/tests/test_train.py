import math
import tempfile
import unittest
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from lookbook_training.augment import AugmentConfig, augment, eval_transform
from lookbook_training.emoji_data import (
    Concept,
    EmojiData,
    build_train_set,
    direction_matters,
    epoch_batches,
    is_unseen,
    sample_caption,
    steps_per_epoch,
    unseen_split,
)
from lookbook_training.losses import LossConfig, PinClipLoss, beta_at, bit_balance, clip_loss, soft_codes
from lookbook_training.runs import TrainConfig
from lookbook_training.synthetic_data import make_synthetic_dataset
from lookbook_training.train import Trainer, lr_at


def unit(x):
    return F.normalize(x, dim=-1)


class LossTest(unittest.TestCase):
    def test_clip_loss_is_log_batch_size_when_everything_is_alike(self):
        z = unit(torch.ones(16, 32))
        self.assertAlmostEqual(float(clip_loss(z, z, torch.tensor(10.0))), math.log(16), places=5)

    def test_clip_loss_is_about_log_batch_size_at_random(self):
        g = torch.Generator().manual_seed(0)
        a, b = unit(torch.randn(64, 512, generator=g)), unit(torch.randn(64, 512, generator=g))
        self.assertAlmostEqual(float(clip_loss(a, b, torch.tensor(1.0))), math.log(64), delta=0.05)

    def test_clip_loss_is_near_zero_for_perfect_alignment(self):
        z = torch.eye(32)
        self.assertLess(float(clip_loss(z, z, torch.tensor(100.0))), 1e-6)

    def test_same_concept_pairs_are_masked_out_of_the_negatives(self):
        z = unit(torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]]))
        same = torch.tensor([[False, True, False], [True, False, False], [False, False, False]])
        masked = float(clip_loss(z, z, torch.tensor(50.0), same))
        self.assertLess(masked, 1e-6)  # rows 0 and 1 are identical: without the mask ~log 2
        self.assertGreater(float(clip_loss(z, z, torch.tensor(50.0))), 0.4)

    def test_soft_codes_tend_to_the_sign_bits(self):
        z = unit(torch.randn(8, 512, generator=torch.Generator().manual_seed(1)))
        err_lo = (soft_codes(z, 1.0) - torch.sign(z)).abs().mean()
        err_hi = (soft_codes(z, 50.0) - torch.sign(z)).abs().mean()
        self.assertLess(float(err_hi), 0.05)
        self.assertGreater(float(err_lo), float(err_hi) * 5)

    def test_bit_balance_is_zero_for_balanced_and_one_for_constant_bits(self):
        balanced = torch.tensor([[1.0, -1.0], [-1.0, 1.0]])
        self.assertEqual(float(bit_balance(balanced)), 0.0)
        self.assertEqual(float(bit_balance(torch.ones(4, 3))), 1.0)

    def test_binarization_term_prefers_informative_signs(self):
        # Same float geometry, but in one case every vector shares a large common offset, so
        # the sign bits are nearly constant: the code loss and the balance term must be worse.
        g = torch.Generator().manual_seed(2)
        base = torch.randn(32, 64, generator=g)
        loss = PinClipLoss(LossConfig(beta_start=5, beta_end=5))
        good = unit(base)
        bad = unit(base * 0.1 + 3.0)
        _, p_good = loss(good, good, good, torch.tensor(math.log(20)), beta=5.0)
        _, p_bad = loss(bad, bad, bad, torch.tensor(math.log(20)), beta=5.0)
        self.assertLess(float(p_good["code"]), float(p_bad["code"]))
        self.assertLess(float(p_good["bal"]), float(p_bad["bal"]))

    def test_total_combines_the_weighted_parts(self):
        g = torch.Generator().manual_seed(3)
        a, b, t = (unit(torch.randn(8, 16, generator=g)) for _ in range(3))
        cfg = LossConfig(w_ii=0.5, w_code=0.25, w_bal=2.0)
        total, p = PinClipLoss(cfg)(a, b, t, torch.tensor(2.0), beta=3.0)
        expected = p["it"] + 0.5 * p["ii"] + 0.25 * p["code"] + 2.0 * p["bal"]
        self.assertAlmostEqual(float(total), float(expected), places=5)

    def test_beta_anneals_geometrically(self):
        cfg = LossConfig(beta_start=1.0, beta_end=16.0)
        self.assertEqual([beta_at(cfg, p) for p in (0.0, 0.5, 1.0, 2.0)], [1.0, 4.0, 16.0, 16.0])


class ScheduleTest(unittest.TestCase):
    def test_warmup_then_cosine_to_the_floor(self):
        cfg = TrainConfig(lr=1e-3, min_lr_ratio=0.01, warmup_epochs=1.0)
        spe, total = 10, 100
        self.assertAlmostEqual(lr_at(cfg, 0, total, spe), 1e-4)
        self.assertAlmostEqual(lr_at(cfg, 9, total, spe), 1e-3)
        self.assertLess(lr_at(cfg, 50, total, spe), 1e-3)
        self.assertAlmostEqual(lr_at(cfg, 100, total, spe), 1e-5)

    def test_a_time_budget_runs_the_cosine_on_training_seconds(self):
        cfg = TrainConfig(lr=1e-3, min_lr_ratio=0.01, warmup_epochs=1.0, budget_minutes=2.0)
        spe, total = 10, 10_000  # the step count is only a cap
        self.assertAlmostEqual(lr_at(cfg, 0, total, spe, 0.0), 1e-4)  # warmup still in steps
        self.assertAlmostEqual(lr_at(cfg, 50, total, spe, 60.0), 1e-5 + 0.99e-3 * 0.5)
        self.assertAlmostEqual(lr_at(cfg, 51, total, spe, 120.0), 1e-5)
        self.assertAlmostEqual(lr_at(cfg, 52, total, spe, 500.0), 1e-5)


def concept(label, tags=(), emoji="x", subgroup=None):
    return Concept(key=label, emoji=emoji, label=label, tags=tuple(tags), subgroup=subgroup)


class DataRulesTest(unittest.TestCase):
    def test_direction_matters_for_arrows_flags_clocks_text_and_pointing_hands(self):
        for c in (
            concept("right arrow", ["arrow", "east"], "\u27a1"),
            concept("flag: Algeria", ["DZ", "flag"], "\U0001F1E9\U0001F1FF"),
            concept("three o’clock", ["3", "clock"], "\U0001F552"),
            concept("keycap: 1", ["keycap"], "1\u20e3"),
            concept("input latin uppercase", ["ABCD", "input"]),
            concept("backhand index pointing right", ["backhand", "finger"]),
            concept("SOS button", ["help", "sos"]),
            concept("chequered flag", ["racing"]),
            concept("hundred points", ["100", "score"]),
            concept("anything", [], subgroup="country-flag"),
        ):
            self.assertTrue(direction_matters(c), c.label)

    def test_symmetric_objects_may_be_flipped(self):
        for c in (
            concept("red apple", ["apple", "fruit", "red"]),
            concept("grinning face", ["face", "grin"]),
            concept("running shoe", ["athletic", "shoe"]),
            concept("dress", ["clothing"], subgroup="clothing"),
        ):
            self.assertFalse(direction_matters(c), c.label)

    def test_flips_are_never_applied_where_direction_matters(self):
        # A left-right asymmetric image: augmentation without flips keeps the bright half on
        # the left whatever the zoom; with flips allowed some images mirror.
        img = np.zeros((64, 64, 64, 4), np.uint8)
        img[:, 16:48, 8:32] = (255, 255, 255, 255)
        img[:, 16:48, 32:56] = (0, 0, 0, 255)
        cfg = AugmentConfig(zoom_min=1.0, zoom_max=1.0, brightness=0, contrast=0, saturation=0)
        x = torch.from_numpy(img)

        def left_brighter(flip_ok):
            out = augment(x, torch.full((64,), flip_ok), torch.Generator().manual_seed(0), cfg)
            return out[:, :, 24:40, 20:28].mean(dim=(1, 2, 3)) > out[:, :, 24:40, 36:44].mean(dim=(1, 2, 3))

        self.assertTrue(bool(left_brighter(False).all()))
        flipped = ~left_brighter(True)
        self.assertTrue(10 < int(flipped.sum()) < 54)

    def test_augment_is_deterministic_and_eval_flattens_onto_white(self):
        img = torch.zeros(4, 64, 64, 4, dtype=torch.uint8)
        img[:, 20:40, 20:40] = torch.tensor([200, 10, 10, 255], dtype=torch.uint8)
        ok = torch.ones(4, dtype=torch.bool)
        a = augment(img, ok, torch.Generator().manual_seed(5))
        b = augment(img, ok, torch.Generator().manual_seed(5))
        self.assertTrue(torch.equal(a, b))
        self.assertEqual(tuple(a.shape), (4, 3, 64, 64))
        white = eval_transform(img)[0, :, 0, 0]
        std = torch.tensor([0.26862954, 0.26130258, 0.27577711])
        mean = torch.tensor([0.48145466, 0.4578275, 0.40821073])
        self.assertTrue(torch.allclose(white, (1 - mean) / std))

    def test_scene_augmentation_patterns_the_background_and_keeps_the_object(self):
        from lookbook_training.augment import AugmentConfig

        img = torch.zeros(8, 64, 64, 4, dtype=torch.uint8)
        img[:, 24:40, 24:40] = torch.tensor([200, 10, 10, 255], dtype=torch.uint8)
        ok = torch.zeros(8, dtype=torch.bool)
        no_jitter = dict(zoom_min=1.0, zoom_max=1.0, brightness=0.0, contrast=0.0, saturation=0.0)
        solid = augment(img, ok, torch.Generator().manual_seed(1), AugmentConfig(**no_jitter))
        scene_cfg = AugmentConfig(p_scene=1.0, p_lowres=0.0, **no_jitter)
        scene = augment(img, ok, torch.Generator().manual_seed(1), scene_cfg)
        self.assertTrue(torch.equal(scene, augment(img, ok, torch.Generator().manual_seed(1), scene_cfg)))
        corner = (slice(None), slice(None), slice(0, 16), slice(0, 16))
        # solid backgrounds: one colour per image; scene backgrounds vary within the image
        self.assertLess(float(solid[corner].std(dim=(2, 3)).max()), 1e-5)
        self.assertGreater(float(scene[corner].std(dim=(2, 3)).mean()), 0.05)
        # the object's own pixels are untouched by what lies behind it
        centre = (slice(None), slice(None), slice(28, 36), slice(28, 36))
        self.assertTrue(torch.allclose(scene[centre], solid[centre], atol=1e-5))
        # p_scene 0 is the original recipe, draw for draw
        self.assertTrue(torch.equal(solid, augment(img, ok, torch.Generator().manual_seed(1),
                                                   AugmentConfig(p_scene=0.0, **no_jitter))))

    def test_captions_start_with_a_label_and_are_deterministic(self):
        c = Concept("k", "x", "red apple", ("apple", "fruit", "red"), i18n={
            "de": {"label": "roter Apfel", "tags": ["Apfel", "Obst"]}})
        rng = np.random.default_rng(0)
        caps = [sample_caption(c, rng, ["de"], p_other_locale=0.3) for _ in range(200)]
        self.assertTrue(all(x.startswith(("red apple", "roter Apfel")) for x in caps))
        self.assertTrue(any(x.startswith("roter Apfel") for x in caps))
        self.assertIn("red apple", caps)  # label alone: the evaluation query
        again = [sample_caption(c, np.random.default_rng(0), ["de"], p_other_locale=0.3)]
        self.assertEqual(again[0], caps[0])

    def test_unseen_split_is_the_datasets_hash_rule(self):
        keys = [f"{i:x}" for i in range(4000)]
        unseen = unseen_split(keys)
        self.assertTrue(0.06 < len(unseen) / len(keys) < 0.10)
        self.assertEqual(unseen, sorted(k for k in keys if is_unseen(k)))
        self.assertEqual(unseen_split(keys[:2000]), [k for k in unseen if k in set(keys[:2000])])


class SyntheticDataTestCase(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls._tmp = tempfile.TemporaryDirectory()
        cls.tmp = Path(cls._tmp.name)
        cls.data_dir = make_synthetic_dataset(cls.tmp / "data", n_concepts=24)

    @classmethod
    def tearDownClass(cls):
        cls._tmp.cleanup()


class SamplerTest(SyntheticDataTestCase):
    def test_epochs_pair_two_styles_of_one_concept_and_never_repeat_a_concept_in_a_batch(self):
        data = EmojiData(self.data_dir)
        train = build_train_set(data, unseen=[data.concepts[0].key])
        self.assertNotIn(0, train.rows_of)
        spe = steps_per_epoch(train, 8)
        seen_rows = set()
        for epoch in range(3):
            batches = epoch_batches(train, seed=1, epoch=epoch, batch_size=8)
            self.assertEqual(len(batches), spe)
            for b in batches:
                self.assertEqual(len(set(b[:, 0].tolist())), len(b))
                self.assertTrue((train.concept[b[:, 1]] == b[:, 0]).all())
                self.assertTrue((train.concept[b[:, 2]] == b[:, 0]).all())
                multi = np.array([len(train.rows_of[c]) > 1 for c in b[:, 0]])
                self.assertTrue((train.style[b[multi, 1]] != train.style[b[multi, 2]]).all())
                seen_rows.update(b[:, 1:].ravel().tolist())
        self.assertGreater(len(seen_rows), 0.9 * len(train.images))
        again = epoch_batches(train, seed=1, epoch=2, batch_size=8)
        self.assertTrue(all(np.array_equal(a, b) for a, b in zip(again, batches)))


def tiny_config(data_dir, **kw):
    return TrainConfig(
        data=str(data_dir), preset="tiny", dim=32, vocab_size=200, batch_size=8, max_steps=6,
        warmup_epochs=0.5, eval_every_epochs=0, log_every_steps=2, **kw,
    )


class OneThreadTestCase(SyntheticDataTestCase):
    """Bit-exact comparisons of trained weights need one thread."""

    def setUp(self):
        self.threads = torch.get_num_threads()
        torch.set_num_threads(1)

    def tearDown(self):
        torch.set_num_threads(self.threads)


class ResumeTest(OneThreadTestCase):

    def test_resuming_half_way_gives_identical_weights(self):
        quiet = lambda _: None  # noqa: E731
        straight = Trainer(tiny_config(self.data_dir), self.tmp / "straight", log=quiet)
        self.assertTrue(straight.run())
        first = Trainer(tiny_config(self.data_dir), self.tmp / "halves", log=quiet)
        self.assertFalse(first.run(max_steps_now=3))
        del first
        second = Trainer(tiny_config(self.data_dir), self.tmp / "halves", resume=True, log=quiet)
        self.assertEqual(second.step, 3)
        self.assertTrue(second.run())
        for name, a in straight.model.state_dict().items():
            self.assertTrue(torch.equal(a, second.model.state_dict()[name]), name)
        self.assertTrue(torch.equal(straight.loss.code_logit_scale, second.loss.code_logit_scale))
        s1 = straight.optimizer.state_dict()["state"]
        s2 = second.optimizer.state_dict()["state"]
        for k in s1:
            self.assertTrue(torch.equal(s1[k]["exp_avg_sq"], s2[k]["exp_avg_sq"]))
        self.assertTrue((self.tmp / "halves" / "model.pt").exists())

    def test_sigterm_checkpoints_and_stops(self):
        import os
        import signal

        trainer = Trainer(tiny_config(self.data_dir), self.tmp / "term", log=lambda _: None)
        step = trainer.train_step

        def step_then_signal():
            out = step()
            if trainer.step == 2:
                os.kill(os.getpid(), signal.SIGTERM)
            return out

        trainer.train_step = step_then_signal
        self.assertFalse(trainer.run())
        self.assertEqual(trainer.stop_reason, f"signal {int(signal.SIGTERM)}")
        state = torch.load(self.tmp / "term" / "checkpoint.pt")
        self.assertEqual(state["step"], 2)
        self.assertIsNot(signal.getsignal(signal.SIGTERM), None)  # handler restored

    def test_a_time_budget_ends_the_run_finished_before_the_step_cap(self):
        trainer = Trainer(replace(tiny_config(self.data_dir), max_steps=10_000, budget_minutes=0.5 / 60),
                          self.tmp / "budget", log=lambda _: None)
        self.assertTrue(trainer.run())
        self.assertLess(trainer.step, 10_000)
        self.assertGreaterEqual(trainer.train_seconds, 0.5)
        saved = torch.load(self.tmp / "budget" / "model.pt")
        self.assertTrue(saved["finished"])
        self.assertEqual(saved["step"], trainer.step)

    def test_a_run_directory_is_not_overwritten_and_resume_needs_a_checkpoint(self):
        quiet = lambda _: None  # noqa: E731
        run = self.tmp / "once"
        Trainer(replace(tiny_config(self.data_dir), max_steps=1), run, log=quiet).run()
        with self.assertRaises(FileExistsError):
            Trainer(tiny_config(self.data_dir), run, log=quiet)
        with self.assertRaises(FileNotFoundError):
            Trainer(tiny_config(self.data_dir), self.tmp / "never", resume=True, log=quiet)


class WarmStartRunTest(OneThreadTestCase):
    """--init-from: a run continues from an exported model directory and says so in its record."""

    def test_a_run_starts_from_an_exported_model_and_the_export_counts_all_epochs(self):
        import json

        from lookbook_training.export_default import export_run

        quiet = lambda _: None  # noqa: E731
        first = Trainer(tiny_config(self.data_dir), self.tmp / "first", log=quiet)
        self.assertTrue(first.run())
        exported = self.tmp / "model-first"
        export_run(self.tmp / "first", exported, log=quiet)
        first_epochs = json.loads((exported / "training.json").read_text())["epochs"]

        second = Trainer(tiny_config(self.data_dir, init_from=str(exported)), self.tmp / "second", log=quiet)
        first.model.eval()
        second.model.eval()
        pixels = torch.randn(4, 3, 64, 64, generator=torch.Generator().manual_seed(0))
        ids = first.captions(["red apple", "blue car", "shoe", "x"])
        with torch.no_grad():
            torch.testing.assert_close(second.model.image(pixels), first.model.image(pixels), atol=1e-5, rtol=0)
            torch.testing.assert_close(second.model.text(ids), first.model.text(ids), atol=1e-6, rtol=0)
        # the temperatures come back from training.json (the graphs do not hold them)
        temps = json.loads((exported / "training.json").read_text())["temperatures"]
        self.assertAlmostEqual(temps["logit_scale"], float(first.model.logit_scale.exp()), places=4)
        self.assertAlmostEqual(temps["code_logit_scale"], float(first.loss.code_logit_scale.exp()), places=4)
        self.assertAlmostEqual(float(second.model.logit_scale), float(first.model.logit_scale), places=5)
        self.assertAlmostEqual(float(second.loss.code_logit_scale), float(first.loss.code_logit_scale), places=5)
        init = json.loads((self.tmp / "second" / "run.json").read_text())["init_from"]
        self.assertEqual(init["version"], json.loads((exported / "lookbook.json").read_text())["version"])
        self.assertEqual(init["source"]["epochs"], first_epochs)
        self.assertTrue(second.run())

        again = self.tmp / "model-second"
        manifest = export_run(self.tmp / "second", again, log=quiet)
        training = json.loads((again / "training.json").read_text())
        total = training["total_epochs"]
        self.assertAlmostEqual(total, first_epochs + training["epochs"])
        self.assertEqual(manifest["version"], f"1.1.0-e{int(round(total))}")
        self.assertEqual([x["version"] for x in training["lineage"]], [init["version"]])
        self.assertIn("Warm start", (again / "EVAL.md").read_text())
        self.assertIn("warm start (", (again / "EVAL.md").read_text())

    def test_a_model_with_another_tokenizer_is_refused(self):
        import json

        quiet = lambda _: None  # noqa: E731
        run = Trainer(replace(tiny_config(self.data_dir), max_steps=1), self.tmp / "tok", log=quiet)
        run.run()
        from lookbook_training.export_default import export_run

        exported = self.tmp / "model-tok"
        export_run(self.tmp / "tok", exported, log=quiet)
        spec = json.loads((exported / "tokenizer.json").read_text())
        spec["model"]["vocab"]["zzzz-not-a-token"] = len(spec["model"]["vocab"])
        (exported / "tokenizer.json").write_text(json.dumps(spec))
        with self.assertRaisesRegex(ValueError, "tokenizer differs"):
            Trainer(tiny_config(self.data_dir, init_from=str(exported)), self.tmp / "tok2", log=quiet)


class TokenizerTrainingTest(unittest.TestCase):
    def test_fast_wordpiece_trainer_gives_the_same_vocabulary(self):
        from lookbook_training.fixture_corpus import FIXTURE_PHRASES
        from lookbook_training.tokenizer import train_wordpiece_vocab, train_wordpiece_vocab_fast

        rng = np.random.default_rng(0)
        words = ["".join(rng.choice(list("abcdeé"), rng.integers(1, 9))) for _ in range(300)]
        corpora = [list(FIXTURE_PHRASES), [" ".join(words[i : i + 3]) for i in range(0, 300, 3)]]
        for texts in corpora:
            for size in (150, 400, 900):
                self.assertEqual(train_wordpiece_vocab(texts, size), train_wordpiece_vocab_fast(texts, size))
            self.assertEqual(train_wordpiece_vocab(texts, 900, min_frequency=3),
                             train_wordpiece_vocab_fast(texts, 900, min_frequency=3))


class StemGradientTest(unittest.TestCase):
    def test_stem_gradients_are_finite_and_repeatable(self):
        # Regression: PyTorch 1.13's CPU GELU backward garbles non-contiguous gradients.
        from lookbook_training.model import ImageTower, ImageTowerConfig

        torch.manual_seed(0)
        tower = ImageTower(ImageTowerConfig(stem_channels=(8, 16), width=32, layers=1, heads=2), 32)
        x = torch.randn(8, 3, 64, 64)

        def grads():
            tower.zero_grad()
            tower(x)[:, :3].sum().backward()
            return [p.grad.clone() for p in tower.stem.parameters()]

        a, b = grads(), grads()
        for ga, gb in zip(a, b):
            self.assertTrue(torch.isfinite(ga).all())
            self.assertTrue(torch.equal(ga, gb))
            self.assertLess(float(ga.abs().max()), 100.0)


if __name__ == "__main__":
    unittest.main()
