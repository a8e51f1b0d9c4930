/**
 * tools/ctl-data — the Complete the Look training and evaluation data: themed scenes of emoji
 * products with one item held out, and the default encoder's features of everything, computed by
 * the service's own preprocessing and ONNX session (so the compatibility model learns on exactly
 * the vectors the service will give it).
 *
 * Themes come from CLDR names and keywords (see THEMES: an item belongs to a theme when a word of
 * its name or keywords is one of the theme's words). A scene holds 3 to 5 items of one theme, each
 * of a different detector class; one of them is held out (not drawn: "cropped out", as the paper
 * does) and is the positive; the negatives are the items of its class from other themes.
 *
 *   cd training/dataset && node build.mjs --out ../data/emoji-v1     (all styles)
 *   cd training && python3 -m lookbook_training.detector.shop_eval   (the product classes)
 *   node dist/tools/ctl-data.js [--out training/data/ctl]
 *
 * Output (`--out`): meta.json (themes, products, scenes with their regions) and float32 feature
 * files: products-<style>.f32 (one row per product concept), <split>-scenes.f32, <split>-regions.f32.
 * Splits: train (scenes drawn in the training styles), val (openmoji-black), test (twitter, the
 * style the encoder never trained on).
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import sharp, { type OverlayOptions } from 'sharp';
import { DualEncoder } from '../src/encoders/dual-encoder.js';
import { readModelSpec } from '../src/encoders/model-layouts.js';
import { createLogger } from '../src/logger.js';
import { readNpy } from '../src/util/npy.js';
import { rng } from '../src/util/random.js';

const { values } = parseArgs({
  options: {
    data: { type: 'string', default: 'training/data/emoji-v1' },
    classes: { type: 'string', default: 'training/data/shop-eval/catalog.json' },
    model: { type: 'string', default: 'models/lookbook-emoji' },
    out: { type: 'string', default: 'training/data/ctl' },
    train: { type: 'string', default: '4000' },
    val: { type: 'string', default: '500' },
    test: { type: 'string', default: '1000' },
  },
});

/** Each theme's words: an item is in the theme when its CLDR name or a keyword has one of them. */
export const THEMES: Record<string, readonly string[]> = {
  beach: ['beach', 'swim', 'swimsuit', 'bikini', 'bathing', 'sun', 'surf', 'surfing', 'tropical', 'vacation', 'sunglasses', 'shorts', 'ocean', 'island', 'coconut', 'palm', 'summer'],
  winter: ['winter', 'snow', 'cold', 'ski', 'skis', 'sled', 'scarf', 'coat', 'gloves', 'christmas', 'hot', 'ice', 'skate', 'mitten'],
  office: ['office', 'work', 'business', 'computer', 'paper', 'file', 'book', 'pen', 'pencil', 'calendar', 'clipboard', 'briefcase', 'phone', 'communication', 'education', 'school', 'library', 'reading', 'desk', 'laptop'],
  kitchen: ['cooking', 'kitchen', 'pot', 'knife', 'fork', 'spoon', 'bowl', 'chopsticks', 'restaurant', 'breakfast', 'bread', 'egg', 'cheese', 'salt', 'meat', 'rice', 'cook'],
  party: ['party', 'celebration', 'birthday', 'cake', 'balloon', 'confetti', 'wine', 'cocktail', 'champagne', 'beer', 'bar', 'club', 'dance', 'booze', 'alcohol', 'celebrate'],
  sport: ['sport', 'ball', 'football', 'soccer', 'basketball', 'tennis', 'golf', 'baseball', 'fitness', 'kick', 'running', 'bicycle', 'bike', 'boxing', 'gym', 'racket'],
  travel: ['travel', 'luggage', 'suitcase', 'passport', 'hotel', 'camera', 'map', 'train', 'bus', 'plane', 'railway', 'drive', 'vehicle', 'car', 'trip'],
  garden: ['garden', 'plant', 'flower', 'seedling', 'shovel', 'farm', 'watering', 'axe', 'herb', 'leaf', 'grow'],
  music: ['music', 'instrument', 'guitar', 'piano', 'drum', 'trumpet', 'violin', 'headphone', 'microphone', 'radio', 'entertainment', 'movie', 'video', 'song'],
  fashion: ['clothing', 'clothes', 'dress', 'shoe', 'shoes', 'shopping', 'fashion', 'bag', 'hat', 'ring', 'lipstick', 'fancy', 'suit', 'shirt', 'jewelry'],
};

