import unittest

import torch

from lookbook_training.model import (
    DualEncoder,
    DualEncoderConfig,
    ImageTowerConfig,
    TextTower,
    TextTowerConfig,
    randomize_for_fixture,
)

SMALL = DualEncoderConfig(
    dim=24,
    image=ImageTowerConfig(image_size=32, stem_channels=(4, 8), width=16, layers=1, heads=2),
    text=TextTowerConfig(vocab_size=50, context_length=8, width=16, layers=1, heads=2),
)


def small_model(normalize=True, cfg=SMALL):
    torch.manual_seed(0)
    model = DualEncoder(cfg, normalize=normalize)
    randomize_for_fixture(model, torch.Generator().manual_seed(1))
    return model.eval()


class DualEncoderTest(unittest.TestCase):
    def test_grid_size_follows_the_stride_two_stem(self):
        self.assertEqual(ImageTowerConfig(image_size=64).grid_size, 8)
        self.assertEqual(ImageTowerConfig(image_size=24).grid_size, 3)
        self.assertEqual(ImageTowerConfig(image_size=224, stem_channels=(32, 64)).grid_size, 28)

    def test_embeddings_have_the_projection_size_and_unit_norm(self):
        model = small_model()
        with torch.no_grad():
            image, text = model(torch.randn(3, 3, 32, 32), torch.randint(1, 50, (5, 8)))
        self.assertEqual(tuple(image.shape), (3, 24))
        self.assertEqual(tuple(text.shape), (5, 24))
        torch.testing.assert_close(image.norm(dim=-1), torch.ones(3))
        torch.testing.assert_close(text.norm(dim=-1), torch.ones(5))

    def test_unnormalized_towers_are_not_unit_norm(self):
        model = small_model(normalize=False)
        with torch.no_grad():
            norms = model.encode_image(torch.randn(2, 3, 32, 32)).norm(dim=-1)
        self.assertFalse(torch.allclose(norms, torch.ones(2)))

    def test_batch_items_are_independent(self):
        model = small_model()
        images = torch.randn(2, 3, 32, 32)
        with torch.no_grad():
            together = model.encode_image(images)
            alone = model.encode_image(images[1:])
        torch.testing.assert_close(together[1:], alone, atol=1e-6, rtol=0)

    def test_mean_pooling_ignores_padding(self):
        model = small_model()
        ids = torch.tensor([[2, 7, 9, 3, 0, 0, 0, 0]])
        with torch.no_grad():
            padded = model.encode_text(ids)
            shorter = model.text(ids[:, :4])
            other_pad_length = model.text(ids[:, :6])
        torch.testing.assert_close(padded, shorter, atol=1e-6, rtol=0)
        torch.testing.assert_close(padded, other_pad_length, atol=1e-6, rtol=0)

    def test_eos_pooling_with_causal_mask_ignores_what_follows_eos(self):
        cfg = TextTowerConfig(vocab_size=50, context_length=8, width=16, layers=1, heads=2,
                              pad_id=49, pooling="eos_argmax", causal=True)
        torch.manual_seed(0)
        tower = TextTower(cfg, 24).eval()
        ids = torch.tensor([[48, 5, 6, 49, 49, 49, 49, 49]])
        mask = torch.tensor([[1, 1, 1, 1, 0, 0, 0, 0]])
        with torch.no_grad():
            full = tower(ids, mask)
            short = tower(ids[:, :4], mask[:, :4])
            changed_tail = tower(torch.tensor([[48, 5, 6, 49, 1, 2, 3, 4]]), mask)
        torch.testing.assert_close(full, short, atol=1e-6, rtol=0)
        torch.testing.assert_close(full, changed_tail, atol=1e-6, rtol=0)

    def test_text_depends_on_the_tokens(self):
        model = small_model()
        with torch.no_grad():
            a = model.encode_text(torch.tensor([[2, 7, 3, 0, 0, 0, 0, 0]]))
            b = model.encode_text(torch.tensor([[2, 8, 3, 0, 0, 0, 0, 0]]))
        self.assertLess(float((a * b).sum()), 0.999)

    def test_config_round_trips_through_a_dict(self):
        self.assertEqual(DualEncoderConfig.from_dict(SMALL.to_dict()), SMALL)

    def test_group_norm_stem_and_quick_gelu_work(self):
        cfg = DualEncoderConfig(
            dim=8,
            image=ImageTowerConfig(image_size=16, stem_channels=(4, 8), width=16, layers=1, heads=2,
                                   stem_norm="group", activation="quick_gelu"),
            text=TextTowerConfig(vocab_size=10, context_length=4, width=16, layers=1, heads=2),
        )
        with torch.no_grad():
            out = DualEncoder(cfg).eval().encode_image(torch.randn(1, 3, 16, 16))
        self.assertEqual(tuple(out.shape), (1, 8))


if __name__ == "__main__":
    unittest.main()
