"""Subword tokenizers saved as Hugging Face `tokenizer.json`, and a pure-Python encoder.

Debian has no `tokenizers` library, so this module

- trains a BERT-like WordPiece vocabulary (lower-cased, accents stripped, `##`
  continuation) and writes it as a `tokenizer.json` that `@huggingface/tokenizers` (the
  service's tokenizer) loads; and
- encodes text with any `tokenizer.json` built from the components written here
  (WordPiece, and the CLIP-style byte-level BPE of `bpe_tokenizer.py`), following the
  JavaScript library's algorithm step by step so that reference ids match the service's:
  split out added tokens, normalize, pre-tokenize, run the model, apply the template.
"""

from __future__ import annotations

import json
import unicodedata
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Optional

from . import text_unicode as tu

PAD, UNK, CLS, SEP = "[PAD]", "[UNK]", "[CLS]", "[SEP]"
WORDPIECE_SPECIALS = (PAD, UNK, CLS, SEP)  # ids 0..3, so [PAD] is 0
CONTINUATION = "##"
ASCII_PUNCTUATION = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"
WORDPIECE_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"

# The one Split pattern supported: CLIP's (openai/clip-vit-base-patch32 tokenizer.json).
CLIP_SPLIT_PATTERN = (
    r"<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]"
    r"|[^\s\p{L}\p{N}]+"
)
_CLIP_CONTRACTIONS = ("s", "t", "re", "ve", "m", "ll", "d")  # in the pattern's order


# ---------------------------------------------------------------------------------------
# Components (only those this package writes; anything else raises NotImplementedError).


def _build_normalizer(cfg: Optional[dict[str, Any]]) -> Callable[[str], str]:
    if cfg is None:
        return lambda text: text
    kind = cfg["type"]
    if kind in ("NFC", "NFD", "NFKC", "NFKD"):
        return lambda text: unicodedata.normalize(kind, text)
    if kind == "Lowercase":
        return str.lower
    if kind == "StripAccents":
        # tokenizers.js removes \p{M} (all marks), after the NFD that precedes it.
        return lambda text: "".join(ch for ch in text if not tu.is_mark(ch))
    if kind == "Sequence":
        steps = [_build_normalizer(c) for c in cfg["normalizers"]]

        def run(text: str) -> str:
            for step in steps:
                text = step(text)
            return text

        return run
    if kind == "Replace":
        pattern, content = cfg["pattern"], cfg["content"]
        if "String" in pattern:
            return lambda text: text.replace(pattern["String"], content)
        if pattern.get("Regex") == r"\s+":
            return lambda text: _collapse_whitespace(text, content)
    raise NotImplementedError(f"normalizer {cfg!r}")


def _collapse_whitespace(text: str, content: str) -> str:
    out: list[str] = []
    in_run = False
    for ch in text:
        if tu.is_regex_whitespace(ch):
            if not in_run:
                out.append(content)
            in_run = True
        else:
            out.append(ch)
            in_run = False
    return "".join(out)


def _bert_pre_tokenize(text: str) -> list[str]:
    # tokenizers.js: text.trim().match(/[^\s\p{P}...]+|[\p{P}...]/gu)
    words: list[str] = []
    current: list[str] = []
    for ch in tu.js_trim(text):
        if tu.is_whitespace(ch) or tu.is_punctuation(ch):
            if current:
                words.append("".join(current))
                current = []
            if not tu.is_whitespace(ch):
                words.append(ch)
        else:
            current.append(ch)
    if current:
        words.append("".join(current))
    return words


def _clip_split(text: str) -> list[str]:
    """Matches of CLIP_SPLIT_PATTERN, scanning as a backtracking regex engine would."""
    words: list[str] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        special = next(
            (s for s in ("<|startoftext|>", "<|endoftext|>") if text.startswith(s, i)), None
        )
        if special is not None:
            words.append(special)
            i += len(special)
            continue
        if ch == "'":
            suffix = next((s for s in _CLIP_CONTRACTIONS if text.startswith(s, i + 1)), None)
            if suffix is not None:
                words.append("'" + suffix)
                i += 1 + len(suffix)
                continue
        if tu.is_letter(ch):
            j = i + 1
            while j < n and tu.is_letter(text[j]):
                j += 1
        elif tu.is_number(ch):
            j = i + 1
        elif not tu.is_regex_whitespace(ch):
            j = i + 1
            while j < n and not (
                tu.is_regex_whitespace(text[j]) or tu.is_letter(text[j]) or tu.is_number(text[j])
            ):
                j += 1
        else:
            i += 1
            continue
        words.append(text[i:j])
        i = j
    return words


