#!/usr/bin/env node
// Builds the emoji image/text dataset (emoji-v1) that Lookbook's default dual encoder trains on.
//
//   cd training/dataset && npm install --no-audit --no-fund
//   node build.mjs --out ../data/emoji-v1                 # all styles, all concepts
//   node build.mjs --out /tmp/e --limit-concepts 50 --styles google,openmoji-color
//   node build.mjs --pack --out ../data/emoji-v1          # ../data/emoji-v1.tar.xz from a built dir
//
// Output (see training/README.md, "Dataset"): manifest.json, concepts.json, LICENSES.md and
// per style styles/<style>.npy (uint8 [N, 64, 64, 4], RGBA) + styles/<style>.keys.json.
// The output is deterministic: same inputs and sharp/libvips version → same bytes.

import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));

export const DATASET_NAME = 'emoji-v1';
export const FORMAT_VERSION = 1;
export const SIZE = 64;
export const DEFAULT_LOCALES = ['de', 'es', 'fr', 'it', 'ja', 'ko', 'nl', 'pt', 'ru', 'zh'];
export const SKIN_TONES = new Set(['1f3fb', '1f3fc', '1f3fd', '1f3fe', '1f3ff']);

const TWEMOJI_ATTRIBUTION =
  'Twemoji graphics: Copyright 2019 Twitter, Inc and other contributors (now X Corp.; ' +
  'fork maintained at github.com/jdecked/twemoji), licensed under CC BY 4.0 ' +
  '(https://creativecommons.org/licenses/by/4.0/). Changes: the 64×64 PNGs were decoded to RGBA arrays ' +
  '(colour of fully transparent pixels set to 0); nothing visible was changed.';
const OPENMOJI_ATTRIBUTION =
  'All emojis designed by OpenMoji (https://openmoji.org/) – the open-source emoji and icon project. ' +
  'License: CC BY-SA 4.0 (https://creativecommons.org/licenses/by-sa/4.0/). ' +
  'Changes: SVGs rendered to 64×64 RGBA arrays. These derived images are shared under the same licence (CC BY-SA 4.0).';
const NOTO_ATTRIBUTION =
  'Noto Emoji: Copyright Google Inc., licensed under the Apache License, Version 2.0 ' +
  '(https://www.apache.org/licenses/LICENSE-2.0); images taken from emoji-datasource-google ' +
  '(packaging MIT, Copyright (c) 2013 Cal Henderson). Flag images in Noto Emoji come from ' +
  'region-flags (public domain).';
const FLUENT_ATTRIBUTION =
  'Fluent Emoji: Copyright (c) Microsoft Corporation, MIT License ' +
  '(https://github.com/microsoft/fluentui-emoji). SVGs repackaged by fluentui-emoji ' +
  '(MIT, Copyright (c) 2022 Mohammad Abu Mattar).';
const FLUENT3D_ATTRIBUTION =
  'Fluent Emoji 3D: Copyright (c) Microsoft Corporation, MIT License ' +
  '(https://github.com/microsoft/fluentui-emoji). WebP renditions repackaged by ' +
  '@lobehub/fluent-emoji-3d (MIT, Copyright (c) 2023 LobeHub).';

