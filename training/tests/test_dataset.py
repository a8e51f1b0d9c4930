"""Tests of the emoji dataset: loader (lookbook_training.dataset) and builder (dataset/build.mjs).

- A tiny synthetic dataset written here checks the loader, split, captions and categories.
- The .npy writer of build.mjs is checked by reading Node-written files with NumPy (needs
  `node` only: build.mjs imports sharp lazily).
- A tiny real build (needs training/dataset/node_modules, i.e. `npm install` there) checks
  the whole pipeline and that it is deterministic.
- If the full dataset exists under training/data/emoji-v1, its invariants are checked.
"""

import json
import os
import random
import re
import shutil
import subprocess
import tempfile
import unittest
from pathlib import Path

import numpy as np

from lookbook_training.dataset import (
    FORMAT_VERSION,
    KEY_CATEGORY,
    PRODUCT_CATEGORIES,
    SUBGROUP_CATEGORY,
    EmojiDataset,
    caption,
    is_unseen,
    product_category,
    split_value,
)

TRAINING = Path(__file__).resolve().parents[1]
BUILDER = TRAINING / "dataset"
BUILD_MJS = BUILDER / "build.mjs"
REAL = TRAINING / "data" / "emoji-v1"
NODE = shutil.which("node")
HAVE_MODULES = (BUILDER / "node_modules" / "sharp").is_dir() and (BUILDER / "node_modules" / "emojibase-data").is_dir()
KEY_RE = re.compile(r"^[0-9a-f]{4,5}(-[0-9a-f]{4,5})*$")
SKIN = {"1f3fb", "1f3fc", "1f3fd", "1f3fe", "1f3ff"}


def write_synthetic(root: Path, concepts, styles, roles=None):
    """concepts: list of dicts; styles: {name: [keys]} → a dataset directory (images are key-coded)."""
    (root / "styles").mkdir(parents=True, exist_ok=True)
    concepts = sorted(concepts, key=lambda c: c["key"])
    for c in concepts:
        c.setdefault("styles", [s for s, ks in styles.items() if c["key"] in ks])
    (root / "concepts.json").write_text(json.dumps(concepts, ensure_ascii=False), encoding="utf-8")
    info = {}
    for name, keys in styles.items():
        keys = sorted(keys)
        arr = np.zeros((len(keys), 64, 64, 4), np.uint8)
        for i, k in enumerate(keys):
            arr[i, 8:56, 8:56, :3] = (int(k[-2:], 16), len(k), i)
            arr[i, 8:56, 8:56, 3] = 255
        np.save(root / "styles" / f"{name}.npy", arr)
        (root / "styles" / f"{name}.keys.json").write_text(json.dumps(keys))
        info[name] = {"count": len(keys)}
    roles = roles or {"test": "t", "val": "v"}
    manifest = {"name": "emoji-v1", "format_version": FORMAT_VERSION, "styles": info, "roles": roles,
                "locales": ["en", "de", "fr"]}
    (root / "manifest.json").write_text(json.dumps(manifest))


def concept(key, label, subgroup=None, tags=(), i18n=None):
    return {"key": key, "emoji": "?", "label": label, "tags": list(tags), "group": None,
            "subgroup": subgroup, "i18n": i18n or {}}


SYNTH_CONCEPTS = [
    concept("1f45f", "running shoe", "clothing", ["athletic", "shoe", "sneaker"],
            {"de": {"label": "Sportschuh", "tags": ["Schuh", "Turnschuh"]},
             "fr": {"label": "chaussure de sport", "tags": ["basket", "chaussure"]}}),
    concept("1f455", "t-shirt", "clothing", ["clothing", "shirt", "tshirt"]),
    concept("1f34e", "red apple", "food-fruit", ["apple", "fruit", "red"]),
    concept("1f600", "grinning face", "face-smiling", ["face", "grin"]),
    concept("2764", "red heart", "heart", ["heart"]),
    concept("1f697", "automobile", "transport-ground", ["car"]),
]
SYNTH_STYLES = {
    "a": ["1f45f", "1f455", "1f34e", "1f600", "2764"],
    "b": ["1f45f", "1f455", "1f34e", "1f600"],
    "v": ["1f45f", "1f455", "1f600", "1f697"],
    "t": ["1f45f", "1f34e", "2764"],
}


class SyntheticDatasetTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.root = Path(cls.tmp.name) / "emoji-v1"
        write_synthetic(cls.root, [dict(c) for c in SYNTH_CONCEPTS], SYNTH_STYLES)
        cls.ds = EmojiDataset(cls.root)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def test_loads_styles_keys_and_roles(self):
        ds = self.ds
        self.assertEqual(set(ds.styles), {"a", "b", "v", "t"})
        images, keys = ds.styles["a"]
        self.assertEqual(images.shape, (5, 64, 64, 4))
        self.assertEqual(keys, sorted(SYNTH_STYLES["a"]))
        self.assertIsInstance(images, np.memmap)
        self.assertEqual(ds.role("t"), "test")
        self.assertEqual(ds.role("v"), "val")
        self.assertEqual(ds.train_styles, ["a", "b"])
        self.assertEqual(ds.style("b").image("1f600").shape, (64, 64, 4))
        self.assertEqual(ds.styles_of("1f697"), ["v"])
        ds2 = EmojiDataset(self.root, val_style="b", test_style="a")
        self.assertEqual(ds2.train_styles, ["v", "t"])

    def test_concepts_in_at_least(self):
        self.assertEqual(len(self.ds.concepts_in_at_least(1)), 6)
        self.assertEqual([c["key"] for c in self.ds.concepts_in_at_least(4)], ["1f45f"])
        self.assertEqual({c["key"] for c in self.ds.concepts_in_at_least(3)}, {"1f34e", "1f455", "1f45f", "1f600"})
        self.assertEqual([c["key"] for c in self.ds.concepts_in_at_least(2, styles=["a", "t"])],
                         ["1f34e", "1f45f", "2764"])

    def test_split_is_a_function_of_the_key_only(self):
        full = self.ds.split(fraction=0.5)
        self.assertEqual(sorted(full["seen"] + full["unseen"]), sorted(c["key"] for c in self.ds.concepts_in_at_least(3)))
        for k in full["unseen"]:
            self.assertTrue(is_unseen(k, 0.5))
        # values frozen: changing the hash would silently move concepts between train and test
        self.assertAlmostEqual(split_value("1f600"), 0.457148, places=6)
        self.assertAlmostEqual(split_value("2764"), 0.494139, places=6)
        self.assertAlmostEqual(split_value("1f45f"), 0.33221, places=5)
        self.assertNotEqual(split_value("1f600", seed="other"), split_value("1f600"))
        keys = [f"{0x1f300 + i:x}" for i in range(4000)]
        frac = sum(is_unseen(k) for k in keys) / len(keys)
        self.assertAlmostEqual(frac, 0.08, delta=0.015)

    def test_caption(self):
        c = self.ds.by_key["1f45f"]
        rng = random.Random(1)
        caps = [caption(c, rng, locale_mix=0.0) for _ in range(50)]
        self.assertTrue(all(x.startswith("running shoe") for x in caps))
        self.assertTrue(any(x != "running shoe" for x in caps))
        for x in caps:
            words = x.split(", ")[1:]
            self.assertLessEqual(len(words), 3)
            self.assertEqual(len(set(words)), len(words))
            self.assertTrue(set(words) <= {"athletic", "shoe", "sneaker"})
        other = [caption(c, random.Random(i), locale_mix=1.0) for i in range(20)]
        self.assertTrue(all(x.split(", ")[0] in ("Sportschuh", "chaussure de sport") for x in other))
        self.assertEqual({x.split(", ")[0] for x in other}, {"Sportschuh", "chaussure de sport"})
        self.assertEqual([caption(c, random.Random(7)) for _ in range(3)],
                         [caption(c, random.Random(7)) for _ in range(3)])
        # no translations: always English
        self.assertTrue(caption(self.ds.by_key["2764"], random.Random(0), locale_mix=1.0).startswith("red heart"))
        self.assertEqual(self.ds.caption("1f697", random.Random(0), locale_mix=0.0).split(", ")[0], "automobile")

    def test_curly_apostrophes_become_ascii(self):
        c = concept("1f45e", "man\u2019s shoe", "clothing", [])
        self.assertEqual(caption(c, random.Random(0)), "man's shoe")

    def test_product_like(self):
        ds = self.ds
        self.assertEqual(ds.product_like("1f45f"), "shoes")
        self.assertEqual(ds.product_like("1f455"), "clothing")
        self.assertEqual(ds.product_like("1f34e"), "food")
        self.assertEqual(ds.product_like("1f697"), "vehicles")
        self.assertIsNone(ds.product_like("1f600"))
        self.assertIsNone(ds.product_like("2764"))
        self.assertEqual(ds.product_counts(), {"clothing": 1, "food": 1, "shoes": 1, "vehicles": 1})

    def test_category_tables(self):
        self.assertGreaterEqual(len(PRODUCT_CATEGORIES), 12)
        self.assertLessEqual(len(PRODUCT_CATEGORIES), 20)
        for v in list(SUBGROUP_CATEGORY.values()) + [v for v in KEY_CATEGORY.values() if v]:
            self.assertIn(v, PRODUCT_CATEGORIES)
        for k in KEY_CATEGORY:
            self.assertRegex(k, KEY_RE)
        self.assertIsNone(product_category({"key": "1f4a3", "subgroup": "tool"}))  # bomb

    def test_identical_groups(self):
        root = Path(self.tmp.name) / "dups"
        write_synthetic(root, [dict(c) for c in SYNTH_CONCEPTS], {"a": ["1f600", "2764"], "v": ["1f600"], "t": ["2764"]})
        arr = np.load(root / "styles" / "a.npy")
        arr[1] = arr[0]
        np.save(root / "styles" / "a.npy", arr)
        self.assertEqual(EmojiDataset(root).identical_groups("a"), [["1f600", "2764"]])

    def test_rejects_misaligned_keys(self):
        root = Path(self.tmp.name) / "bad"
        write_synthetic(root, [dict(c) for c in SYNTH_CONCEPTS], {"a": ["1f600", "2764"]})
        (root / "styles" / "a.keys.json").write_text(json.dumps(["1f600"]))
        with self.assertRaises(ValueError):
            EmojiDataset(root)