def _build_pre_tokenizer(cfg: Optional[dict[str, Any]]) -> Callable[[str], list[str]]:
    if cfg is None:
        return lambda text: [text]
    kind = cfg["type"]
    if kind == "BertPreTokenizer":
        return _bert_pre_tokenize
    if kind == "Split":
        if cfg.get("pattern", {}).get("Regex") == CLIP_SPLIT_PATTERN and cfg.get("invert"):
            return _clip_split
    if kind == "ByteLevel" and not cfg.get("use_regex", True):
        from .bpe_tokenizer import BYTE_ENCODER

        prefix = " " if cfg.get("add_prefix_space") else ""

        def byte_level(text: str) -> list[str]:
            if prefix and not text.startswith(" "):
                text = prefix + text
            return ["".join(BYTE_ENCODER[b] for b in text.encode("utf-8"))]

        return byte_level
    if kind == "Sequence":
        steps = [_build_pre_tokenizer(c) for c in cfg["pretokenizers"]]

        def run(text: str) -> list[str]:
            pieces = [text]
            for step in steps:
                pieces = [out for piece in pieces for out in step(piece)]
            return pieces

        return run
    raise NotImplementedError(f"pre_tokenizer {cfg!r}")


class _WordPieceModel:
    def __init__(self, cfg: dict[str, Any], vocab: dict[str, int]) -> None:
        self.vocab = vocab
        self.unk = cfg["unk_token"]
        self.prefix = cfg.get("continuing_subword_prefix", CONTINUATION)
        self.max_chars = cfg.get("max_input_chars_per_word", 100)

    def encode(self, words: Iterable[str]) -> list[str]:
        out: list[str] = []
        for word in words:
            if len(word) > self.max_chars:  # code points, as [...token] in JS
                out.append(self.unk)
                continue
            pieces: list[str] = []
            start = 0
            while start < len(word):
                end = len(word)
                piece = None
                while start < end:  # greedy longest match first
                    candidate = word[start:end]
                    if start > 0:
                        candidate = self.prefix + candidate
                    if candidate in self.vocab:
                        piece = candidate
                        break
                    end -= 1
                if piece is None:
                    pieces = [self.unk]
                    break
                pieces.append(piece)
                start = end
            out.extend(pieces)
        return out


class _BpeModel:
    def __init__(self, cfg: dict[str, Any], vocab: dict[str, int]) -> None:
        self.vocab = vocab
        self.unk = cfg.get("unk_token")
        self.suffix = cfg.get("end_of_word_suffix") or ""
        if cfg.get("continuing_subword_prefix") or cfg.get("byte_fallback"):
            raise NotImplementedError("BPE continuing_subword_prefix / byte_fallback")
        merges = [m.split(" ", 1) if isinstance(m, str) else m for m in cfg["merges"]]
        self.ranks = {(a, b): rank for rank, (a, b) in enumerate(merges)}

    def bpe(self, word: str) -> list[str]:
        if not word:
            return []
        symbols = list(word)
        symbols[-1] += self.suffix
        # Merge the lowest-ranked adjacent pair, leftmost first on ties: the order the
        # priority queue of tokenizers.js (and the Rust crate) produces.
        while len(symbols) > 1:
            best: Optional[tuple[int, int]] = None
            for i in range(len(symbols) - 1):
                rank = self.ranks.get((symbols[i], symbols[i + 1]))
                if rank is not None and (best is None or rank < best[0]):
                    best = (rank, i)
            if best is None:
                break
            i = best[1]
            symbols[i : i + 2] = [symbols[i] + symbols[i + 1]]
        return symbols

    def encode(self, words: Iterable[str]) -> list[str]:
        out: list[str] = []
        for word in words:
            for piece in self.bpe(word):
                if piece in self.vocab:
                    out.append(piece)
                elif self.unk is not None:
                    out.append(self.unk)
        return out


# ---------------------------------------------------------------------------------------


