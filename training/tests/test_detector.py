"""The detector: scenes, loss, mAP, ONNX export, training (resume) and the smoke run.

Fast, one thread: the synthetic shapes dataset (built once per class), 64–128 px scenes.
Tests that need the real dataset (training/data/emoji-v1) or Node (onnxruntime-node) skip
without them.
"""

import ast
import json
import math
import shutil
import subprocess
import tempfile
import unittest
from dataclasses import replace
from pathlib import Path

import numpy as np
import onnx
import torch

from lookbook_training.dataset import PRODUCT_CATEGORIES, EmojiDataset
from lookbook_training.detector.evaluate import (
    IOU_THRESHOLDS,
    average_precision,
    decode_output,
    iou_matrix,
    mean_average_precision,
    nms,
    precision_recall,
)
from lookbook_training.detector.export import export_detector_onnx, parse_names, read_metadata
from lookbook_training.detector.loss import DetectionLoss, TaskAlignedAssigner, box_iou, ciou, dfl_loss
from lookbook_training.detector.model import DetectorConfig, DetectorNet, ExportModel, make_anchors
from lookbook_training.detector.scenes import (
    BOX_ALPHA,
    CATEGORY_CLASS,
    CLASS_NAMES,
    PRODUCT_CLASSES,
    SHAPE_CLASSES,
    SOLID_ALPHA,
    SceneConfig,
    SceneGenerator,
    SourcePool,
    class_set_for,
    eval_generator,
    letterbox_offsets,
    save_scenes,
)
from lookbook_training.detector.train import (
    DetTrainConfig,
    EchoBatches,
    StepBatches,
    Trainer,
    TrainScenes,
    _worker_init,
    collate,
    lr_at,
    make_smoke_dataset,
    mirror_batch,
    run_smoke,
    smoke_config,
)

TRAINING = Path(__file__).resolve().parents[1]
REPO = TRAINING.parent
REAL_DATA = TRAINING / "data" / "emoji-v1"

torch.set_num_threads(1)


class SyntheticData(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = Path(tempfile.mkdtemp(prefix="lookbook-det-test-"))
        cls.data_dir = make_smoke_dataset(cls.tmp / "data")
        cls.ds = EmojiDataset(cls.data_dir)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)


# ---------------------------------------------------------------------------------------------


