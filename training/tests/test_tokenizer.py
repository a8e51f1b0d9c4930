import json
import tempfile
import unittest
from pathlib import Path

from lookbook_training.bpe_tokenizer import BOS, EOS, clip_bpe_tokenizer_json, train_bpe_merges
from lookbook_training.fixture_corpus import FIXTURE_PHRASES
from lookbook_training.tokenizer import (
    CLS,
    PAD,
    SEP,
    UNK,
    Tokenizer,
    _bert_pre_tokenize,
    _clip_split,
    encode_for_context,
    train_wordpiece_vocab,
    wordpiece_tokenizer_json,
)

WORDPIECE = wordpiece_tokenizer_json(train_wordpiece_vocab(FIXTURE_PHRASES, vocab_size=700))
BPE = clip_bpe_tokenizer_json(train_bpe_merges(FIXTURE_PHRASES, num_merges=60))


class WordPieceTest(unittest.TestCase):
    def setUp(self):
        self.tok = Tokenizer(WORDPIECE)

    def test_special_tokens_have_fixed_ids(self):
        self.assertEqual([self.tok.token_to_id(t) for t in (PAD, UNK, CLS, SEP)], [0, 1, 2, 3])
        self.assertEqual(self.tok.end_token_id, 3)

    def test_vocabulary_contains_every_letter_and_digit_alone_and_as_continuation(self):
        for ch in "abcdefghijklmnopqrstuvwxyz0123456789":
            self.assertIn(ch, self.tok.vocab)
            self.assertIn("##" + ch, self.tok.vocab)
        self.assertLessEqual(len(self.tok.vocab), 700)

    def test_known_words_are_single_tokens_wrapped_in_cls_and_sep(self):
        self.assertEqual(self.tok.tokenize("Red DRESS"), [CLS, "red", "dress", SEP])

    def test_unknown_word_splits_into_continuation_pieces(self):
        pieces = self.tok.tokenize("quokka", add_special_tokens=False)
        self.assertGreater(len(pieces), 1)
        self.assertEqual(pieces[0], "q")
        self.assertTrue(all(p.startswith("##") for p in pieces[1:]))
        self.assertEqual("".join(p.removeprefix("##") for p in pieces), "quokka")

    def test_symbol_outside_the_vocabulary_is_unk(self):
        self.assertEqual(self.tok.tokenize("🦘", add_special_tokens=False), [UNK])

    def test_accents_are_stripped_and_punctuation_split(self):
        self.assertEqual(
            self.tok.tokenize("Café,crème!", add_special_tokens=False),
            self.tok.tokenize("cafe , creme !", add_special_tokens=False),
        )

    def test_overlong_word_is_unk(self):
        self.assertEqual(self.tok.tokenize("a" * 101, add_special_tokens=False), [UNK])

    def test_special_token_text_is_recognised(self):
        self.assertEqual(self.tok.tokenize("[SEP]red", add_special_tokens=False), [SEP, "red"])

    def test_decode_round_trips_normalized_text(self):
        text = "a red summer dress, with 2 pockets!"
        self.assertEqual(self.tok.decode(self.tok.encode(text)), text)

    def test_context_encoding_truncates_keeping_sep_and_pads(self):
        long = encode_for_context(self.tok, "red dress " * 20, 16, 0)
        self.assertTrue(long.truncated)
        self.assertEqual(len(long.ids), 16)
        self.assertEqual(long.ids[0], 2)
        self.assertEqual(long.ids[-1], 3)
        self.assertEqual(long.attention_mask, [1] * 16)
        short = encode_for_context(self.tok, "a", 16, 0)
        self.assertFalse(short.truncated)
        self.assertEqual(short.ids, [2, self.tok.token_to_id("a"), 3] + [0] * 13)
        self.assertEqual(short.attention_mask, [1, 1, 1] + [0] * 13)

    def test_tokenizer_json_has_every_section_tokenizers_js_requires(self):
        for key in ("version", "truncation", "padding", "added_tokens", "normalizer",
                    "pre_tokenizer", "post_processor", "decoder", "model"):
            self.assertIn(key, WORDPIECE)
        model = WORDPIECE["model"]
        self.assertEqual(model["type"], "WordPiece")
        self.assertEqual(model["continuing_subword_prefix"], "##")
        self.assertEqual(model["max_input_chars_per_word"], 100)
        self.assertEqual(model["unk_token"], UNK)
        self.assertEqual(list(model["vocab"].values()), list(range(len(model["vocab"]))))

    def test_file_round_trip_encodes_the_same(self):
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "tokenizer.json"
            path.write_text(json.dumps(WORDPIECE), encoding="utf-8")
            again = Tokenizer.from_file(path)
        text = "A Coffee Cup, with STEAM!"
        self.assertEqual(again.encode(text), self.tok.encode(text))

    def test_training_is_deterministic(self):
        self.assertEqual(
            train_wordpiece_vocab(FIXTURE_PHRASES, 300), train_wordpiece_vocab(FIXTURE_PHRASES, 300)
        )


class ClipBpeTest(unittest.TestCase):
    def setUp(self):
        self.tok = Tokenizer(BPE)

    def test_end_of_text_has_the_largest_id_and_follows_start_of_text(self):
        eos, bos = self.tok.token_to_id(EOS), self.tok.token_to_id(BOS)
        self.assertEqual(eos, max(self.tok.vocab.values()))
        self.assertEqual(bos, eos - 1)
        self.assertEqual(self.tok.end_token_id, eos)
        self.assertEqual(self.tok.token_to_id("!"), 0)  # CLIP's byte order

    def test_merges_apply_and_words_end_with_the_suffix(self):
        tokens = self.tok.tokenize("red dress", add_special_tokens=False)
        self.assertLess(len(tokens), len("reddress"))
        self.assertTrue(tokens[-1].endswith("</w>"))
        self.assertEqual(self.tok.tokenize("a"), [BOS, "a</w>", EOS])

    def test_words_round_trip_through_bytes(self):
        # CLIP's decoder ends a word at every </w>, so only space-separated words round-trip.
        for text in ("a red dress", "café crème", "quokka 🦘 zebra striped", "size medium"):
            ids = self.tok.encode(text)
            self.assertNotIn(None, ids)
            self.assertEqual(self.tok.decode(ids), text)

    def test_context_encoding_pads_with_end_of_text(self):
        eos = self.tok.token_to_id(EOS)
        enc = encode_for_context(self.tok, "a very long description of a bright red dress", 12, eos)
        self.assertTrue(enc.truncated)
        self.assertEqual(enc.ids[-1], eos)
        short = encode_for_context(self.tok, "a", 12, eos)
        self.assertEqual(short.ids[3:], [eos] * 9)
        self.assertEqual(short.attention_mask, [1, 1, 1] + [0] * 9)


class WhitespaceTest(unittest.TestCase):
    # tokenizers.js: built-in pre-tokenizers use JavaScript's \s (U+FEFF yes, U+0085 no);
    # Regex patterns in tokenizer.json use Unicode White_Space (U+0085 yes, U+FEFF no).
    def test_bert_pre_tokenizer_uses_javascript_whitespace(self):
        self.assertEqual(_bert_pre_tokenize(" a\ufeffb\u0085c, d "), ["a", "b\u0085c", ",", "d"])

    def test_clip_split_uses_unicode_white_space(self):
        self.assertEqual(_clip_split("a\u0085b\ufeffc it's 42!"), ["a", "b", "\ufeff", "c", "it", "'s", "4", "2", "!"])


if __name__ == "__main__":
    unittest.main()