class Tokenizer:
    """Encodes text exactly as `@huggingface/tokenizers` 0.2 does with the same JSON."""

    def __init__(self, spec: dict[str, Any]) -> None:
        self.spec = spec
        model = spec["model"]
        self.vocab: dict[str, int] = dict(model["vocab"])
        self.added: dict[str, int] = {}
        for token in spec.get("added_tokens", []):
            if token.get("normalized", not token.get("special", False)):
                raise NotImplementedError("normalized added tokens")
            self.added[token["content"]] = token["id"]
            self.vocab[token["content"]] = token["id"]
        self.id_to_token = {i: t for t, i in self.vocab.items()}
        self.normalize = _build_normalizer(spec.get("normalizer"))
        self.pre_tokenize = _build_pre_tokenizer(spec.get("pre_tokenizer"))
        if model["type"] == "WordPiece":
            self.model: Any = _WordPieceModel(model, self.vocab)
        elif model["type"] == "BPE":
            self.model = _BpeModel(model, self.vocab)
        else:
            raise NotImplementedError(f"model {model['type']}")
        post = spec.get("post_processor")
        if post is not None and post["type"] != "TemplateProcessing":
            raise NotImplementedError(f"post_processor {post['type']}")
        self.template: list[dict[str, Any]] = post["single"] if post else [{"Sequence": {"id": "A"}}]
        self.unk_id = self.vocab.get(model.get("unk_token")) if model.get("unk_token") else None

    @staticmethod
    def from_file(path: str | Path) -> "Tokenizer":
        return Tokenizer(json.loads(Path(path).read_text(encoding="utf-8")))

    @property
    def end_token_id(self) -> Optional[int]:
        """The special token the template appends after the text, if any."""
        last = self.template[-1]
        return self.vocab[last["SpecialToken"]["id"]] if "SpecialToken" in last else None

    def token_to_id(self, token: str) -> Optional[int]:
        return self.vocab.get(token)

    def _split_added(self, text: str) -> list[str]:
        # tokenizers.js DictionarySplitter: longest added token starting at each position.
        sections: list[str] = []
        start = i = 0
        while i < len(text):
            match = max((t for t in self.added if text.startswith(t, i)), key=len, default=None)
            if match is None:
                i += 1
                continue
            if i > start:
                sections.append(text[start:i])
            sections.append(match)
            i += len(match)
            start = i
        if start < len(text):
            sections.append(text[start:])
        return sections

    def tokenize(self, text: str, add_special_tokens: bool = True) -> list[str]:
        tokens: list[str] = []
        for section in self._split_added(text):
            if section in self.added:
                tokens.append(section)
                continue
            normalized = self.normalize(section)
            if normalized:
                tokens.extend(self.model.encode(self.pre_tokenize(normalized)))
        result: list[str] = []
        for item in self.template:
            if "SpecialToken" in item:
                if add_special_tokens:
                    result.append(item["SpecialToken"]["id"])
            elif item["Sequence"]["id"] == "A":
                result.extend(tokens)
        return result

    def encode(self, text: str, add_special_tokens: bool = True) -> list[int]:
        return [
            self.vocab.get(t, self.unk_id) for t in self.tokenize(text, add_special_tokens)
        ]

    def decode(self, ids: Iterable[int], skip_special_tokens: bool = True) -> str:
        tokens = [self.id_to_token[i] for i in ids]
        if skip_special_tokens:
            tokens = [t for t in tokens if t not in self.added]
        decoder = self.spec.get("decoder") or {}
        if decoder.get("type") == "WordPiece":
            prefix = decoder.get("prefix", CONTINUATION)
            text = "".join(
                t[len(prefix) :] if i > 0 and t.startswith(prefix) else (" " + t if i else t)
                for i, t in enumerate(tokens)
            )
            return _clean_up_tokenization(text) if decoder.get("cleanup") else text
        if decoder.get("type") == "ByteLevel":
            from .bpe_tokenizer import BYTE_DECODER

            text = "".join(tokens)
            suffix = self.spec["model"].get("end_of_word_suffix") or ""
            pieces = text.split(suffix) if suffix else [text]
            words = [bytes(BYTE_DECODER[c] for c in p).decode("utf-8", "replace") for p in pieces]
            return " ".join(w for w in words if w).strip()
        return " ".join(tokens)


