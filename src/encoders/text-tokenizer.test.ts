import { readFile } from 'node:fs/promises';
import { Tokenizer } from '@huggingface/tokenizers';
import { describe, expect, it } from 'vitest';
import { readModelSpec } from './model-layouts.js';
import { TextTokenizer } from './text-tokenizer.js';

/** The whole text tokenized, then cut to the context keeping the special tokens after the text: the reference. */
async function reference(dir: string, text: string): Promise<{ ids: number[]; truncated: boolean }> {
  const spec = (await readModelSpec(dir)).text;
  const tokenizer = new Tokenizer(JSON.parse(await readFile(spec.tokenizerPath, 'utf8')), {});
  const ids = tokenizer.encode(text, { add_special_tokens: true }).ids;
  if (ids.length <= spec.contextLength) return { ids, truncated: false };
  const bare = tokenizer.encode('a', { add_special_tokens: false }).ids;
  const full = tokenizer.encode('a', { add_special_tokens: true }).ids;
  const suffix = full.length - full.indexOf(bare[0]!) - bare.length;
  return { ids: [...ids.slice(0, spec.contextLength - suffix), ...ids.slice(ids.length - suffix)], truncated: true };
}

describe('TextTokenizer', () => {
  const dir = 'models/lookbook-emoji';

  it('cuts a long text exactly as tokenizing all of it would', async () => {
    const tokenizer = await TextTokenizer.load((await readModelSpec(dir)).text);
    const texts = [
      'a red leather handbag',
      'a red leather handbag with a golden clasp, '.repeat(400),
      'Ünïcödé wörds, punctuation!!! and émoji 👠👜 '.repeat(300),
      'x'.repeat(5_000),
      `${' '.repeat(3_000)}shoes after a long run of spaces ${'boots '.repeat(50)}`,
    ];
    for (const text of texts) {
      const encoded = tokenizer.encode(text);
      const expected = await reference(dir, text);
      expect({ ids: encoded.ids.slice(0, encoded.tokenCount), truncated: encoded.truncated }).toEqual(expected);
    }
  });

  it('reads no more of a text of megabytes than its context needs', async () => {
    const tokenizer = await TextTokenizer.load((await readModelSpec(dir)).text);
    // What the library's tokenizer is given to read.
    const inner = (tokenizer as unknown as { tokenizer: { encode: (text: string, options: object) => { ids: number[] } } }).tokenizer;
    const encode = inner.encode.bind(inner);
    const read: number[] = [];
    inner.encode = (text, options) => {
      read.push(text.length);
      return encode(text, options);
    };
    const text = 'word '.repeat(4_000_000); // 20 MB: about 10 s and 1 GB when tokenized whole
    const encoded = tokenizer.encode(text);
    expect(encoded.truncated).toBe(true);
    expect(encoded.tokenCount).toBe(tokenizer.contextLength);
    // One prefix of 16 characters a context token: a token a word of five, so the context twice over, read once.
    expect(read).toEqual([tokenizer.contextLength * 16]);
    // A text of spaces (no tokens) is read in prefixes four times longer each, up to the whole of it.
    read.length = 0;
    const spaces = ' '.repeat(100_000);
    expect(tokenizer.encode(spaces).truncated).toBe(false);
    expect(read.at(-1)).toBe(spaces.length);
    expect(read.slice(0, 2)).toEqual([tokenizer.contextLength * 16, tokenizer.contextLength * 64]);
  });
});