// name → where the images are. naming: 'hex' = file name is the code-point sequence,
// 'slug' = file name is the CLDR name in kebab case (fluentui-emoji).
export const STYLES = {
  google: { pkg: 'emoji-datasource-google', dir: 'img/google/64', ext: '.png', naming: 'hex',
    licence: 'Apache-2.0', attribution: NOTO_ATTRIBUTION, description: 'Google Noto Color Emoji, PNG 64×64' },
  twitter: { pkg: 'emoji-datasource-twitter', dir: 'img/twitter/64', ext: '.png', naming: 'hex',
    licence: 'CC-BY-4.0', attribution: TWEMOJI_ATTRIBUTION, description: 'Twemoji, PNG 64×64' },
  'openmoji-color': { pkg: 'openmoji', dir: 'color/svg', ext: '.svg', naming: 'hex',
    licence: 'CC-BY-SA-4.0', attribution: OPENMOJI_ATTRIBUTION, description: 'OpenMoji colour, SVG' },
  'openmoji-black': { pkg: 'openmoji', dir: 'black/svg', ext: '.svg', naming: 'hex',
    licence: 'CC-BY-SA-4.0', attribution: OPENMOJI_ATTRIBUTION, description: 'OpenMoji black line art, SVG' },
  'fluent-color': { pkg: 'fluentui-emoji', dir: 'icons/modern', ext: '.svg', naming: 'slug',
    licence: 'MIT', attribution: FLUENT_ATTRIBUTION, description: 'Microsoft Fluent Emoji "Color" (modern), SVG' },
  'fluent-flat': { pkg: 'fluentui-emoji', dir: 'icons/flat', ext: '.svg', naming: 'slug',
    licence: 'MIT', attribution: FLUENT_ATTRIBUTION, description: 'Microsoft Fluent Emoji Flat, SVG' },
  'fluent-hc': { pkg: 'fluentui-emoji', dir: 'icons/high-contrast', ext: '.svg', naming: 'slug',
    licence: 'MIT', attribution: FLUENT_ATTRIBUTION, description: 'Microsoft Fluent Emoji High Contrast, SVG' },
  'fluent-3d': { pkg: '@lobehub/fluent-emoji-3d', dir: 'assets', ext: '.webp', naming: 'hex',
    licence: 'MIT', attribution: FLUENT3D_ATTRIBUTION, description: 'Microsoft Fluent Emoji 3D, WebP 256×256' },
};
export const STYLE_NAMES = Object.keys(STYLES);
export const DEFAULT_TEST_STYLE = 'twitter';
export const DEFAULT_VAL_STYLE = 'openmoji-black';

// fluentui-emoji file names that are older or different CLDR names → today's emojibase label.
const FLUENT_ALIASES = {
  'blackbird': 'black bird',
  'hugging-face': 'smiling face with open hands',
  'keycap-asterisk': 'keycap: *',
  'keycap-hashtag': 'keycap: #',
  'knocked-out-face': 'face with crossed-out eyes',
  'man-blonde-hair': 'man: blond hair',
  'person-blonde-hair': 'person: blond hair',
  'woman-blonde-hair': 'woman: blond hair',
  'man-deaf': 'deaf man',
  'person-deaf': 'deaf person',
  'woman-deaf': 'deaf woman',
  'man-merpeople': 'merman',
  'person-merpeople': 'merperson',
  'woman-merpeople': 'mermaid',
  'person-elf': 'elf',
  'person-fairy': 'fairy',
  'person-genie': 'genie',
  'person-mage': 'mage',
  'person-superhero': 'superhero',
  'person-supervillain': 'supervillain',
  'person-vampire': 'vampire',
  'person-zombie': 'zombie',
  'man-with-bunny-ears': 'men with bunny ears',
  'person-with-bunny-ears': 'people with bunny ears',
  'woman-with-bunny-ears': 'women with bunny ears',
  'man-wrestling': 'men wrestling',
  'person-wrestling': 'people wrestling',
  'woman-wrestling': 'women wrestling',
  'phoenix-bird': 'phoenix',
  'pouting-face': 'enraged face',
  'red-triangle': 'red triangle pointed up',
  'stuffedbread': 'stuffed flatbread',
  'stuffedbread-flat': 'stuffed flatbread',
};
const FLUENT_SKIN_SUFFIX = /-(light|medium-light|medium|medium-dark|dark)$/;

// ---------------------------------------------------------------------------------------------
// helpers

/** Concept key: lowercase hex code points joined by '-', every fe0f removed. */
export function conceptKey(hexcode) {
  const parts = hexcode.toLowerCase().split(/[-_ ]/).filter((p) => p && p !== 'fe0f')
    .map((p) => p.replace(/^0+(?=.)/, '').padStart(4, '0')); // '23' → '0023' (@lobehub names)
  // @lobehub/fluent-emoji-3d drops the CANCEL TAG that ends a subdivision flag (England…).
  if (parts[0] === '1f3f4' && parts.length > 1 && /^e00[2-7][0-9a-e]$/.test(parts[parts.length - 1])) parts.push('e007f');
  return parts.join('-');
}