const TRAIN_STYLES = ['google', 'openmoji-color', 'fluent-flat', 'fluent-color', 'fluent-3d'];
const SPLITS: Record<string, readonly string[]> = { train: TRAIN_STYLES, val: ['openmoji-black'], test: ['twitter'] };

interface Concept {
  key: string;
  label: string;
  tags: string[];
}

/** A style's images by concept key, as RGBA PNGs. */
async function styleImages(style: string, wanted: Set<string>): Promise<Map<string, Buffer>> {
  const keys = JSON.parse(readFileSync(join(values.data!, 'styles', `${style}.keys.json`), 'utf8')) as string[];
  const { shape, data } = readNpy(join(values.data!, 'styles', `${style}.npy`));
  const [, height, width] = shape as [number, number, number, number];
  const out = new Map<string, Buffer>();
  for (const [i, key] of keys.entries()) {
    if (!wanted.has(key)) continue;
    const pixels = data.subarray(i * height * width * 4, (i + 1) * height * width * 4);
    out.set(key, await sharp(pixels, { raw: { width, height, channels: 4 } }).png().toBuffer());
  }
  return out;
}

function writeF32(path: string, rows: Float32Array[]): void {
  const out = new Float32Array(rows.length * (rows[0]?.length ?? 0));
  rows.forEach((row, i) => out.set(row, i * row.length));
  writeFileSync(path, Buffer.from(out.buffer));
}

