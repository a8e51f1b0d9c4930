import unittest

import numpy as np
from PIL import Image

from lookbook_training.preprocess import (
    PreprocessSpec,
    center_crop_box,
    preprocess,
    preprocess_detailed,
    shortest_edge_size,
    spec_from_hf_preprocessor_config,
    spec_from_manifest,
    spec_from_openclip_preprocess_cfg,
)

CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
SPEC = PreprocessSpec("shortest_edge", 64, 64, "bicubic", 1 / 255, CLIP_MEAN, CLIP_STD)


def random_rgb(width, height, seed=0):
    rng = np.random.RandomState(seed)
    return rng.randint(0, 256, (height, width, 3)).astype(np.uint8)


class GeometryTest(unittest.TestCase):
    def test_shortest_edge_floors_the_long_side(self):
        self.assertEqual(shortest_edge_size(200, 120, 64), (106, 64))  # 106.67
        self.assertEqual(shortest_edge_size(37, 90, 64), (64, 155))  # 155.68
        self.assertEqual(shortest_edge_size(300, 300, 32), (32, 32))
        self.assertEqual(shortest_edge_size(120, 200, 32), (32, 53))

    def test_center_crop_offset_is_floored(self):
        self.assertEqual(center_crop_box(106, 64, 64), (21, 0, 85, 64))
        self.assertEqual(center_crop_box(64, 155, 64), (0, 45, 64, 109))  # 45.5 -> 45
        self.assertEqual(center_crop_box(64, 64, 64), (0, 0, 64, 64))


class PixelValuesTest(unittest.TestCase):
    def test_exact_size_image_is_only_rescaled_and_normalized(self):
        pixels = random_rgb(64, 64)
        out = preprocess(Image.fromarray(pixels, "RGB"), SPEC)
        self.assertEqual(out.dtype, np.float32)
        self.assertEqual(out.shape, (3, 64, 64))
        chw = pixels.transpose(2, 0, 1).astype(np.float64)
        mean = np.array(CLIP_MEAN)[:, None, None]
        std = np.array(CLIP_STD)[:, None, None]
        np.testing.assert_allclose(out, (chw / 255 - mean) / std, rtol=0, atol=1e-6)
        # and bit-for-bit transformers' float32 arithmetic
        x = (chw * (1 / 255)).astype(np.float32)
        expected = (x - mean.astype(np.float32)) / std.astype(np.float32)
        np.testing.assert_array_equal(out, expected)

    def test_resized_images_come_out_at_the_crop_size(self):
        for width, height in ((200, 120), (37, 90), (300, 300), (10, 10)):
            img = Image.fromarray(random_rgb(width, height), "RGB")
            self.assertEqual(preprocess(img, SPEC).shape, (3, 64, 64))

    def test_detailed_result_reports_the_geometry(self):
        result = preprocess_detailed(Image.fromarray(random_rgb(37, 90), "RGB"), SPEC)
        self.assertEqual(result.resized_size, (64, 155))
        self.assertEqual(result.crop_box, (0, 45, 64, 109))

    def test_transparent_pixels_become_the_background_colour(self):
        rgba = np.zeros((64, 64, 4), dtype=np.uint8)
        rgba[..., :3] = 17  # colour hidden under alpha 0
        spec = PreprocessSpec("shortest_edge", 64, 64, "bicubic", 1 / 255, (0, 0, 0), (1, 1, 1), (10, 200, 255))
        out = preprocess(Image.fromarray(rgba, "RGBA"), spec)
        np.testing.assert_allclose(out[:, 0, 0], np.array([10, 200, 255]) / 255, atol=1e-7)

    def test_half_transparent_pixels_are_blended(self):
        rgba = np.zeros((64, 64, 4), dtype=np.uint8)
        rgba[...] = (0, 0, 0, 128)
        spec = PreprocessSpec("shortest_edge", 64, 64, "nearest", 1.0, (0, 0, 0), (1, 1, 1))
        value = preprocess(Image.fromarray(rgba, "RGBA"), spec)[0, 0, 0]
        self.assertAlmostEqual(float(value), 127, delta=1)

    def test_squash_ignores_the_aspect_ratio(self):
        spec = PreprocessSpec("squash", 24, None, "bicubic", 1 / 255, (0.5,) * 3, (0.5,) * 3)
        result = preprocess_detailed(Image.fromarray(random_rgb(200, 120), "RGB"), spec)
        self.assertEqual(result.pixel_values.shape, (3, 24, 24))
        self.assertEqual(result.resized_size, (24, 24))
        self.assertIsNone(result.crop_box)

    def test_grayscale_is_converted_to_rgb(self):
        gray = Image.fromarray(np.full((64, 64), 100, dtype=np.uint8), "L")
        out = preprocess(gray, PreprocessSpec("squash", 64, None, "bilinear", 1.0, (0, 0, 0), (1, 1, 1)))
        np.testing.assert_array_equal(out, np.full((3, 64, 64), 100, dtype=np.float32))


