import { readFile } from 'node:fs/promises';
import { Tokenizer } from '@huggingface/tokenizers';
import type { TextSpec } from './model-spec.js';

export interface TokenizedText {
  /** Token ids, truncated and right-padded to the context length. */
  readonly ids: readonly number[];
  /** 1 for real tokens, 0 for padding. */
  readonly attentionMask: readonly number[];
  /** Real (non-pad) tokens fed to the model. */
  readonly tokenCount: number;
  /** Whether the text was longer than the context and cut. */
  readonly truncated: boolean;
}

/**
 * A Hugging Face `tokenizer.json` (loaded with `@huggingface/tokenizers`, fully offline) plus the
 * model's truncation and padding rule: keep the special tokens the tokenizer adds around the text,
 * cut the text's own tokens to fit the context, right-pad with the pad id.
 */
export class TextTokenizer {
  private constructor(
    private readonly tokenizer: Tokenizer,
    readonly contextLength: number,
    readonly padTokenId: number,
    private readonly prefixLength: number,
    private readonly suffixLength: number,
  ) {}

  static async load(spec: TextSpec): Promise<TextTokenizer> {
    const json = JSON.parse(await readFile(spec.tokenizerPath, 'utf8')) as Record<string, unknown>;
    const config = spec.tokenizerConfigPath
      ? (JSON.parse(await readFile(spec.tokenizerConfigPath, 'utf8')) as Record<string, unknown>)
      : {};
    const tokenizer = new Tokenizer(json, config);
    const padTokenId = spec.padTokenId ?? resolvePadId(tokenizer, json, config);
    // Find how many special tokens the post-processor puts before and after a text, so that
    // truncation cuts the text and keeps, e.g., CLIP's <|endoftext|> or BERT's [SEP].
    const bare = tokenizer.encode('a', { add_special_tokens: false }).ids;
    const full = tokenizer.encode('a', { add_special_tokens: true }).ids;
    const at = indexOfSequence(full, bare);
    const prefixLength = at < 0 ? 0 : at;
    const suffixLength = at < 0 ? 0 : full.length - at - bare.length;
    if (prefixLength + suffixLength >= spec.contextLength) {
      throw new Error(`context length ${spec.contextLength} leaves no room for text after the special tokens`);
    }
    return new TextTokenizer(tokenizer, spec.contextLength, padTokenId, prefixLength, suffixLength);
  }

  encode(text: string): TokenizedText {
    let ids = this.tokensOf(text);
    const truncated = ids.length > this.contextLength;
    if (truncated) {
      const keep = this.contextLength - this.prefixLength - this.suffixLength;
      ids = [
        ...ids.slice(0, this.prefixLength + keep),
        ...(this.suffixLength > 0 ? ids.slice(ids.length - this.suffixLength) : []),
      ];
    }
    const tokenCount = ids.length;
    const padded = ids.concat(new Array<number>(this.contextLength - tokenCount).fill(this.padTokenId));
    const attentionMask = new Array<number>(this.contextLength).fill(0).fill(1, 0, tokenCount);
    return { ids: padded, attentionMask, tokenCount, truncated };
  }

  /**
   * The text's tokens, or those of a prefix long enough to fill the context twice over: a text of
   * megabytes (a manifest line, a JSON body) is not tokenized whole for the few tokens kept, which
   * took seconds of blocked event loop and gigabytes (20 MB: 10 s, 1 GB). Tokenizers split words
   * before encoding them, so the cut changes only the tokens of the word it falls in, past those kept.
   */
  private tokensOf(text: string): number[] {
    for (let length = this.contextLength * 16; ; length *= 4) {
      const ids = this.tokenizer.encode(text.length > length ? text.slice(0, length) : text, { add_special_tokens: true }).ids;
      if (length >= text.length || ids.length >= 2 * this.contextLength) return ids;
    }
  }
}

function resolvePadId(tokenizer: Tokenizer, json: Record<string, unknown>, config: Record<string, unknown>): number {
  const padding = json.padding as { pad_id?: unknown } | null | undefined;
  if (padding && typeof padding.pad_id === 'number') return padding.pad_id;
  const padToken = config.pad_token;
  const name =
    typeof padToken === 'string'
      ? padToken
      : padToken && typeof padToken === 'object' && typeof (padToken as { content?: unknown }).content === 'string'
        ? (padToken as { content: string }).content
        : undefined;
  const id = name === undefined ? undefined : tokenizer.token_to_id(name);
  return id ?? 0;
}

function indexOfSequence(haystack: readonly number[], needle: readonly number[]): number {
  outer: for (let i = 0; i + needle.length <= haystack.length; i++) {
    for (let j = 0; j < needle.length; j++) if (haystack[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}