@unittest.skipIf(NODE is None, "node is not installed")
class NpyWriterTest(unittest.TestCase):
    """build.mjs writes .npy headers itself; NumPy must read them."""

    def test_node_written_npy_reads_back(self):
        with tempfile.TemporaryDirectory() as tmp:
            script = f"""
import {{ writeNpy, npyHeader }} from {json.dumps(BUILD_MJS.as_uri())};
const shapes = [[3, 64, 64, 4], [0, 64, 64, 4], [7], [2, 3], [1, 2, 3, 4, 5, 6, 7, 8]];
shapes.forEach((shape, i) => {{
  const n = shape.reduce((a, b) => a * b, 1);
  const data = Buffer.alloc(n);
  for (let j = 0; j < n; j++) data[j] = (j * 7 + i) & 255;
  writeNpy({json.dumps(tmp)} + '/a' + i + '.npy', shape, data);
}});
console.log(JSON.stringify(shapes.map((s) => npyHeader(s).length)));
"""
            out = subprocess.run([NODE, "--input-type=module", "-e", script], capture_output=True, text=True, timeout=30)
            self.assertEqual(out.returncode, 0, out.stderr)
            header_lengths = json.loads(out.stdout)
            shapes = [(3, 64, 64, 4), (0, 64, 64, 4), (7,), (2, 3), (1, 2, 3, 4, 5, 6, 7, 8)]
            for i, shape in enumerate(shapes):
                path = Path(tmp) / f"a{i}.npy"
                raw = path.read_bytes()
                self.assertEqual(raw[:8], b"\x93NUMPY\x01\x00")
                self.assertEqual(header_lengths[i] % 64, 0)
                self.assertEqual(raw[header_lengths[i] - 1:header_lengths[i]], b"\n")
                arr = np.load(path)
                self.assertEqual(arr.dtype, np.uint8)
                self.assertEqual(arr.shape, shape)
                n = int(np.prod(shape))
                np.testing.assert_array_equal(arr.reshape(-1), (np.arange(n) * 7 + i) & 255)
                mm = np.load(path, mmap_mode="r")
                self.assertEqual(mm.shape, shape)

    def test_concept_key(self):
        script = f"""
import {{ conceptKey, slugify }} from {json.dumps(BUILD_MJS.as_uri())};
console.log(JSON.stringify([
  conceptKey('2764-FE0F'), conceptKey('1F468-200D-1F469-200D-1F467'), conceptKey('23-fe0f-20e3'),
  conceptKey('1f3f4-e0067_e0062_e0065_e006e_e0067'), conceptKey('0023-FE0F-20E3'),
  slugify('one o’clock'), slugify('A button (blood type)'), slugify('piñata'), slugify('keycap: 0')]));
"""
        out = subprocess.run([NODE, "--input-type=module", "-e", script], capture_output=True, text=True, timeout=30)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertEqual(json.loads(out.stdout), [
            "2764", "1f468-200d-1f469-200d-1f467", "0023-20e3", "1f3f4-e0067-e0062-e0065-e006e-e0067-e007f",
            "0023-20e3", "one-oclock", "a-button-blood-type", "pinata", "keycap-0"])