def _clean_up_tokenization(text: str) -> str:
    # transformers' clean_up_tokenization, which the WordPiece decoder's `cleanup` applies.
    for before, after in ((" .", "."), (" ?", "?"), (" !", "!"), (" ,", ","), (" ' ", "'"),
                          (" n't", "n't"), (" 'm", "'m"), (" 's", "'s"), (" 've", "'ve"),
                          (" 're", "'re")):
        text = text.replace(before, after)
    return text


@dataclass(frozen=True)
class EncodedText:
    ids: list[int]
    attention_mask: list[int]
    truncated: bool


def encode_for_context(
    tokenizer: Tokenizer, text: str, context_length: int, pad_id: int
) -> EncodedText:
    """The service's rule: add the tokenizer's specials, truncate to ``context_length``
    keeping the final end token when the tokenizer adds one, right-pad with ``pad_id``."""
    ids = tokenizer.encode(text)
    truncated = len(ids) > context_length
    if truncated:
        end = tokenizer.end_token_id
        ids = ids[: context_length - 1] + [end] if end is not None else ids[:context_length]
    padding = context_length - len(ids)
    return EncodedText(
        ids=ids + [pad_id] * padding,
        attention_mask=[1] * len(ids) + [0] * padding,
        truncated=truncated,
    )


# ---------------------------------------------------------------------------------------
# WordPiece training and writing.

WORDPIECE_NORMALIZER = {
    "type": "Sequence",
    "normalizers": [{"type": "NFD"}, {"type": "Lowercase"}, {"type": "StripAccents"}],
}


def _word_counts(texts: Iterable[str]) -> Counter[str]:
    normalize = _build_normalizer(WORDPIECE_NORMALIZER)
    counts: Counter[str] = Counter()
    for text in texts:
        counts.update(_bert_pre_tokenize(normalize(text)))
    return counts


def train_wordpiece_vocab(
    texts: Iterable[str], vocab_size: int, min_frequency: int = 1
) -> list[str]:
    """Learns a WordPiece vocabulary the way Hugging Face's WordPiece trainer does: BPE
    merges over words spelled ``c0 ##c1 ##c2 …``, most frequent pair first (ties broken
    by the pair's strings, so training is deterministic).

    The result lists tokens in id order: the four specials, the alphabet (a-z, 0-9 and
    ASCII punctuation, each letter/digit also as a ``##`` continuation, plus any other
    character seen), then merged tokens.
    """
    counts = _word_counts(texts)
    alphabet = set(WORDPIECE_ALPHABET) | set(ASCII_PUNCTUATION)
    alphabet |= {ch for word in counts for ch in word}
    base = sorted(alphabet)
    base += sorted(CONTINUATION + ch for ch in alphabet if not tu.is_punctuation(ch))
    vocab = list(WORDPIECE_SPECIALS) + base
    known = set(vocab)
    words = {
        w: [w[0]] + [CONTINUATION + ch for ch in w[1:]] for w in sorted(counts) if w
    }
    while len(vocab) < vocab_size:
        pairs: Counter[tuple[str, str]] = Counter()
        for w, symbols in words.items():
            for pair in zip(symbols, symbols[1:]):
                pairs[pair] += counts[w]
        if not pairs:
            break
        (a, b), freq = min(pairs.items(), key=lambda item: (-item[1], item[0]))
        if freq < min_frequency:
            break
        merged = a + b[len(CONTINUATION) :]
        if merged not in known:
            vocab.append(merged)
            known.add(merged)
        for symbols in words.values():
            i = 0
            while i < len(symbols) - 1:
                if symbols[i] == a and symbols[i + 1] == b:
                    symbols[i : i + 2] = [merged]
                i += 1
    return vocab


def _added_token(content: str, token_id: int) -> dict[str, Any]:
    return {
        "id": token_id,
        "content": content,
        "single_word": False,
        "lstrip": False,
        "rstrip": False,
        "normalized": False,
        "special": True,
    }