class ScenesTest(SyntheticData):
    def gen(self, **kw):
        pool = SourcePool(self.ds, self.ds.train_styles, SHAPE_CLASSES)
        return SceneGenerator(pool, SceneConfig(size=128, **kw), seed=3)

    def test_class_table(self):
        self.assertEqual(len(CLASS_NAMES), 14)
        self.assertEqual(set(CATEGORY_CLASS), set(PRODUCT_CATEGORIES))
        self.assertEqual(set(CATEGORY_CLASS.values()), set(CLASS_NAMES))
        self.assertIs(class_set_for(self.ds), SHAPE_CLASSES)

    def test_scenes_are_deterministic(self):
        a, b = self.gen(photometric=True), self.gen(photometric=True)
        for i in (0, 7):
            s1, s2 = a.scene(i), b.scene(i)
            np.testing.assert_array_equal(s1.image, s2.image)
            np.testing.assert_array_equal(s1.boxes, s2.boxes)
            np.testing.assert_array_equal(s1.classes, s2.classes)
        self.assertFalse(np.array_equal(a.scene(0).image, a.scene(1).image))
        other = SceneGenerator(a.pool, a.cfg, seed=4)
        self.assertFalse(np.array_equal(a.scene(0).image, other.scene(0).image))

    def test_boxes_are_tight_around_the_pasted_alpha(self):
        gen = self.gen()
        n_boxes = 0
        for i in range(30):
            sc = gen.scene(i, debug=True)
            self.assertEqual(sc.image.shape, (128, 128, 3))
            self.assertEqual(sc.image.dtype, np.uint8)
            self.assertEqual(len(sc.layers), len(sc.boxes))
            self.assertLessEqual(len(sc.boxes), 8)
            left, top, w, h = sc.content
            for box, cls, layer in zip(sc.boxes, sc.classes, sc.layers):
                self.assertTrue(0 <= cls < len(SHAPE_CLASSES.names))
                ys, xs = np.nonzero(layer >= BOX_ALPHA)
                self.assertEqual(tuple(box), (xs.min(), ys.min(), xs.max() + 1, ys.max() + 1))
                self.assertTrue(left <= box[0] < box[2] <= left + w and top <= box[1] < box[3] <= top + h)
                n_boxes += 1
        self.assertGreater(n_boxes, 60)

    def test_objects_stay_mostly_visible(self):
        gen = self.gen(p_distractors=0.0, p_edge=0.0, p_letterbox=0.0, min_visible=0.6)
        checked = 0
        for i in range(30):
            sc = gen.scene(i, debug=True)
            solid = [layer >= SOLID_ALPHA for layer in sc.layers]  # in stacking order
            for j, mask in enumerate(solid):
                covered = np.zeros_like(mask)
                for later in solid[j + 1:]:
                    covered |= later
                visible = (mask & ~covered).sum()
                self.assertGreaterEqual(visible, 0.6 * mask.sum() - 1e-9)
                checked += 1
        self.assertGreater(checked, 60)

    def test_letterbox_matches_the_service(self):
        # yolo-decoder.ts: padLeft = round((S - w) / 2 - 0.1); odd padding → extra pixel bottom/right
        self.assertEqual(letterbox_offsets(256, 200, 256), (0, 28))
        self.assertEqual(letterbox_offsets(256, 171, 256), (0, 42))
        self.assertEqual(letterbox_offsets(99, 256, 256), (78, 0))
        gen = self.gen(p_letterbox=1.0)
        sc = gen.scene(0)
        left, top, w, h = sc.content
        self.assertTrue(w == 128 or h == 128)
        self.assertEqual((left, top), letterbox_offsets(w, h, 128))
        pad = np.ones((128, 128), dtype=bool)
        pad[top:top + h, left:left + w] = False
        self.assertTrue((sc.image[pad] == 114).all())

    def test_saved_scenes_are_png_plus_ground_truth_in_png_pixels(self):
        from PIL import Image

        gen = eval_generator(self.ds, self.ds.test_style, 128)
        out = save_scenes(gen, 4, self.tmp / "scenes")
        index = json.loads((out / "index.json").read_text())
        self.assertEqual(index["names"]["0"], "circle")
        self.assertEqual(len(index["scenes"]), 4)
        for entry in index["scenes"]:
            img = Image.open(out / entry["file"])
            self.assertEqual(img.size, (entry["width"], entry["height"]))
            sc = gen.scene(entry["index"])
            left, top, _, _ = sc.content
            got = np.array([o["bbox"] for o in entry["objects"]]).reshape(-1, 4)
            np.testing.assert_allclose(got + [left, top, left, top], sc.boxes)
            np.testing.assert_array_equal(np.asarray(img), sc.image[top:top + entry["height"], left:left + entry["width"]])

    @unittest.skipUnless((REAL_DATA / "manifest.json").exists(), "emoji-v1 not built")
    def test_real_dataset_has_every_class_in_train_and_test_styles(self):
        ds = EmojiDataset(REAL_DATA)
        self.assertIs(class_set_for(ds), PRODUCT_CLASSES)
        train = SourcePool(ds, ds.train_styles, PRODUCT_CLASSES)
        test = SourcePool(ds, [ds.test_style], PRODUCT_CLASSES)
        for counts in (train.counts(), test.counts()):
            self.assertEqual(list(counts), list(CLASS_NAMES))
            self.assertTrue(all(c["concepts"] >= 7 for c in counts.values()), counts)
        self.assertGreater(len(test.distractors), 1000)
        sc = SceneGenerator(train, SceneConfig(), seed=0).scene(0, debug=True)
        self.assertEqual(sc.image.shape, (256, 256, 3))


# ---------------------------------------------------------------------------------------------