@unittest.skipUnless(NODE and HAVE_MODULES,
                     "training/dataset/node_modules missing: run `npm install --no-audit --no-fund` in training/dataset")
class TinyBuildTest(unittest.TestCase):
    """node build.mjs --limit-concepts 6 on the real packages: ~1 s per build."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.out1 = Path(cls.tmp.name) / "one"
        cls.out2 = Path(cls.tmp.name) / "two"
        env = dict(os.environ, OMP_NUM_THREADS="1")
        for out in (cls.out1, cls.out2):
            r = subprocess.run([NODE, str(BUILD_MJS), "--out", str(out), "--limit-concepts", "6"],
                               cwd=BUILDER, capture_output=True, text=True, timeout=120, env=env)
            if r.returncode != 0:
                raise AssertionError(r.stdout + r.stderr)
        cls.ds = EmojiDataset(cls.out1)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def test_structure(self):
        ds = self.ds
        m = ds.manifest
        self.assertEqual(m["name"], "emoji-v1")
        self.assertEqual(m["format_version"], 1)
        self.assertEqual(m["roles"]["test"], "twitter")
        self.assertEqual(m["roles"]["val"], "openmoji-black")
        self.assertEqual(set(m["styles"]), {"google", "twitter", "openmoji-color", "openmoji-black",
                                            "fluent-color", "fluent-flat", "fluent-hc", "fluent-3d"})
        for info in m["styles"].values():
            self.assertNotRegex(info["source"], "apple|facebook")
        self.assertEqual(len(ds.concepts), 6)
        self.assertEqual([c["key"] for c in ds.concepts], sorted(c["key"] for c in ds.concepts))
        self.assertEqual(len(ds.concepts_in_at_least(3)), 6)
        self.assertIn("en", m["locales"])
        for name, (images, keys) in ds.styles.items():
            self.assertEqual(images.shape[1:], (64, 64, 4))
            self.assertEqual(m["styles"][name]["count"], len(keys))
            self.assertGreater((images[..., 3].reshape(len(keys), -1) > 0).mean(axis=1).min(), 0.02)
            self.assertTrue((images[..., :3][images[..., 3] == 0] == 0).all())
        lic = (self.out1 / "LICENSES.md").read_text(encoding="utf-8")
        for needle in ("CC BY 4.0", "CC BY-SA 4.0", "Apache", "Microsoft", "OpenMoji", "Twitter"):
            self.assertIn(needle, lic)

    def test_deterministic(self):
        files = sorted(p.relative_to(self.out1) for p in self.out1.rglob("*") if p.is_file())
        self.assertEqual(files, sorted(p.relative_to(self.out2) for p in self.out2.rglob("*") if p.is_file()))
        for f in files:
            self.assertEqual((self.out1 / f).read_bytes(), (self.out2 / f).read_bytes(), str(f))


@unittest.skipUnless((REAL / "manifest.json").exists(), "no full dataset at training/data/emoji-v1 (build it with training/dataset/build.mjs)")
class RealDatasetTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.ds = EmojiDataset(REAL)

    def test_invariants(self):
        ds = self.ds
        keys = [c["key"] for c in ds.concepts]
        self.assertEqual(keys, sorted(set(keys)))
        for k in keys:
            self.assertRegex(k, KEY_RE)
            self.assertNotIn("fe0f", k.split("-"))
            self.assertFalse(SKIN & set(k.split("-")), k)
        for name, (images, style_keys) in ds.styles.items():
            self.assertEqual(images.shape, (len(style_keys), 64, 64, 4))
            self.assertEqual(style_keys, sorted(set(style_keys)))
            self.assertEqual(ds.manifest["styles"][name]["count"], len(style_keys))
        for c in ds.concepts:
            self.assertEqual(c["styles"], ds.styles_of(c["key"]))
            self.assertTrue(c["styles"])
        n3 = len(ds.concepts_in_at_least(3))
        self.assertGreater(n3, 1700)
        self.assertEqual(ds.manifest["totals"]["concepts_in_at_least_k_styles"]["3"], n3)

    def test_split_is_stable(self):
        sp = self.ds.split()
        n = len(sp["seen"]) + len(sp["unseen"])
        self.assertAlmostEqual(len(sp["unseen"]) / n, 0.08, delta=0.02)
        self.assertEqual(sp, self.ds.split())
        self.assertEqual(sp["unseen"], [k for k in sp["unseen"] if is_unseen(k)])


if __name__ == "__main__":
    unittest.main()
