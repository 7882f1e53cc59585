"""Tokenizers: characters, and byte-level BPE against tiktoken's educational trainer
(same merges, same ids), with decode(encode(s)) == s for every string (hypothesis)."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workbook.data.shakespeare import load_text
from workbook.tokenize import (
    GPT2_PATTERN,
    GPT4_PATTERN,
    BPETokenizer,
    CharTokenizer,
    compression_ratio,
    count_pairs,
    merge,
)

EXTRA = " héllo wörld, naïve café 😀😀 👍🏽 日本語 日本 Ωμέγα\r\n\t tabs\u00a0nbsp"


@pytest.fixture(scope="module")
def shakespeare():
    return load_text(60_000)


@pytest.fixture(scope="module")
def bpe(shakespeare):
    return BPETokenizer.train(shakespeare[:40_000] + EXTRA, vocab_size=400)


@pytest.fixture(scope="module")
def bpe_nosplit(shakespeare):
    return BPETokenizer.train(shakespeare[:5_000] + EXTRA, vocab_size=300, pattern=None)


# ----------------------------------------------------------------------------- characters

def test_char_tokenizer_round_trip_and_sorted_vocabulary():
    tok = CharTokenizer.from_text("hello world")
    assert tok.chars == [" ", "d", "e", "h", "l", "o", "r", "w"]
    assert tok.vocab_size == 8
    assert tok.encode("hole") == [3, 5, 4, 2]
    assert tok.decode(tok.encode("world hello")) == "world hello"
    assert tok.encode_array("hello").tolist() == tok.encode("hello")


def test_char_tokenizer_names_an_unknown_character():
    tok = CharTokenizer.from_text("abc")
    with pytest.raises(KeyError, match="'z' is not in the vocabulary"):
        tok.encode("abz")
    with pytest.raises(KeyError, match="'z' is not in the vocabulary"):
        tok.encode_array("abz")


@given(st.text(max_size=50))
@settings(max_examples=50, deadline=None)
def test_char_tokenizer_round_trips_any_text_it_was_built_on(text):
    tok = CharTokenizer.from_text(text + "a")
    assert tok.decode(tok.encode(text)) == text
    assert tok.encode_array(text).tolist() == tok.encode(text)


# ----------------------------------------------------------------------------- BPE pieces

def test_count_pairs_in_order_of_first_occurrence():
    counts = count_pairs([1, 2, 3, 1, 2])
    assert counts == {(1, 2): 2, (2, 3): 1, (3, 1): 1}
    assert list(counts) == [(1, 2), (2, 3), (3, 1)]
    assert count_pairs([7]) == {} and count_pairs([]) == {}


def test_merge_left_to_right_without_overlap():
    assert merge([1, 2, 3, 1, 2], (1, 2), 9) == [9, 3, 9]
    assert merge([5, 5, 5], (5, 5), 9) == [9, 5]
    assert merge([5, 5, 5, 5], (5, 5), 9) == [9, 9]
    assert merge([1, 2], (2, 1), 9) == [1, 2]


def test_bpe_needs_the_256_bytes():
    with pytest.raises(ValueError, match="at least 256"):
        BPETokenizer.train("hello", vocab_size=255)


def test_bpe_tie_break_is_first_occurrence():
    # every pair of "abcd" occurs once: the first pair in the text wins each round
    tok = BPETokenizer.train("abcd", vocab_size=259, pattern=None)
    a, b, c, d = (ord(ch) for ch in "abcd")
    assert tok.merges == {(a, b): 256, (256, c): 257, (257, d): 258}
    assert tok.encode("abcd") == [258]


def test_bpe_stops_when_no_pairs_are_left():
    tok = BPETokenizer.train("ab", vocab_size=1000)
    assert tok.vocab_size == 257 and tok.encode("ab") == [256]


def test_bpe_merges_frequent_pairs_and_respects_chunks(bpe):
    assert bpe.vocab_size == 400
    assert b" the" in bpe.vocab.values()  # the leading space belongs to the word
    # GPT-2's split: no merged token spans a word and the punctuation after it
    assert not any(tok.startswith(b"the") and tok.endswith(b".") for tok in bpe.vocab.values())


# ----------------------------------------------------------------------------- vs tiktoken

@pytest.mark.parametrize("pattern", [GPT2_PATTERN, GPT4_PATTERN, None],
                         ids=["gpt2", "gpt4", "no-split"])
def test_bpe_agrees_with_tiktoken_educational(shakespeare, pattern):
    tiktoken_edu = pytest.importorskip("tiktoken._educational")
    n, vocab_size = (8_000, 360) if pattern is not None else (2_500, 300)
    text = shakespeare[:n] + EXTRA
    # tiktoken needs a pattern; one chunk for the whole text is "no split"
    pat = pattern if pattern is not None else r"[\s\S]+"
    ranks = tiktoken_edu.bpe_train(text, vocab_size, pat, visualise=None)
    ours = BPETokenizer.train(text, vocab_size, pattern=pattern)
    theirs_tokens = [tok for tok, rank in sorted(ranks.items(), key=lambda kv: kv[1])]
    ours_tokens = [ours.vocab[i] for i in range(ours.vocab_size)]
    assert ours_tokens == theirs_tokens  # the same new token at every merge
    # and the same ids when encoding unseen text
    enc = tiktoken_edu.SimpleBytePairEncoding(pat_str=pat, mergeable_ranks=ranks)
    unseen = shakespeare[30_000:32_000] + "Zwölf Boxkämpfer jagen Viktor 🙂"
    assert ours.encode(unseen) == enc.encode(unseen, visualise=None)


# ----------------------------------------------------------------------------- round trips

# every code point, lone surrogates included (exclude_categories=() keeps category Cs)
ANY_STRING = st.text(st.characters(codec=None, exclude_categories=()), max_size=60)
WORDY = st.lists(st.sampled_from(list("the ing and, .\n'sé😀日本\t") + ["thou ", "hath "]),
                 max_size=40).map("".join)


@given(st.one_of(ANY_STRING, WORDY))
@settings(max_examples=150, deadline=None)
def test_bpe_round_trips_every_string(bpe, bpe_nosplit, text):
    for tok in (bpe, bpe_nosplit):
        ids = tok.encode(text)
        assert all(0 <= i < tok.vocab_size for i in ids)
        assert tok.decode(ids) == text


@given(ANY_STRING)
@settings(max_examples=50, deadline=None)
def test_gpt4_pattern_round_trips(text):
    tok = BPETokenizer({}, pattern=GPT4_PATTERN)  # bytes only: tests the split itself
    assert tok.decode(tok.encode(text)) == text
    assert tok.encode(text) == list(text.encode("utf-8", errors="surrogatepass"))


def test_decode_of_a_cut_character_gives_the_replacement_character(bpe):
    ids = bpe.encode("😀")
    assert bpe.decode(ids) == "😀"
    assert "\ufffd" in bpe.decode(list(b"\xf0\x9f"))  # the first half of the emoji's bytes


def test_compression_ratio(bpe, shakespeare):
    held_out = shakespeare[45_000:55_000]
    chars = CharTokenizer.from_text(shakespeare)
    assert compression_ratio(held_out, chars) == pytest.approx(1.0)  # ASCII: 1 byte/char
    ratio = compression_ratio(held_out, bpe)
    assert 1.5 < ratio < 4.0, ratio  # ~1.8 bytes/token at 400 ids
    assert ratio == len(held_out.encode()) / len(bpe.encode(held_out))
    with pytest.raises(ValueError):
        compression_ratio("", bpe)