class LossTest(unittest.TestCase):
    def test_iou_and_ciou(self):
        a = torch.tensor([0.0, 0.0, 10.0, 10.0])
        b = torch.tensor([5.0, 0.0, 15.0, 10.0])
        self.assertAlmostEqual(float(box_iou(a, b)), 50 / 150, places=5)
        self.assertAlmostEqual(float(ciou(a, a)), 1.0, places=5)
        far = torch.tensor([20.0, 20.0, 30.0, 30.0])
        self.assertLess(float(ciou(a, far)), 0.0)
        self.assertLess(float(ciou(a, b)), float(box_iou(a, b)))

    def test_dfl_is_small_for_a_peaked_distribution_at_the_target(self):
        logits = torch.full((1, 4, 16), -20.0)
        logits[0, :, 3] = 20.0
        self.assertLess(float(dfl_loss(logits, torch.full((1, 4), 3.0))), 1e-4)
        self.assertGreater(float(dfl_loss(logits, torch.full((1, 4), 7.0))), 10)

    def test_assigner_picks_anchors_inside_the_box(self):
        points, strides = make_anchors([(4, 4)], [8])  # 32×32 image, cell centres 4, 12, 20, 28
        anc = points * strides
        gt = torch.tensor([[[0.0, 0.0, 16.0, 16.0]]])  # covers the 4 top-left cells
        pd_boxes = gt.expand(1, 16, 4).clone()
        pd_scores = torch.full((1, 16, 3), 0.5)
        labels, boxes, scores, fg = TaskAlignedAssigner(topk=10)(
            pd_scores, pd_boxes, anc, torch.tensor([[2]]), gt, torch.tensor([[True]]))
        inside = (anc[:, 0] < 16) & (anc[:, 1] < 16)
        self.assertTrue(torch.equal(fg[0], inside))
        self.assertTrue((labels[0][fg[0]] == 2).all())
        self.assertAlmostEqual(float(scores[0].max()), 1.0, places=5)  # best positive gets its IoU (1)
        self.assertEqual(float(scores[0][~fg[0]].abs().sum()), 0.0)
        self.assertTrue(torch.equal(scores[0][fg[0]].argmax(-1), torch.full((4,), 2)))

    def test_assigner_gives_a_shared_anchor_to_the_box_it_overlaps_most(self):
        points, strides = make_anchors([(4, 4)], [8])
        anc = points * strides
        gts = torch.tensor([[[0.0, 0.0, 32.0, 32.0], [0.0, 0.0, 9.0, 9.0]]])
        pd_boxes = torch.tensor([[0.0, 0.0, 9.0, 9.0]]).expand(1, 16, 4).clone()
        labels, boxes, _, fg = TaskAlignedAssigner(topk=16)(
            torch.full((1, 16, 2), 0.5), pd_boxes, anc, torch.tensor([[0, 1]]), gts, torch.tensor([[True, True]]))
        self.assertEqual(int(labels[0, 0]), 1)  # anchor (4, 4): inside both, predicted box = the small one
        self.assertTrue(torch.equal(boxes[0, 0], gts[0, 1]))
        self.assertEqual(int(labels[0, 5]), 0)  # (12, 12): only inside the big one

    def test_no_boxes_gives_finite_loss_and_pushes_scores_down(self):
        torch.manual_seed(0)
        net = DetectorNet(DetectorConfig.preset("tiny", num_classes=3, image_size=64))
        feats = net(torch.rand(2, 3, 64, 64))
        loss, parts = DetectionLoss(3)(net, feats, torch.zeros(2, 1, dtype=torch.long), torch.zeros(2, 1, 4),
                                       torch.zeros(2, 1, dtype=torch.bool))
        self.assertTrue(torch.isfinite(loss))
        self.assertEqual(int(parts["positives"]), 0)
        self.assertEqual(float(parts["box"]), 0.0)

    def test_loss_falls_when_fitting_one_batch(self):
        torch.manual_seed(0)
        net = DetectorNet(DetectorConfig.preset("tiny", num_classes=2, image_size=64))
        crit = DetectionLoss(2)
        x = torch.rand(2, 3, 64, 64)
        labels = torch.tensor([[0, 1], [1, 0]])
        boxes = torch.tensor([[[4.0, 4.0, 30.0, 30.0], [34.0, 30.0, 60.0, 62.0]], [[10.0, 8.0, 50.0, 40.0], [0, 0, 0, 0]]])
        mask = torch.tensor([[True, True], [True, False]])
        opt = torch.optim.AdamW(net.parameters(), lr=3e-3)
        losses = []
        for _ in range(15):
            loss, parts = crit(net.train(), net(x), labels, boxes, mask)
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(float(loss))
            self.assertGreater(int(parts["positives"]), 0)
        self.assertLess(losses[-1], 0.6 * losses[0])


# ---------------------------------------------------------------------------------------------


def dets(boxes, scores, classes):
    return (np.array(boxes, dtype=np.float32).reshape(-1, 4), np.array(scores, dtype=np.float32),
            np.array(classes, dtype=np.int64))


def gts(boxes, classes):
    return np.array(boxes, dtype=np.float32).reshape(-1, 4), np.array(classes, dtype=np.int64)


