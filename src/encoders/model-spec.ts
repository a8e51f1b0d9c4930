/** How an image becomes the tower's input tensor; read from the model's own files. */
export interface PreprocessSpec {
  /** `shortest_edge`: scale so the short side is `shortestEdge` (CLIP); `squash`: resize to exactly `height`×`width` (SigLIP). */
  readonly resize:
    | { readonly mode: 'shortest_edge'; readonly shortestEdge: number }
    | { readonly mode: 'squash'; readonly height: number; readonly width: number }
    | { readonly mode: 'none' };
  /** Center crop after resizing, or null for none. */
  readonly crop: { readonly height: number; readonly width: number } | null;
  /**
   * How the crop offset is rounded when the margin is odd: `floor` as Hugging Face's
   * `center_crop` (`(h - ch) // 2`), `round` as torchvision's `CenterCrop` (OpenCLIP),
   * which uses Python's `round()`, i.e. half to even.
   */
  readonly cropRounding: 'floor' | 'round';
  readonly resample: 'bicubic' | 'bilinear' | 'nearest';
  /** Multiplier from byte values to [0, 1] (usually 1/255). */
  readonly rescale: number;
  readonly mean: readonly [number, number, number];
  readonly std: readonly [number, number, number];
  /** RGB colour that transparent pixels are flattened onto. */
  readonly background: readonly [number, number, number];
}

export interface TextSpec {
  readonly tokenizerPath: string;
  readonly tokenizerConfigPath: string | undefined;
  readonly contextLength: number;
  /** Explicit pad id; when undefined, taken from the tokenizer's config. */
  readonly padTokenId: number | undefined;
}

export type ModelLayout = 'lookbook' | 'hf-clip' | 'openclip';

/** Everything needed to load a dual encoder, whatever layout its directory uses. */
export interface ModelSpec {
  readonly dir: string;
  readonly layout: ModelLayout;
  readonly id: string;
  readonly version: string;
  /** Declared embedding dimension, when the files state it (checked against the graphs). */
  readonly dimension: number | undefined;
  readonly description: string | undefined;
  readonly imageModelPath: string;
  readonly textModelPath: string;
  readonly preprocess: PreprocessSpec;
  readonly text: TextSpec;
}

/** Output size of an image after {@link PreprocessSpec}, given its (oriented) input size. */
export function plannedSize(spec: PreprocessSpec, width: number, height: number) {
  let resized: { width: number; height: number };
  switch (spec.resize.mode) {
    case 'shortest_edge': {
      // As Hugging Face's get_resize_output_image_size(default_to_square=False): the short side
      // becomes `shortestEdge`, the long side is scaled and truncated to an integer.
      const target = spec.resize.shortestEdge;
      const short = Math.min(width, height);
      const long = Math.max(width, height);
      const scaledLong = Math.max(1, Math.floor((target * long) / short));
      resized = width <= height ? { width: target, height: scaledLong } : { width: scaledLong, height: target };
      break;
    }
    case 'squash':
      resized = { width: spec.resize.width, height: spec.resize.height };
      break;
    case 'none':
      resized = { width, height };
      break;
  }
  const crop = spec.crop ?? resized;
  const offset = (outer: number, inner: number) => {
    const half = (outer - inner) / 2;
    return spec.cropRounding === 'floor' ? Math.floor(half) : roundHalfEven(half);
  };
  return {
    resized,
    crop: {
      width: crop.width,
      height: crop.height,
      left: offset(resized.width, crop.width),
      top: offset(resized.height, crop.height),
    },
  };
}

/** Python's `round()`: halves go to the even neighbour. */
export function roundHalfEven(value: number): number {
  const floor = Math.floor(value);
  const diff = value - floor;
  if (diff > 0.5) return floor + 1;
  if (diff < 0.5) return floor;
  return floor % 2 === 0 ? floor : floor + 1;
}
