"""Character classes as the JavaScript tokenizer (`@huggingface/tokenizers`) sees them.

The service tokenizes with `@huggingface/tokenizers`, whose pre-tokenizers are JavaScript
regular expressions in `u` mode. Python's `re` has no `\\p{...}`, and `str.isspace()`
differs from JavaScript's `\\s`, so the reference encoder classifies characters here.
"""

from __future__ import annotations

import unicodedata

# JavaScript `\s` (and String.prototype.trim): WhiteSpace + LineTerminator.
JS_WHITESPACE = frozenset(
    "\t\n\v\f\r \u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008"
    "\u2009\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"
)


# Unicode White_Space: what `\s` means inside a `tokenizer.json` Regex pattern. The Rust
# crate (Oniguruma) uses it, and tokenizers.js rewrites `\s` to `\p{White_Space}` to match;
# it differs from JavaScript's own `\s` by U+0085 (in) and U+FEFF (out).
UNICODE_WHITE_SPACE = frozenset(
    "\t\n\v\f\r \u0085\u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007"
    "\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)


def is_whitespace(ch: str) -> bool:
    """JavaScript `\\s`, as the built-in pre-tokenizers (BertPreTokenizer) use it."""
    return ch in JS_WHITESPACE


def is_regex_whitespace(ch: str) -> bool:
    """`\\s` inside a `tokenizer.json` Regex pattern."""
    return ch in UNICODE_WHITE_SPACE


def is_punctuation(ch: str) -> bool:
    """`\\p{P}` plus every ASCII symbol (tokenizers.js `PUNCTUATION_REGEX`)."""
    cp = ord(ch)
    if 0x21 <= cp <= 0x2F or 0x3A <= cp <= 0x40 or 0x5B <= cp <= 0x60 or 0x7B <= cp <= 0x7E:
        return True
    return unicodedata.category(ch).startswith("P")


def is_letter(ch: str) -> bool:
    return unicodedata.category(ch).startswith("L")


def is_number(ch: str) -> bool:
    return unicodedata.category(ch).startswith("N")


def is_mark(ch: str) -> bool:
    return unicodedata.category(ch).startswith("M")


def js_trim(text: str) -> str:
    start, end = 0, len(text)
    while start < end and is_whitespace(text[start]):
        start += 1
    while end > start and is_whitespace(text[end - 1]):
        end -= 1
    return text[start:end]