def template_processing(bos: str, eos: str, vocab: dict[str, int]) -> dict[str, Any]:
    """`bos $A eos` (pair: `bos $A eos $B:1 eos:1`), as Hugging Face writes it."""

    def special(token: str, type_id: int = 0) -> dict[str, Any]:
        return {"SpecialToken": {"id": token, "type_id": type_id}}

    def sequence(seq: str, type_id: int) -> dict[str, Any]:
        return {"Sequence": {"id": seq, "type_id": type_id}}

    return {
        "type": "TemplateProcessing",
        "single": [special(bos), sequence("A", 0), special(eos)],
        "pair": [special(bos), sequence("A", 0), special(eos), sequence("B", 1), special(eos, 1)],
        "special_tokens": {
            t: {"id": t, "ids": [vocab[t]], "tokens": [t]} for t in dict.fromkeys((bos, eos))
        },
    }


def wordpiece_tokenizer_json(vocab_tokens: list[str]) -> dict[str, Any]:
    vocab = {token: i for i, token in enumerate(vocab_tokens)}
    if [vocab[t] for t in WORDPIECE_SPECIALS] != [0, 1, 2, 3]:
        raise ValueError("the vocabulary must start with [PAD] [UNK] [CLS] [SEP]")
    return {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": [_added_token(t, vocab[t]) for t in WORDPIECE_SPECIALS],
        "normalizer": WORDPIECE_NORMALIZER,
        "pre_tokenizer": {"type": "BertPreTokenizer"},
        "post_processor": template_processing(CLS, SEP, vocab),
        "decoder": {"type": "WordPiece", "prefix": CONTINUATION, "cleanup": True},
        "model": {
            "type": "WordPiece",
            "unk_token": UNK,
            "continuing_subword_prefix": CONTINUATION,
            "max_input_chars_per_word": 100,
            "vocab": vocab,
        },
    }


def train_wordpiece_vocab_fast(
    texts: Iterable[str], vocab_size: int, min_frequency: int = 1
) -> list[str]:
    """The same vocabulary as ``train_wordpiece_vocab``, token for token, in about
    O(merges × words touched) instead of recounting every pair at every merge: pair counts
    are kept up to date for the words a merge touches, and the best pair comes from a heap
    (ordered by count, then the pair's strings, as ``train_wordpiece_vocab``'s ``min``).
    Use it for corpora of thousands of words (the emoji captions in 20+ locales)."""
    import heapq

    counts = _word_counts(texts)
    alphabet = set(WORDPIECE_ALPHABET) | set(ASCII_PUNCTUATION)
    alphabet |= {ch for word in counts for ch in word}
    base = sorted(alphabet)
    base += sorted(CONTINUATION + ch for ch in alphabet if not tu.is_punctuation(ch))
    vocab = list(WORDPIECE_SPECIALS) + base
    known = set(vocab)
    words = [w for w in sorted(counts) if w]
    symbols = [[w[0]] + [CONTINUATION + ch for ch in w[1:]] for w in words]
    freq = [counts[w] for w in words]
    pair_count: dict[tuple[str, str], int] = {}
    where: dict[tuple[str, str], set[int]] = {}
    for i, syms in enumerate(symbols):
        for pair in zip(syms, syms[1:]):
            pair_count[pair] = pair_count.get(pair, 0) + freq[i]
            where.setdefault(pair, set()).add(i)
    heap = [(-c, pair) for pair, c in pair_count.items()]
    heapq.heapify(heap)
    while len(vocab) < vocab_size:
        best = None
        while heap:
            neg, pair = heap[0]
            if pair_count.get(pair, 0) == -neg and neg < 0:
                best = (pair, -neg)
                break
            heapq.heappop(heap)  # stale entry
        if best is None:
            break
        (a, b), count = best
        if count < min_frequency:
            break
        merged = a + b[len(CONTINUATION) :]
        if merged not in known:
            vocab.append(merged)
            known.add(merged)
        changed: set[tuple[str, str]] = set()
        for i in sorted(where.pop((a, b), ())):
            syms = symbols[i]
            for pair in zip(syms, syms[1:]):
                pair_count[pair] -= freq[i]
                changed.add(pair)
            j = 0
            while j < len(syms) - 1:
                if syms[j] == a and syms[j + 1] == b:
                    syms[j : j + 2] = [merged]
                j += 1
            for pair in zip(syms, syms[1:]):
                pair_count[pair] = pair_count.get(pair, 0) + freq[i]
                where.setdefault(pair, set()).add(i)
                changed.add(pair)
        for pair in changed:
            c = pair_count[pair]
            if c <= 0:
                del pair_count[pair]
            else:
                heapq.heappush(heap, (-c, pair))
    return vocab