export function hasSkinTone(key) {
  return key.split('-').some((p) => SKIN_TONES.has(p));
}

/** kebab-case slug of a CLDR name, as fluentui-emoji names its files. */
export function slugify(s) {
  return s.normalize('NFKD').replace(/\p{M}/gu, '').toLowerCase()
    .replace(/[’']/g, '').replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '');
}

/** NumPy .npy v1.0 header for a C-order uint8 array of `shape`. */
export function npyHeader(shape) {
  const dims = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  const dict = `{'descr': '|u1', 'fortran_order': False, 'shape': ${dims}, }`;
  const pre = 10; // magic (6) + version (2) + header length (2)
  const total = Math.ceil((pre + dict.length + 1) / 64) * 64;
  const text = dict + ' '.repeat(total - pre - dict.length - 1) + '\n';
  if (text.length > 0xffff) throw new Error('npy header too long');
  const head = Buffer.alloc(pre);
  head.write('\x93NUMPY', 0, 'latin1');
  head[6] = 1;
  head[7] = 0;
  head.writeUInt16LE(text.length, 8);
  return Buffer.concat([head, Buffer.from(text, 'latin1')]);
}

export function writeNpy(file, shape, data) {
  const n = shape.reduce((a, b) => a * b, 1);
  if (data.length !== n) throw new Error(`npy data has ${data.length} bytes, shape needs ${n}`);
  fs.writeFileSync(file, Buffer.concat([npyHeader(shape), data]));
}

function readJson(file) {
  return JSON.parse(fs.readFileSync(file, 'utf8'));
}

function pkgDir(modules, pkg) {
  return path.join(modules, ...pkg.split('/'));
}

function pkgVersion(modules, pkg) {
  return readJson(path.join(pkgDir(modules, pkg), 'package.json')).version;
}

/** JSON array with one element per line: readable, diffable, stable. */
function jsonLines(arr) {
  if (arr.length === 0) return '[]\n';
  return '[\n' + arr.map((x) => JSON.stringify(x)).join(',\n') + '\n]\n';
}

// ---------------------------------------------------------------------------------------------
// text: emojibase-data

export function loadConcepts(modules, locales) {
  const base = pkgDir(modules, 'emojibase-data');
  const en = readJson(path.join(base, 'en', 'data.json'));
  const groups = readJson(path.join(base, 'meta', 'groups.json'));
  const byLocale = {};
  for (const loc of locales) {
    const file = path.join(base, loc, 'data.json');
    if (!fs.existsSync(file)) continue;
    const m = new Map();
    for (const e of readJson(file)) m.set(conceptKey(e.hexcode), e);
    byLocale[loc] = m;
  }
  const concepts = new Map();
  for (const e of en) {
    const key = conceptKey(e.hexcode);
    if (hasSkinTone(key)) continue; // the five skin-tone swatches
    const i18n = {};
    for (const [loc, m] of Object.entries(byLocale)) {
      const t = m.get(key);
      if (t) i18n[loc] = { label: t.label, tags: t.tags || [] };
    }
    concepts.set(key, {
      key,
      emoji: e.emoji,
      hexcode: e.hexcode,
      label: e.label,
      tags: e.tags || [],
      group: e.group === undefined ? null : groups.groups[String(e.group)],
      subgroup: e.subgroup === undefined ? null : groups.subgroups[String(e.subgroup)],
      order: e.order === undefined ? null : e.order,
      i18n,
    });
  }
  return { concepts, locales: Object.keys(byLocale) };
}

// ---------------------------------------------------------------------------------------------
// images: which file draws which concept

/** Map concept key → source file for one style, plus what was skipped and why. */
export function scanStyle(modules, name, concepts) {
  const st = STYLES[name];
  const dir = path.join(pkgDir(modules, st.pkg), st.dir);
  const files = fs.readdirSync(dir).filter((f) => f.endsWith(st.ext)).sort();
  const skipped = { skin_tone: 0, no_concept: 0, duplicate: 0, blank: 0 };
  const unmatched = [];
  const found = new Map(); // key → {file, exact}
  let bySlug = null;
  if (st.naming === 'slug') {
    bySlug = new Map();
    const byLabel = new Map();
    for (const c of concepts.values()) byLabel.set(c.label, c.key);
    for (const c of concepts.values()) {
      const s = slugify(c.label);
      if (!bySlug.has(s)) bySlug.set(s, c.key);
    }
    for (const [alias, label] of Object.entries(FLUENT_ALIASES)) {
      if (!byLabel.has(label)) throw new Error(`fluent alias ${alias}: no concept labelled "${label}"`);
      bySlug.set(alias, byLabel.get(label));
    }
  }
  for (const f of files) {
    const stem = f.slice(0, -st.ext.length);
    let key = null;
    let exact = false;
    if (st.naming === 'hex') {
      key = conceptKey(stem);
      if (hasSkinTone(key)) { skipped.skin_tone++; continue; }
      if (!concepts.has(key)) { skipped.no_concept++; unmatched.push(stem); continue; }
      exact = concepts.get(key).hexcode.toLowerCase() === stem.toLowerCase();
    } else {
      if (bySlug.has(stem)) { key = bySlug.get(stem); exact = true; }
      else if (stem.endsWith('-default') && bySlug.has(stem.slice(0, -8))) key = bySlug.get(stem.slice(0, -8));
      else if (FLUENT_SKIN_SUFFIX.test(stem)) { skipped.skin_tone++; continue; }
      else { skipped.no_concept++; unmatched.push(stem); continue; }
    }
    const prev = found.get(key);
    if (prev) {
      skipped.duplicate++;
      if (prev.exact || !exact) continue;
    }
    found.set(key, { file: path.join(dir, f), exact });
  }
  return { files: new Map([...found].map(([k, v]) => [k, v.file])), skipped, unmatched };
}

// ---------------------------------------------------------------------------------------------
// rasterizing

let sharpModule = null;
async function getSharp() {
  if (!sharpModule) {
    sharpModule = (await import('sharp')).default;
    sharpModule.concurrency(1);
    sharpModule.cache(false);
  }
  return sharpModule;
}

const TRANSPARENT = { r: 0, g: 0, b: 0, alpha: 0 };
const SVG_RENDER = 256; // SVGs are rendered at ~256 px, then reduced to 64 px

/** One image file → SIZE×SIZE×4 RGBA bytes (straight alpha; RGB zeroed where alpha is 0). */
export async function rasterize(file) {
  const sharp = await getSharp();
  const ext = path.extname(file).toLowerCase();
  let img;
  if (ext === '.svg') {
    const meta = await sharp(file).metadata(); // size at the default 72 dpi
    const density = (72 * SVG_RENDER) / Math.max(meta.width, meta.height);
    img = sharp(file, { density });
  } else {
    img = sharp(file);
  }
  const meta = ext === '.svg' ? null : await sharp(file).metadata();
  img = img.toColourspace('srgb').ensureAlpha();
  if (!meta || meta.width !== SIZE || meta.height !== SIZE) {
    img = img.resize(SIZE, SIZE, { fit: 'contain', background: TRANSPARENT, kernel: 'lanczos3' });
  }
  const { data, info } = await img.raw().toBuffer({ resolveWithObject: true });
  if (info.width !== SIZE || info.height !== SIZE || info.channels !== 4) {
    throw new Error(`${file}: got ${info.width}x${info.height}x${info.channels}`);
  }
  for (let i = 0; i < data.length; i += 4) {
    if (data[i + 3] === 0) { data[i] = 0; data[i + 1] = 0; data[i + 2] = 0; }
  }
  return data;
}

/** True when every pixel is fully transparent. */
export function isBlank(px) {
  for (let i = 3; i < px.length; i += 4) if (px[i] !== 0) return false;
  return true;
}

// ---------------------------------------------------------------------------------------------
// licences

function licensesMarkdown(styleInfo, textInfo) {
  const lines = [
    `# ${DATASET_NAME}: sources, licences and attributions`,
    '',
    'Every image in this dataset is a 64×64 rasterization of an emoji from one of the packages',
    'below. Anything trained on or derived from these images must carry the attributions below;',
    'the OpenMoji images are CC BY-SA 4.0, so derived *images* must be shared under the same',
    'licence. Whether trained model weights are adapted material under CC BY-SA is not settled;',
    'ship these attributions with any model trained on this dataset and keep the share-alike',
    'in mind for anything that reproduces the images. Apple and Facebook emoji sets are NOT used',
    '(not licensed for this use).',
    '',
    '| style | source (npm) | licence | role |',
    '| --- | --- | --- | --- |',
  ];
  for (const [name, s] of Object.entries(styleInfo)) {
    lines.push(`| ${name} | \`${s.source}\` | ${s.licence} | ${s.role} |`);
  }
  lines.push(`| (text) | \`${textInfo.source}\` | ${textInfo.licence} | captions |`);
  lines.push('', '## Attributions', '');
  const seen = new Set();
  for (const [name, s] of Object.entries(styleInfo)) {
    if (seen.has(s.attribution)) continue;
    seen.add(s.attribution);
    const users = Object.entries(styleInfo).filter(([, t]) => t.attribution === s.attribution).map(([n]) => n);
    lines.push(`### ${users.join(', ')} (${s.source}, ${s.licence})`, '', s.attribution, '');
  }
  lines.push(`### text (${textInfo.source}, ${textInfo.licence})`, '', textInfo.attribution, '');
  lines.push(
    '## Licence texts',
    '',
    '- Apache License 2.0: https://www.apache.org/licenses/LICENSE-2.0',
    '- CC BY 4.0: https://creativecommons.org/licenses/by/4.0/legalcode',
    '- CC BY-SA 4.0: https://creativecommons.org/licenses/by-sa/4.0/legalcode (full text also in the openmoji package, LICENSE.txt)',
    '- MIT: see each package\'s LICENSE / package.json',
    '- Unicode License v3 (CLDR): https://www.unicode.org/license.txt',
    '',
  );
  return lines.join('\n');
}

// ---------------------------------------------------------------------------------------------
// build

export async function build(opts) {
  const {
    out, modules = path.join(HERE, 'node_modules'), styles = STYLE_NAMES, limitConcepts = null,
    locales = DEFAULT_LOCALES, valStyle = DEFAULT_VAL_STYLE, testStyle = DEFAULT_TEST_STYLE,
    log = console.log,
  } = opts;
  for (const s of styles) if (!STYLES[s]) throw new Error(`unknown style ${s} (known: ${STYLE_NAMES.join(', ')})`);
  const t0 = Date.now();
  const { concepts, locales: usedLocales } = loadConcepts(modules, locales);

  // Which concept each style draws (all styles, so --limit-concepts is the same whatever --styles says).
  const scans = {};
  for (const s of STYLE_NAMES) scans[s] = scanStyle(modules, s, concepts);
  const available = new Map(); // key → number of styles with an image
  for (const s of STYLE_NAMES) for (const k of scans[s].files.keys()) available.set(k, (available.get(k) || 0) + 1);

  let selected;
  if (limitConcepts != null) {
    selected = [...available].filter(([, n]) => n >= 3).map(([k]) => k).sort().slice(0, limitConcepts);
  } else {
    selected = [...new Set(styles.flatMap((s) => [...scans[s].files.keys()]))].sort();
  }
  const selectedSet = new Set(selected);
  log(`${concepts.size} concepts in emojibase-data (skin tones excluded); ${selected.length} selected; locales: en ${usedLocales.join(' ')}`);

  fs.mkdirSync(path.join(out, 'styles'), { recursive: true });
  for (const f of fs.readdirSync(path.join(out, 'styles'))) { // no stale styles from an earlier build
    if (f.endsWith('.npy') || f.endsWith('.keys.json')) fs.rmSync(path.join(out, 'styles', f));
  }
  const styleInfo = {};
  const conceptStyles = new Map(selected.map((k) => [k, []]));
  let totalImages = 0;
  for (const s of styles) {
    const ts = Date.now();
    const st = STYLES[s];
    const candidates = [...scans[s].files.keys()].filter((k) => selectedSet.has(k)).sort();
    const keys = [];
    const rows = [];
    const blank = [];
    for (const k of candidates) {
      const px = await rasterize(scans[s].files.get(k));
      if (isBlank(px)) { blank.push(k); continue; } // e.g. openmoji black/1F195.svg is an empty <svg>
      keys.push(k);
      rows.push(px);
      conceptStyles.get(k).push(s);
    }
    scans[s].skipped.blank = blank.length;
    const buf = Buffer.concat(rows, keys.length * SIZE * SIZE * 4);
    writeNpy(path.join(out, 'styles', `${s}.npy`), [keys.length, SIZE, SIZE, 4], buf);
    fs.writeFileSync(path.join(out, 'styles', `${s}.keys.json`), jsonLines(keys));
    totalImages += keys.length;
    const version = pkgVersion(modules, st.pkg);
    styleInfo[s] = {
      count: keys.length,
      source: `${st.pkg}@${version}`,
      source_path: st.dir,
      source_format: st.ext.slice(1),
      description: st.description,
      licence: st.licence,
      attribution: st.attribution,
      role: s === testStyle ? 'test' : s === valStyle ? 'val' : 'train',
      skipped: scans[s].skipped,
      blank_images: blank,
      unmatched_files: scans[s].unmatched.length <= 50 ? scans[s].unmatched : scans[s].unmatched.length,
    };
    log(`  ${s.padEnd(15)} ${String(keys.length).padStart(5)} images  ${((Date.now() - ts) / 1000).toFixed(1)} s` +
      `  (skipped: ${scans[s].skipped.skin_tone} skin-tone, ${scans[s].skipped.no_concept} without a concept, ${scans[s].skipped.duplicate} duplicate, ${blank.length} blank)`);
  }

  const conceptList = selected.filter((k) => conceptStyles.get(k).length > 0).map((k) => {
    const c = concepts.get(k);
    return {
      key: c.key, emoji: c.emoji, hexcode: c.hexcode, label: c.label, tags: c.tags,
      group: c.group, subgroup: c.subgroup, order: c.order, styles: conceptStyles.get(k), i18n: c.i18n,
    };
  });
  fs.writeFileSync(path.join(out, 'concepts.json'), jsonLines(conceptList));

  const byMin = {};
  for (let k = 1; k <= styles.length; k++) byMin[k] = conceptList.filter((c) => c.styles.length >= k).length;
  const sharp = await getSharp();
  const textInfo = {
    source: `emojibase-data@${pkgVersion(modules, 'emojibase-data')}`,
    licence: 'MIT (data from Unicode CLDR, Unicode License v3)',
    attribution: 'Emoji labels, keywords and groups from emojibase-data (MIT, Copyright (c) 2017-2019 Miles Johnson), ' +
      'derived from Unicode CLDR annotations (Copyright © 1991-2025 Unicode, Inc., Unicode License v3).',
  };
  const manifest = {
    name: DATASET_NAME,
    format_version: FORMAT_VERSION,
    image: { width: SIZE, height: SIZE, channels: 4, dtype: 'uint8', layout: 'NHWC', colour: 'sRGB RGBA, straight (non-premultiplied) alpha, RGB set to 0 where alpha is 0' },
    concept_key: 'lowercase hex code points joined by "-", every fe0f removed; skin-tone variants (1f3fb-1f3ff) excluded',
    rasterizing: {
      png: 'decoded as is when 64×64, else resized (fit contain, transparent, lanczos3)',
      svg: `rendered with librsvg at ~${SVG_RENDER} px (density scaled to the SVG size), then resized to 64×64 (fit contain, transparent, lanczos3)`,
      webp: 'resized 256 → 64 (fit contain, transparent, lanczos3)',
      tool: `sharp ${sharp.versions.sharp}, libvips ${sharp.versions.vips}, librsvg ${sharp.versions.rsvg}, libwebp ${sharp.versions.webp}; sharp.concurrency(1)`,
    },
    text: textInfo,
    locales: ['en', ...usedLocales],
    roles: { test: testStyle, val: valStyle, train: styles.filter((s) => s !== testStyle && s !== valStyle) },
    roles_note: 'test = held out entirely; val = validation style; the trainer may override both.',
    limit_concepts: limitConcepts,
    styles: styleInfo,
    totals: { images: totalImages, concepts: conceptList.length, concepts_in_at_least_k_styles: byMin },
    files: {
      'concepts.json': 'array sorted by key of {key, emoji, hexcode, label, tags, group, subgroup, order, styles, i18n: {locale: {label, tags}}}',
      'styles/<style>.npy': 'uint8 [N, 64, 64, 4]',
      'styles/<style>.keys.json': 'row i → concept key (sorted)',
      'LICENSES.md': 'sources, licences and required attributions',
    },
  };
  fs.writeFileSync(path.join(out, 'manifest.json'), JSON.stringify(manifest, null, 2) + '\n');
  fs.writeFileSync(path.join(out, 'LICENSES.md'), licensesMarkdown(styleInfo, textInfo));
  log(`wrote ${out}: ${totalImages} images, ${conceptList.length} concepts (${byMin[3] ?? 0} in ≥3 styles), ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  return manifest;
}

/** out → out.tar.xz, deterministic (sorted names, mtime 0, uid/gid 0, single-threaded xz). */
export function pack(out, log = console.log) {
  if (!fs.existsSync(path.join(out, 'manifest.json'))) throw new Error(`${out} has no manifest.json: build it first`);
  const t0 = Date.now();
  const dest = `${out.replace(/\/+$/, '')}.tar.xz`;
  const r = spawnSync('tar', ['--sort=name', '--mtime=@0', '--owner=0', '--group=0', '--numeric-owner',
    '-C', path.dirname(path.resolve(out)), '-cJf', dest, path.basename(path.resolve(out))],
  { stdio: 'inherit', env: { ...process.env, XZ_OPT: '-6 -T1' } });
  if (r.status !== 0) throw new Error(`tar failed (${r.status})`);
  const size = fs.statSync(dest).size;
  log(`wrote ${dest}: ${(size / 1048576).toFixed(1)} MiB in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  return { dest, size };
}

// ---------------------------------------------------------------------------------------------
// CLI

function parseArgs(argv) {
  const o = { out: path.join(HERE, '..', 'data', DATASET_NAME), styles: STYLE_NAMES, limitConcepts: null,
    locales: DEFAULT_LOCALES, pack: false, modules: undefined, valStyle: DEFAULT_VAL_STYLE, testStyle: DEFAULT_TEST_STYLE };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const val = () => { if (i + 1 >= argv.length) throw new Error(`${a} needs a value`); return argv[++i]; };
    if (a === '--out') o.out = path.resolve(val());
    else if (a === '--styles') o.styles = val().split(',').map((s) => s.trim()).filter(Boolean);
    else if (a === '--limit-concepts') o.limitConcepts = parseInt(val(), 10);
    else if (a === '--locales') { const v = val(); o.locales = v === 'all' ? null : v.split(',').filter((l) => l && l !== 'en'); }
    else if (a === '--val-style') o.valStyle = val();
    else if (a === '--test-style') o.testStyle = val();
    else if (a === '--node-modules') o.modules = path.resolve(val());
    else if (a === '--pack') o.pack = true;
    else if (a === '-h' || a === '--help') {
      console.log('node build.mjs [--out DIR] [--styles a,b] [--limit-concepts N] [--locales de,fr|all]\n' +
        '               [--val-style S] [--test-style S] [--node-modules DIR]\n' +
        'node build.mjs --pack [--out DIR]      # DIR.tar.xz from an already built DIR');
      process.exit(0);
    } else throw new Error(`unknown argument ${a}`);
  }
  return o;
}

async function main() {
  const o = parseArgs(process.argv.slice(2));
  if (o.pack) { pack(o.out); return; }
  const modules = o.modules || path.join(HERE, 'node_modules');
  let locales = o.locales;
  if (locales === null) {
    const base = pkgDir(modules, 'emojibase-data');
    locales = fs.readdirSync(base).filter((d) => d !== 'en' && fs.existsSync(path.join(base, d, 'data.json'))).sort();
  }
  await build({ ...o, modules, locales });
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((e) => { console.error(e.stack || String(e)); process.exit(1); });
}