class MapTest(unittest.TestCase):
    A = [10, 10, 50, 50]
    B = [60, 60, 90, 100]

    def test_perfect_detections_give_one(self):
        m = mean_average_precision([dets([self.A, self.B], [0.9, 0.8], [0, 1])], [gts([self.A, self.B], [0, 1])], 2)
        self.assertEqual(m["map50"], 1.0)
        self.assertEqual(m["map50_95"], 1.0)
        np.testing.assert_array_equal(m["instances"], [1, 1])

    def test_a_missed_object_halves_recall(self):
        m = mean_average_precision([dets([self.A], [0.9], [0]), dets([], [], [])],
                                   [gts([self.A], [0]), gts([self.B], [0])], 1)
        self.assertAlmostEqual(m["map50"], 51 / 101)  # precision 1 up to recall 0.5, then nothing

    def test_a_duplicate_is_a_false_positive(self):
        img1 = dets([self.A, [11, 10, 50, 51]], [0.9, 0.8], [0, 0])
        img2 = dets([self.B], [0.7], [0])
        m = mean_average_precision([img1, img2], [gts([self.A], [0]), gts([self.B], [0])], 1)
        # TP, FP, TP: precision 1 to recall 0.5, then 2/3 to recall 1
        self.assertAlmostEqual(m["map50"], (51 + 50 * 2 / 3) / 101)
        # a duplicate scored below every true positive costs nothing
        late = [dets([self.A, [11, 10, 50, 51]], [0.9, 0.1], [0, 0]), img2]
        self.assertAlmostEqual(mean_average_precision(late, [gts([self.A], [0]), gts([self.B], [0])], 1)["map50"], 1.0)

    def test_wrong_class_and_loose_boxes(self):
        m = mean_average_precision([dets([self.A], [0.9], [1])], [gts([self.A], [0])], 2)
        self.assertEqual(m["map50"], 0.0)  # class 1 has no ground truth: not in the mean
        self.assertTrue(math.isnan(m["ap50"][1]))
        shifted = [14, 10, 54, 50]  # IoU 36·40 / (2·1600 − 1440) = 0.818
        m = mean_average_precision([dets([shifted], [0.9], [0])], [gts([self.A], [0])], 1)
        self.assertEqual(m["map50"], 1.0)
        self.assertAlmostEqual(m["map50_95"], float(np.mean(IOU_THRESHOLDS <= 0.818)))

    def test_average_precision_of_nothing(self):
        self.assertEqual(list(average_precision(np.zeros((0, 1), bool), np.zeros(0), 3)), [0.0])

    def test_precision_recall_at_a_fixed_threshold(self):
        pr = precision_recall([dets([self.A, self.B], [0.9, 0.8], [0, 0])], [gts([self.A], [0])], 1)
        self.assertEqual(float(pr["precision"][0]), 0.5)
        self.assertEqual(float(pr["recall"][0]), 1.0)

    def test_nms_is_class_aware_like_the_service(self):
        # the same cases as src/detection/yolo-decoder.test.ts
        a, b, c = [0, 0, 10, 10], [1, 1, 11, 11], [1, 1, 11, 11]
        boxes = np.array([b, c, a], dtype=np.float32)
        scores = np.array([0.8, 0.7, 0.9], dtype=np.float32)
        classes = np.array([0, 1, 0])
        self.assertAlmostEqual(float(iou_matrix(np.array([a]), np.array([b]))[0, 0]), 81 / 119)
        self.assertEqual(list(nms(boxes, scores, classes, 0.5)), [2, 1])
        self.assertEqual(list(nms(boxes, scores, classes, 0.7)), [2, 0, 1])
        self.assertEqual(list(nms(boxes, scores, classes, 0.5, max_det=1)), [2])

    def test_decode_output_of_the_handmade_fixture(self):
        from lookbook_training.make_detector_fixture import ANCHORS

        out = np.array(ANCHORS, dtype=np.float32).T  # [4 + 3, 6]
        boxes, scores, classes = decode_output(out, 0.25, 0.45, 20)
        np.testing.assert_allclose(scores, [0.9, 0.85, 0.7, 0.6], rtol=1e-6)
        self.assertEqual(list(classes), [0, 1, 2, 1])
        np.testing.assert_allclose(boxes[0], [22, 12, 42, 28])


# ---------------------------------------------------------------------------------------------


def _node_available() -> bool:
    return shutil.which("node") is not None and (REPO / "node_modules" / "onnxruntime-node").exists()