async function main() {
  const concepts = JSON.parse(readFileSync(join(values.data!, 'concepts.json'), 'utf8')) as Concept[];
  const classOf = new Map((JSON.parse(readFileSync(values.classes!, 'utf8')) as { items: { concept: string; category: string }[] }).items.map((item) => [item.concept, item.category]));
  const products = concepts.filter((concept) => classOf.has(concept.key));
  const wordsOf = (concept: Concept) => new Set([...concept.label.toLowerCase().split(/[^a-z’']+/), ...concept.tags.flatMap((tag) => tag.toLowerCase().split(/[^a-z’']+/))]);
  const themes = Object.fromEntries(Object.entries(THEMES).map(([theme, words]) => [theme, products.filter((concept) => words.some((word) => wordsOf(concept).has(word))).map((concept) => concept.key)]));
  const themesOf = new Map(products.map((concept) => [concept.key, Object.keys(themes).filter((theme) => themes[theme]!.includes(concept.key))]));
  // Themes whose items span at least three classes can make a scene.
  const usable = Object.keys(themes).filter((theme) => new Set(themes[theme]!.map((key) => classOf.get(key))).size >= 3);
  process.stderr.write(`${products.length} product concepts; themes: ${usable.map((theme) => `${theme} ${themes[theme]!.length}`).join(', ')}\n`);

  const encoder = await DualEncoder.load(await readModelSpec(values.model!), {
    providers: ['cpu'],
    intraOpThreads: 0,
    batching: { maxBatchSize: 32, maxWaitMs: 20, maxQueue: 100_000 },
    maxImagePixels: 50_000_000,
    logger: createLogger('warn'),
  });
  const embed = async (images: Buffer[]) => {
    const out: Float32Array[] = [];
    for (let start = 0; start < images.length; start += 256) out.push(...(await Promise.all(images.slice(start, start + 256).map(async (png) => (await encoder.embedImage(png)).vector))));
    return out;
  };
  mkdirSync(values.out!, { recursive: true });
  const wanted = new Set(products.map((concept) => concept.key));
  const images = new Map<string, Map<string, Buffer>>();
  for (const style of [...TRAIN_STYLES, 'openmoji-black', 'twitter']) images.set(style, await styleImages(style, wanted));
  const productKeys = products.map((concept) => concept.key);
  const productStyles: Record<string, string[]> = {};
  for (const [style, byKey] of images) {
    const keys = productKeys.filter((key) => byKey.has(key));
    productStyles[style] = keys;
    writeF32(join(values.out!, `products-${style}.f32`), await embed(keys.map((key) => byKey.get(key)!)));
    process.stderr.write(`products ${style}: ${keys.length}\n`);
  }

  const scenesMeta: Record<string, unknown[]> = {};
  for (const [split, styles] of Object.entries(SPLITS)) {
    const count = Number(values[split as 'train' | 'val' | 'test']);
    const random = rng({ train: 1, val: 2, test: 3 }[split as 'train']!);
    const pick = <T>(list: readonly T[]) => list[Math.floor(random() * list.length)]!;
    const sceneImages: Buffer[] = [];
    const regionImages: Buffer[] = [];
    const meta: unknown[] = [];
    while (meta.length < count) {
      const theme = pick(usable);
      const style = pick(styles);
      const byKey = images.get(style)!;
      // Items of distinct classes, in this style.
      const pool = themes[theme]!.filter((key) => byKey.has(key));
      const chosen: string[] = [];
      const classes = new Set<string>();
      for (const key of [...pool].sort(() => random() - 0.5)) {
        if (classes.has(classOf.get(key)!)) continue;
        chosen.push(key);
        classes.add(classOf.get(key)!);
        if (chosen.length === 3 + Math.floor(random() * 3)) break;
      }
      if (chosen.length < 3) continue;
      const held = chosen[0]!;
      const present = chosen.slice(1);
      // Draw the present items in the cells of a 2×2 grid, 64–112 px, on a light background.
      const cells = [0, 1, 2, 3].sort(() => random() - 0.5);
      const background = { r: 200 + Math.floor(random() * 56), g: 200 + Math.floor(random() * 56), b: 200 + Math.floor(random() * 56) };
      const layers: OverlayOptions[] = [];
      const boxes: [number, number, number, number][] = [];
      for (const [i, key] of present.entries()) {
        const size = 64 + Math.floor(random() * 49);
        const cell = cells[i % 4]!;
        const left = (cell % 2) * 128 + Math.floor(random() * (128 - size + 1));
        const top = Math.floor(cell / 2) * 128 + Math.floor(random() * (128 - size + 1));
        layers.push({ input: await sharp(byKey.get(key)!).resize(size, size).png().toBuffer(), left, top });
        boxes.push([left, top, left + size, top + size]);
      }
      const scene = await sharp({ create: { width: 256, height: 256, channels: 3, background } }).composite(layers).png().toBuffer();
      sceneImages.push(scene);
      for (const [x1, y1, x2, y2] of boxes) regionImages.push(await sharp(scene).extract({ left: x1, top: y1, width: x2 - x1, height: y2 - y1 }).png().toBuffer());
      meta.push({ theme, style, held, held_class: classOf.get(held), present: present.map((key, i) => ({ key, class: classOf.get(key), box: boxes[i] })) });
    }
    writeF32(join(values.out!, `${split}-scenes.f32`), await embed(sceneImages));
    writeF32(join(values.out!, `${split}-regions.f32`), await embed(regionImages));
    scenesMeta[split] = meta;
    process.stderr.write(`${split}: ${meta.length} scenes, ${regionImages.length} regions\n`);
  }
  writeFileSync(
    join(values.out!, 'meta.json'),
    JSON.stringify({
      model: { id: encoder.info.id, version: encoder.info.version, dimension: encoder.info.dimension },
      theme_words: THEMES,
      themes,
      products: products.map((concept) => ({ key: concept.key, label: concept.label, class: classOf.get(concept.key), themes: themesOf.get(concept.key) })),
      product_styles: productStyles,
      splits: SPLITS,
      scenes: scenesMeta,
    }),
  );
  await encoder.close();
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
