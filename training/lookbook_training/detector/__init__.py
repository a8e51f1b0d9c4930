"""Lookbook's object detector: synthetic scenes of product emoji, a small anchor-free
YOLOv8-style model, its loss, training, COCO-style evaluation and an ONNX export in the
Ultralytics YOLO format (see training/README.md, "Detector").

- ``scenes``: classes (merged product categories) and the deterministic scene generator;
- ``model``: ``DetectorNet`` (backbone, PAN neck, decoupled DFL heads) and its decoding;
- ``loss``: task-aligned assigner, BCE + CIoU + DFL loss;
- ``train``: the resumable trainer (``python3 -m lookbook_training.detector.train``);
- ``evaluate``: class-aware NMS, mAP@0.5 and mAP@0.5:0.95, ``EVAL.md``;
- ``export``: ONNX in the Ultralytics format and ``models/lookbook-detector/``.
"""