NODE_SCRIPT = r"""
import { createRequire } from 'node:module';
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
const [repo, model, inputPath, n, s, outPath] = process.argv.slice(2);
const require = createRequire(repo + '/package.json');
const ort = require('onnxruntime-node');
const session = await ort.InferenceSession.create(model, { intraOpNumThreads: 1 });
const buf = readFileSync(inputPath);
const data = new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.length));
const res = await session.run({ images: new ort.Tensor('float32', data, [Number(n), 3, Number(s), Number(s)]) });
const out = res.output0;
writeFileSync(outPath, Buffer.from(out.data.buffer, out.data.byteOffset, out.data.byteLength));
let meta = null;
const metaJs = repo + '/dist/src/detection/onnx-metadata.js';
if (existsSync(metaJs)) {
  const m = await import(pathToFileURL(metaJs).href);
  const md = m.readOnnxMetadata(model);
  meta = { names: Object.fromEntries(m.parseUltralyticsNames(md.names)), imgsz: md.imgsz, task: md.task };
}
console.log(JSON.stringify({ dims: out.dims, meta }));
"""


class ExportTest(unittest.TestCase):
    NAMES = ("shirt", "driver's seat", "bag")

    @classmethod
    def setUpClass(cls):
        cls.tmp = Path(tempfile.mkdtemp(prefix="lookbook-det-export-"))
        torch.manual_seed(0)
        cls.net = DetectorNet(DetectorConfig.preset("tiny", num_classes=3, names=cls.NAMES, image_size=64)).eval()
        cls.path = cls.tmp / "model.onnx"
        export_detector_onnx(cls.net, cls.path, 64, "9.9.9-test")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def test_interface_is_ultralytics(self):
        model = onnx.load(str(self.path))
        onnx.checker.check_model(model, full_check=True)
        self.assertEqual(model.opset_import[0].version, 17)
        (inp,), (out,) = model.graph.input, model.graph.output

        def dims(v):
            return [d.dim_param or d.dim_value for d in v.type.tensor_type.shape.dim]

        self.assertEqual(inp.name, "images")
        self.assertEqual(dims(inp), ["batch", 3, 64, 64])
        self.assertEqual(inp.type.tensor_type.elem_type, onnx.TensorProto.FLOAT)
        self.assertEqual(out.name, "output0")
        self.assertEqual(dims(out), ["batch", 4 + 3, 64 + 16 + 4])
        ops = {n.op_type for n in model.graph.node}
        self.assertNotIn("NonMaxSuppression", ops)

    def test_metadata_has_the_names_as_a_python_dict(self):
        meta = read_metadata(self.path)
        self.assertEqual(meta["names"], str({0: "shirt", 1: "driver's seat", 2: "bag"}))
        self.assertEqual(parse_names(meta["names"]), dict(enumerate(self.NAMES)))
        self.assertEqual(ast.literal_eval(meta["imgsz"]), [64, 64])
        self.assertEqual(meta["task"], "detect")
        self.assertEqual(meta["stride"], "32")
        self.assertEqual(meta["lookbook_version"], "9.9.9-test")
        self.assertIn("description", meta)

    def test_export_wrapper_matches_the_training_decoder(self):
        x = torch.rand(2, 3, 64, 64, generator=torch.Generator().manual_seed(1))
        with torch.no_grad():
            a = self.net.predict(x)
            b = ExportModel(self.net, 64)(x)
        self.assertEqual(tuple(a.shape), (2, 7, 84))
        torch.testing.assert_close(a, b, atol=1e-4, rtol=1e-5)
        # cx, cy inside the image's neighbourhood, w, h positive, scores in (0, 1)
        self.assertTrue((a[:, 2:4] > 0).all() and (a[:, 4:] > 0).all() and (a[:, 4:] < 1).all())

    @unittest.skipUnless(_node_available(), "node / onnxruntime-node not installed")
    def test_onnxruntime_node_matches_pytorch_and_reads_the_names(self):
        x = torch.rand(2, 3, 64, 64, generator=torch.Generator().manual_seed(2))
        with torch.no_grad():
            expected = self.net.predict(x).numpy()
        (self.tmp / "in.bin").write_bytes(x.numpy().astype("<f4").tobytes())
        (self.tmp / "check.mjs").write_text(NODE_SCRIPT)
        proc = subprocess.run(["node", str(self.tmp / "check.mjs"), str(REPO), str(self.path), str(self.tmp / "in.bin"),
                               "2", "64", str(self.tmp / "out.bin")], capture_output=True, text=True, timeout=60)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        info = json.loads(proc.stdout.strip().splitlines()[-1])
        self.assertEqual(info["dims"], [2, 7, 84])
        got = np.frombuffer((self.tmp / "out.bin").read_bytes(), dtype="<f4").reshape(2, 7, 84)
        np.testing.assert_allclose(got, expected, atol=2e-4, rtol=1e-4)
        if info["meta"] is not None:
            self.assertEqual(info["meta"]["names"], {"0": "shirt", "1": "driver's seat", "2": "bag"})
            self.assertEqual(info["meta"]["task"], "detect")


    def fp16_export(self):
        path = self.tmp / "model-fp16.onnx"
        if not path.exists():
            export_detector_onnx(self.net, path, 64, "9.9.9-test", fp16_weights=True)
        return path

    def test_fp16_weights_halve_the_file_and_keep_the_interface(self):
        from lookbook_training.detector.export import load_exported

        path = self.fp16_export()
        model = onnx.load(str(path))
        onnx.checker.check_model(model, full_check=True)
        self.assertLess(path.stat().st_size, 0.6 * self.path.stat().st_size)
        self.assertEqual(model.graph.input[0].type.tensor_type.elem_type, onnx.TensorProto.FLOAT)
        self.assertEqual(model.graph.output[0].type.tensor_type.elem_type, onnx.TensorProto.FLOAT)
        halves = [i for i in model.graph.initializer if i.data_type == onnx.TensorProto.FLOAT16]
        casts = [n for n in model.graph.node if n.op_type == "Cast"]
        self.assertEqual(len(halves), len(casts))
        self.assertGreater(len(halves), 10)
        self.assertEqual(read_metadata(path), read_metadata(self.path))
        # Read back, the weights are float16 values and compute nearly what the run computes.
        net16, net32 = load_exported(path, self.net.cfg), load_exported(self.path, self.net.cfg)
        convs16 = [m.weight for m in net16.modules() if isinstance(m, torch.nn.Conv2d)]
        self.assertTrue(all(torch.equal(w, w.half().float()) for w in convs16))
        x = torch.rand(2, 3, 64, 64, generator=torch.Generator().manual_seed(3))
        with torch.no_grad():
            a, b, c = net16.predict(x), net32.predict(x), self.net.predict(x)
        torch.testing.assert_close(b, c, atol=1e-4, rtol=1e-4)  # the float32 graph is the run
        self.assertFalse(torch.equal(a, b))
        torch.testing.assert_close(a, b, atol=0.05, rtol=0.01)

    @unittest.skipUnless(_node_available(), "node / onnxruntime-node not installed")
    def test_onnxruntime_node_computes_the_fp16_stored_weights_in_float32(self):
        from lookbook_training.detector.export import load_exported

        x = torch.rand(2, 3, 64, 64, generator=torch.Generator().manual_seed(4))
        with torch.no_grad():
            expected = load_exported(self.fp16_export(), self.net.cfg).predict(x).numpy()
        (self.tmp / "in16.bin").write_bytes(x.numpy().astype("<f4").tobytes())
        (self.tmp / "check.mjs").write_text(NODE_SCRIPT)
        proc = subprocess.run(["node", str(self.tmp / "check.mjs"), str(REPO), str(self.fp16_export()),
                               str(self.tmp / "in16.bin"), "2", "64", str(self.tmp / "out16.bin")],
                              capture_output=True, text=True, timeout=60)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        got = np.frombuffer((self.tmp / "out16.bin").read_bytes(), dtype="<f4").reshape(2, 7, 84)
        np.testing.assert_allclose(got, expected, atol=2e-4, rtol=1e-4)


