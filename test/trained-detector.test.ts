import { readFileSync } from 'node:fs';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cornersIou } from '../src/detection/yolo-decoder.js';
import { dataUri } from './helpers/images.js';
import { postJson, startTestServer, type TestServer } from './helpers/server.js';

/**
 * The project's trained detector (models/lookbook-detector) through the real HTTP path, on
 * scenes of the held-out twitter style (test/fixtures/scenes, written by
 * `python3 -m lookbook_training.detector.scenes --count 8 --out ../test/fixtures/scenes`).
 * Its full evaluation (1,000 scenes per style, mAP) is models/lookbook-detector/EVAL.md; here
 * the service's own letterbox, decoding and NMS must reproduce it.
 */
const DETECTOR = 'models/lookbook-detector/model.onnx';
const SCENES = 'test/fixtures/scenes';

type Box = [number, number, number, number];
interface Truth {
  label: string;
  bbox: Box;
}
const index = JSON.parse(readFileSync(`${SCENES}/index.json`, 'utf8')) as {
  names: Record<string, string>;
  scenes: { file: string; width: number; height: number; objects: Truth[] }[];
};

const iou = (a: Box, b: Box) => cornersIou(...a, ...b);

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({ LOOKBOOK_DETECTOR: DETECTOR });
});
afterAll(async () => {
  await server?.close();
});

describe('the trained detector (models/lookbook-detector)', () => {
  it('names its classes from the ONNX metadata, as written at export', async () => {
    const classes = JSON.parse(readFileSync('models/lookbook-detector/classes.json', 'utf8')) as { names: Record<string, string> };
    const names = Object.values(classes.names);
    expect(names).toHaveLength(14);
    expect(server.services.detector?.info.labels).toEqual(names);
    expect(Object.values(index.names)).toEqual(names);
  });

  it('finds objects of held-out-style scenes with the right label at the rate its evaluation measured', async () => {
    let truths = 0;
    let found = 0;
    let detections = 0;
    let matched = 0;
    for (const scene of index.scenes) {
      const png = readFileSync(`${SCENES}/${scene.file}`);
      const { status, json } = await postJson(`${server.url}/v1/detect`, { image: dataUri(png, 'image/png') });
      expect(status).toBe(200);
      expect(json.image).toEqual({ width: scene.width, height: scene.height });
      const objects = json.objects as { bbox: Box; label: string; score: number }[];
      for (const object of objects) {
        expect(object.bbox[0]).toBeGreaterThanOrEqual(0);
        expect(object.bbox[2]).toBeLessThanOrEqual(scene.width);
        expect(object.score).toBeGreaterThanOrEqual(0.25);
      }
      const used = new Set<number>();
      for (const truth of scene.objects) {
        truths++;
        const hit = objects.findIndex((o, i) => !used.has(i) && o.label === truth.label && iou(o.bbox, truth.bbox) >= 0.5);
        if (hit >= 0) {
          used.add(hit);
          found++;
        }
      }
      detections += objects.length;
      matched += used.size;
    }
    expect(truths).toBe(40);
    // Measured: see the EVAL.md figures at the service's defaults (confidence 0.25, IoU 0.45).
    // EVAL.md (1,000 twitter scenes, PyTorch decoding at the service's defaults): recall 0.78,
    // precision 0.66 for 0.3.0-e114; through the service on these 8 scenes: 30/40 and 30/47
    // (0.2.0-e50: 17/40 and 17/38; 0.1.0-e10: 12/40 and 12/25). A broken letterbox, box
    // mapping or class order gives ~0. Raise these with a better detector.
    expect(found / truths).toBeGreaterThanOrEqual(0.6);
    expect(matched / detections).toBeGreaterThanOrEqual(0.5);
  });

  it('finds nothing in an empty scene', async () => {
    for (const background of ['#ffffff', '#3a7bd5']) {
      const image = await sharp({ create: { width: 320, height: 240, channels: 3, background } }).png().toBuffer();
      const { status, json } = await postJson(`${server.url}/v1/detect`, { image: dataUri(image, 'image/png') });
      expect(status).toBe(200);
      expect(json.objects).toEqual([]);
    }
  });
});
