"""A CLIP-style byte-level BPE `tokenizer.json`, small enough for a test fixture.

It has the components of openai/clip-vit-base-patch32's `tokenizer.json` (NFC, whitespace
collapse and lower-casing; CLIP's Split regex then ByteLevel without regex; BPE with the
`</w>` end-of-word suffix; `<|startoftext|>` / `<|endoftext|>` specials with the largest
ids) but only a few dozen merges, and a TemplateProcessing post-processor adding bos/eos.
Encoding is done by `tokenizer.Tokenizer`.
"""

from __future__ import annotations

from collections import Counter
from typing import Any, Iterable

from .tokenizer import (
    CLIP_SPLIT_PATTERN,
    _added_token,
    _build_normalizer,
    _clip_split,
    template_processing,
)

BOS = "<|startoftext|>"
EOS = "<|endoftext|>"
END_OF_WORD = "</w>"


def _bytes_to_unicode() -> dict[int, str]:
    """GPT-2/CLIP's reversible map from bytes to printable characters, in CLIP's order."""
    bs = (
        list(range(ord("!"), ord("~") + 1))
        + list(range(ord("¡"), ord("¬") + 1))
        + list(range(ord("®"), ord("ÿ") + 1))
    )
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, map(chr, cs)))


BYTE_ENCODER = _bytes_to_unicode()
BYTE_DECODER = {c: b for b, c in BYTE_ENCODER.items()}

CLIP_NORMALIZER = {
    "type": "Sequence",
    "normalizers": [
        {"type": "NFC"},
        {"type": "Replace", "pattern": {"Regex": r"\s+"}, "content": " "},
        {"type": "Lowercase"},
    ],
}
CLIP_PRE_TOKENIZER = {
    "type": "Sequence",
    "pretokenizers": [
        {
            "type": "Split",
            "pattern": {"Regex": CLIP_SPLIT_PATTERN},
            "behavior": "Removed",
            "invert": True,
        },
        {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": False},
    ],
}


def _byte_level_words(texts: Iterable[str]) -> Counter[str]:
    normalize = _build_normalizer(CLIP_NORMALIZER)
    counts: Counter[str] = Counter()
    for text in texts:
        for word in _clip_split(normalize(text)):
            counts["".join(BYTE_ENCODER[b] for b in word.encode("utf-8"))] += 1
    return counts


def train_bpe_merges(
    texts: Iterable[str], num_merges: int, min_frequency: int = 2
) -> list[tuple[str, str]]:
    """Most frequent adjacent pair first (ties by the pair's strings), over words whose
    last symbol carries ``</w>``."""
    counts = _byte_level_words(texts)
    words = {w: list(w[:-1]) + [w[-1] + END_OF_WORD] for w in sorted(counts)}
    merges: list[tuple[str, str]] = []
    while len(merges) < num_merges:
        pairs: Counter[tuple[str, str]] = Counter()
        for w, symbols in words.items():
            for pair in zip(symbols, symbols[1:]):
                pairs[pair] += counts[w]
        if not pairs:
            break
        (a, b), freq = min(pairs.items(), key=lambda item: (-item[1], item[0]))
        if freq < min_frequency:
            break
        merges.append((a, b))
        for symbols in words.values():
            i = 0
            while i < len(symbols) - 1:
                if symbols[i] == a and symbols[i + 1] == b:
                    symbols[i : i + 2] = [a + b]
                i += 1
    return merges


def clip_bpe_tokenizer_json(merges: list[tuple[str, str]]) -> dict[str, Any]:
    """Vocabulary as CLIP orders it: the 256 byte symbols, the same with ``</w>``, merge
    results, then ``<|startoftext|>`` and ``<|endoftext|>`` (the largest id, which CLIP's
    text pooling relies on)."""
    symbols = list(BYTE_ENCODER.values())
    tokens = symbols + [s + END_OF_WORD for s in symbols]
    tokens += [a + b for a, b in merges]
    tokens = list(dict.fromkeys(tokens)) + [BOS, EOS]
    vocab = {t: i for i, t in enumerate(tokens)}
    return {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": [_added_token(BOS, vocab[BOS]), _added_token(EOS, vocab[EOS])],
        "normalizer": CLIP_NORMALIZER,
        "pre_tokenizer": CLIP_PRE_TOKENIZER,
        "post_processor": template_processing(BOS, EOS, vocab),
        "decoder": {
            "type": "ByteLevel",
            "add_prefix_space": True,
            "trim_offsets": True,
            "use_regex": True,
        },
        "model": {
            "type": "BPE",
            "dropout": None,
            "unk_token": EOS,
            "continuing_subword_prefix": "",
            "end_of_word_suffix": END_OF_WORD,
            "fuse_unk": False,
            "byte_fallback": False,
            "vocab": vocab,
            "merges": [f"{a} {b}" for a, b in merges],
        },
    }