# ---------------------------------------------------------------------------------------------


class TrainTest(SyntheticData):
    def cfg(self, **kw):
        return replace(smoke_config(self.data_dir), image_size=64, batch_size=4, max_steps=4, log_every_steps=1, **kw)

    def test_lr_schedule(self):
        cfg = DetTrainConfig(scenes_per_epoch=100, batch_size=10, epochs=10, warmup_epochs=1, lr=1e-3, min_lr_ratio=0.1)
        self.assertAlmostEqual(lr_at(cfg, 0, 100, 0), 1e-4)
        self.assertAlmostEqual(lr_at(cfg, 10, 100, 0), 1e-3)
        self.assertAlmostEqual(lr_at(cfg, 100, 100, 0), 1e-4)
        timed = replace(cfg, budget_minutes=1.0)
        self.assertAlmostEqual(lr_at(timed, 50, 100, 30.0), 1e-4 + 0.9e-3 * 0.5)
        self.assertAlmostEqual(lr_at(timed, 50, 100, 600.0), 1e-4)

    def test_resume_continues_exactly(self):
        cpu = torch.device("cpu")
        straight = Trainer(self.cfg(), self.tmp / "straight", device=cpu, workers=0, log=lambda _: None)
        straight.run()
        first = Trainer(self.cfg(), self.tmp / "pieces", device=cpu, workers=0, log=lambda _: None)
        self.assertFalse(first.run(max_steps_now=2))
        self.assertEqual(first.step, 2)
        with self.assertRaises(FileExistsError):
            Trainer(self.cfg(), self.tmp / "pieces", device=cpu, workers=0, log=lambda _: None)
        second = Trainer(self.cfg(), self.tmp / "pieces", resume=True, device=cpu, workers=0, log=lambda _: None)
        self.assertEqual(second.step, 2)
        self.assertTrue(second.run())
        for a, b in ((straight.net, second.net), (straight.ema.ema, second.ema.ema)):
            for (k, va), vb in zip(a.state_dict().items(), b.state_dict().values()):
                self.assertTrue(torch.equal(va, vb), k)
        sa, sb = straight.optimizer.state_dict()["state"], second.optimizer.state_dict()["state"]
        for k in sa:
            self.assertTrue(torch.equal(sa[k]["exp_avg"], sb[k]["exp_avg"]))
        self.assertTrue((self.tmp / "pieces" / "model.pt").exists())
        events = [json.loads(l).get("event") for l in (self.tmp / "pieces" / "log.jsonl").read_text().splitlines()]
        self.assertIn("stopped", events)
        self.assertIn("finished", events)

    def test_warm_start_from_an_exported_detector(self):
        from lookbook_training.detector.export import export_run

        cpu = torch.device("cpu")
        quiet = lambda _: None  # noqa: E731
        first = Trainer(self.cfg(), self.tmp / "warm-a", device=cpu, workers=0, log=quiet)
        self.assertTrue(first.run())
        exported = self.tmp / "warm-model"
        export_run(self.tmp / "warm-a", exported, log=quiet, fp16_weights=False)  # exact weights (fp16: ExportTest)
        second = Trainer(self.cfg(init_from=str(exported / "model.onnx")), self.tmp / "warm-b", device=cpu,
                         workers=0, log=quiet)
        # The export holds the EMA weights: the warm start computes what they compute.
        x = torch.rand(3, 3, 64, 64, generator=torch.Generator().manual_seed(5))
        with torch.no_grad():
            torch.testing.assert_close(second.net.eval().predict(x), first.ema.ema.eval().predict(x), atol=1e-4, rtol=1e-4)
            torch.testing.assert_close(second.ema.ema.predict(x), first.ema.ema.predict(x), atol=1e-4, rtol=1e-4)
        run = json.loads((self.tmp / "warm-b" / "run.json").read_text())
        self.assertEqual(run["init_from"]["path"], str((exported / "model.onnx").resolve()))
        self.assertTrue(second.run())
        # Other classes or another input size are refused.
        with self.assertRaisesRegex(ValueError, "input"):
            Trainer(replace(self.cfg(init_from=str(exported / "model.onnx")), image_size=96), self.tmp / "warm-c",
                    device=cpu, workers=0, log=quiet)

    def test_worker_processes_give_the_same_batches(self):
        pool = SourcePool(self.ds, self.ds.train_styles, SHAPE_CLASSES)
        data = TrainScenes(SceneGenerator(pool, SceneConfig(size=64, photometric=True), seed=1))

        def batches(workers):
            kw = {"num_workers": workers, "worker_init_fn": _worker_init} if workers else {}
            loader = torch.utils.data.DataLoader(data, batch_sampler=StepBatches(3, 6, 4), collate_fn=collate, **kw)
            return list(loader)

        a, b = batches(0), batches(2)
        self.assertEqual(len(a), 3)
        for x, y in zip(a, b):
            for u, v in zip(x, y):
                self.assertTrue(torch.equal(u, v))
        sc = data.gen.scene(3 * 4 + 1)  # step 3, item 1
        self.assertTrue(torch.equal(a[0][0][1], torch.from_numpy(sc.image)))
        self.assertEqual(int(a[0][3][1].sum()), len(sc.classes))

    def test_presets_have_the_ultralytics_sizes(self):
        # Ultralytics reports 3,157,200 parameters for yolov8n.yaml and 11,166,560 for
        # yolov8s.yaml (80 classes): the same layers, widths and depths.
        from lookbook_training.detector.model import count_parameters

        for preset, expected in (("n", 3_157_200), ("s", 11_166_560)):
            self.assertEqual(count_parameters(DetectorNet(DetectorConfig.preset(preset, num_classes=80))), expected)

    def test_echo_repeats_a_batch_only_while_the_next_is_not_ready(self):
        import threading
        import time as _time

        gate = threading.Event()

        def slow():
            yield "a"
            gate.wait(5)  # "b" is late: "a" serves the waiting steps, at most 3 in all
            yield "b"
            yield "c"

        echo = EchoBatches(slow(), echo=3)
        got = []
        for item in echo:
            got.append(item)
            if len(got) == 3:
                gate.set()
                _time.sleep(0.3)  # "b" and "c" are ready now: no echo between them
            if len(got) == 5:
                break
        self.assertEqual(got[:3], [("a", False), ("a", True), ("a", True)])
        self.assertEqual(got[3:], [("b", False), ("c", False)])
        self.assertEqual(echo.fresh, 3)
        # echo 1 never repeats; an error in the loader reaches the loop
        self.assertEqual(list(EchoBatches(iter("xyz"), echo=1)), [("x", False), ("y", False), ("z", False)])

        def broken():
            yield 1
            raise OSError("disk")

        with self.assertRaisesRegex(OSError, "disk"):
            list(EchoBatches(broken(), echo=1))

    def test_mirrored_boxes_frame_the_mirrored_pixels(self):
        pool = SourcePool(self.ds, self.ds.train_styles, SHAPE_CLASSES)
        gen = SceneGenerator(pool, SceneConfig(size=64), seed=2)
        images, labels, boxes, mask = collate([TrainScenes(gen)[i] for i in range(6)])
        torch.manual_seed(0)
        flipped, fboxes = mirror_batch(images, boxes, p=1.0)
        self.assertTrue(torch.equal(flipped, images.flip(2)))
        for i in range(6):
            for j in range(int(mask[i].sum())):
                x1, y1, x2, y2 = (int(v) for v in boxes[i, j])
                fx1, fy1, fx2, fy2 = (int(v) for v in fboxes[i, j])
                self.assertEqual((fy1, fy2, fx2 - fx1), (y1, y2, x2 - x1))
                self.assertTrue(torch.equal(flipped[i, fy1:fy2, fx1:fx2], images[i, y1:y2, x1:x2].flip(1)))
        same, sboxes = mirror_batch(images, boxes, p=0.0)
        self.assertTrue(torch.equal(same, images) and torch.equal(sboxes, boxes))

    def test_echoing_run_counts_new_batches_and_resumes(self):
        cpu = torch.device("cpu")
        quiet = lambda _: None  # noqa: E731
        t = Trainer(replace(self.cfg(echo=4), max_steps=6), self.tmp / "echo", device=cpu, workers=0, log=quiet)
        self.assertFalse(t.run(max_steps_now=3))
        self.assertEqual(t.step, 3)
        self.assertTrue(1 <= t.batches <= 3)
        self.assertEqual(t.scenes_seen, 4 * t.batches)
        again = Trainer(replace(self.cfg(echo=4), max_steps=6), self.tmp / "echo", resume=True, device=cpu, workers=0, log=quiet)
        self.assertEqual((again.step, again.batches), (t.step, t.batches))
        self.assertTrue(again.run())
        self.assertEqual(again.step, 6)

    def test_smoke_run_end_to_end(self):
        out = self.tmp / "smoke"
        shutil.copytree(self.data_dir, out / "data")
        result = run_smoke(out, log=lambda _: None, eval_count=8)
        self.assertLess(result["final_loss"], result["first_loss"])
        model_dir = out / "model"
        for name in ("model.onnx", "EVAL.md", "LICENSES.md", "training.json", "classes.json"):
            self.assertTrue((model_dir / name).exists(), name)
        meta = read_metadata(model_dir / "model.onnx")
        self.assertEqual(parse_names(meta["names"]), dict(enumerate(SHAPE_CLASSES.names)))
        self.assertEqual(ast.literal_eval(meta["imgsz"]), [128, 128])
        report = json.loads((out / "run" / "eval.json").read_text())
        test = report["results"][report["test_style"]]
        self.assertEqual(test["scenes"], 8)
        self.assertEqual([r["class"] for r in test["per_class"]], list(SHAPE_CLASSES.names))
        self.assertIn("mAP@0.5:0.95", (model_dir / "EVAL.md").read_text())
        training = json.loads((model_dir / "training.json").read_text())
        self.assertEqual(training["output"]["shape"], ["batch", 4 + 6, 256 + 64 + 16])


if __name__ == "__main__":
    unittest.main()