class SpecConversionTest(unittest.TestCase):
    def test_manifest_round_trip(self):
        self.assertEqual(spec_from_manifest(SPEC.to_manifest()), SPEC)

    def test_hf_clip_image_processor_config(self):
        spec = spec_from_hf_preprocessor_config(
            {
                "crop_size": {"height": 32, "width": 32},
                "do_center_crop": True,
                "do_convert_rgb": True,
                "do_normalize": True,
                "do_rescale": True,
                "do_resize": True,
                "image_mean": list(CLIP_MEAN),
                "image_std": list(CLIP_STD),
                "resample": 3,
                "rescale_factor": 1 / 255,
                "size": {"shortest_edge": 32},
            }
        )
        self.assertEqual(spec, PreprocessSpec("shortest_edge", 32, 32, "bicubic", 1 / 255, CLIP_MEAN, CLIP_STD))

    def test_hf_siglip_style_config_squashes(self):
        spec = spec_from_hf_preprocessor_config(
            {"do_resize": True, "size": {"height": 224, "width": 224}, "resample": 2,
             "do_normalize": True, "image_mean": [0.5] * 3, "image_std": [0.5] * 3}
        )
        self.assertEqual((spec.resize, spec.size, spec.crop, spec.resample), ("squash", 224, None, "bilinear"))

    def test_hf_legacy_integer_size_is_the_shortest_edge(self):
        spec = spec_from_hf_preprocessor_config({"size": 224, "crop_size": 224, "do_center_crop": True})
        self.assertEqual((spec.resize, spec.size, spec.crop), ("shortest_edge", 224, 224))

    def test_openclip_squash_config(self):
        spec = spec_from_openclip_preprocess_cfg(
            {"size": [24, 24], "mode": "RGB", "mean": [0.5] * 3, "std": [0.5] * 3,
             "interpolation": "bicubic", "resize_mode": "squash", "fill_color": 0}
        )
        self.assertEqual(spec, PreprocessSpec("squash", 24, None, "bicubic", 1 / 255, (0.5,) * 3, (0.5,) * 3))

    def test_openclip_default_resize_is_shortest_edge_then_crop(self):
        spec = spec_from_openclip_preprocess_cfg({"size": 224, "mean": CLIP_MEAN, "std": CLIP_STD})
        self.assertEqual((spec.resize, spec.size, spec.crop), ("shortest_edge", 224, 224))

    def test_unsupported_configs_are_refused(self):
        with self.assertRaises(ValueError):
            spec_from_openclip_preprocess_cfg({"size": 224, "mean": CLIP_MEAN, "std": CLIP_STD, "resize_mode": "longest"})
        with self.assertRaises(ValueError):
            spec_from_hf_preprocessor_config({"size": {"shortest_edge": 32}, "resample": 1, "do_center_crop": True})
        with self.assertRaises(ValueError):
            spec_from_hf_preprocessor_config({"size": {"height": 32, "width": 48}})


if __name__ == "__main__":
    unittest.main()
