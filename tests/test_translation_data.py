"""Specifications of coursekit.translation_data: the cmn-eng pairs, their normalisation to
simplified characters, the tokenisers, the book's fixed split, vocabularies and batches.

Expected values come from the file itself (read here line by line), from independent
computations (the normalisation counted character by character instead of by phrases, the
split's hash recomputed with hashlib, lengths counted from the token lists), or from
sentences worked by hand; never from running the function under test twice.
"""

import hashlib
from collections import Counter, defaultdict

import opencc
import pytest
import sacrebleu
import torch

from coursekit.data import DATA_DIR
from coursekit.translation_data import (
    CMN_ENG_CHANGED,
    CMN_ENG_SPLIT_SIZES,
    SPECIALS,
    TokenVocab,
    bleu_zh,
    bucket_batches,
    cmn_eng_part,
    cmn_eng_split,
    collate,
    detokenize_chinese,
    detokenize_english,
    encode_pairs,
    load_cmn_eng,
    normalise_chinese,
    to_simplified,
    tokenize_chinese,
    tokenize_english,
)

# Common traditional characters whose simplified forms differ (這 这, 們 们, 個 个, ...).
TRADITIONAL = "這們個嗎湯麼會裡來沒為車說時給開點請歡學對過書讓語間該話見電認問經現應從親發幫錢"


@pytest.fixture(scope="module")
def raw_lines():
    return (DATA_DIR / "cmn-eng.tsv").read_text(encoding="utf-8").split("\n")[:-1]


@pytest.fixture(scope="module")
def pairs():
    return load_cmn_eng()


@pytest.fixture(scope="module")
def split():
    return cmn_eng_split()


# --- the file and its licence ---------------------------------------------------------------


def test_load_gives_every_line_of_the_file_in_order(raw_lines, pairs):
    assert len(raw_lines) == len(pairs) == 23_610
    assert [tuple(line.split("\t")) for line in raw_lines] == [tuple(p) for p in pairs]
    assert pairs[0] == ("Hi.", "嗨。", pairs[0].attribution)


def test_every_pair_keeps_its_tatoeba_attribution(pairs):
    assert all(
        p.attribution.startswith("CC-BY 2.0 (France) Attribution: tatoeba.org #") for p in pairs
    )


def test_the_licence_ships_with_the_file():
    about = (DATA_DIR / "cmn-eng.about.txt").read_text(encoding="utf-8")
    assert "creativecommons.org/licenses/by/2.0" in about
    assert "www.manythings.org/anki and tatoeba.org" in about
    readme = (DATA_DIR / "README.md").read_text(encoding="utf-8")
    assert "cmn-eng.tsv" in readme and "CC-BY 2.0" in readme


# --- simplified characters ------------------------------------------------------------------


def test_normalisation_count_equals_a_character_by_character_count(pairs):
    normalised, changed = normalise_chinese(pairs)
    by_character = opencc.OpenCC("t2s")  # one character at a time: no phrase tables
    independent = sum(any(by_character.convert(ch) != ch for ch in p.chinese) for p in pairs)
    assert changed == independent == CMN_ENG_CHANGED == 11_061
    assert changed == sum(n.chinese != p.chinese for n, p in zip(normalised, pairs, strict=True))


def test_normalisation_removes_common_traditional_characters_and_nothing_else(pairs):
    normalised, _ = normalise_chinese(pairs)
    for before, after in zip(pairs, normalised, strict=True):
        assert (before.english, before.attribution) == (after.english, after.attribution)
        assert len(after.chinese) == len(before.chinese)  # t2s maps characters one to one here
        assert not any(ch in TRADITIONAL for ch in after.chinese)
        if any(ch in TRADITIONAL for ch in before.chinese):
            assert after.chinese != before.chinese


def test_normalisation_examples_and_idempotence(pairs):
    assert to_simplified("父親") == "父亲"
    assert to_simplified("乾杯!") == "干杯!"  # by phrase: 乾 is also a simplified character
    assert to_simplified("他是一个 DJ 。") == "他是一个 DJ 。"
    normalised, _ = normalise_chinese(pairs)
    assert normalise_chinese(normalised)[1] == 0


# --- tokens ---------------------------------------------------------------------------------


def test_english_tokens_by_hand():
    assert tokenize_english("I'm 17, too.") == ["i'm", "17", ",", "too", "."]
    assert tokenize_english("It's 3:30.") == ["it's", "3:30", "."]
    assert tokenize_english('He gave me 10,000 yen. "Why?"') == [
        *["he", "gave", "me", "10,000", "yen", "."],
        *['"', "why", "?", '"'],
    ]
    assert tokenize_english("It only costs $10.00!") == ["it", "only", "costs", "$", "10.00", "!"]


def test_english_tokens_round_trip_through_their_display_form(pairs):
    for p in pairs:
        tokens = tokenize_english(p.english)
        assert tokens and tokenize_english(detokenize_english(tokens)) == tokens
        assert "".join(tokens) == "".join(p.english.lower().split())  # nothing dropped but spaces


def test_chinese_tokens_are_the_characters(pairs):
    assert tokenize_chinese("他是一个 DJ 。") == ["他", "是", "一", "个", "D", "J", "。"]
    assert tokenize_chinese("好\u200b的") == ["好", "的"]
    for p in pairs:
        tokens = tokenize_chinese(p.chinese)
        assert all(len(t) == 1 for t in tokens)
        stripped = "".join(p.chinese.split()).replace("\u200b", "")
        assert detokenize_chinese(tokens) == stripped


# --- the split ------------------------------------------------------------------------------


def test_split_sizes_are_fixed_and_add_up(split):
    sizes = {part: len(pairs) for part, pairs in split.items()}
    assert sizes == CMN_ENG_SPLIT_SIZES == {"train": 21_251, "dev": 1_119, "test": 1_240}
    assert sum(sizes.values()) == 23_610 and sizes["test"] >= 1_000


def test_split_parts_partition_the_normalised_pairs_in_file_order(pairs, split):
    normalised, _ = normalise_chinese(pairs)
    assert Counter(p for part in split.values() for p in part) == Counter(normalised)
    position = {p: i for i, p in enumerate(normalised)}  # the pairs are distinct lines
    assert len(position) == len(normalised)
    for part in split.values():
        indices = [position[p] for p in part]
        assert indices == sorted(indices)


def test_no_english_sentence_straddles_two_parts(split):
    parts_of = defaultdict(set)
    for name, part in split.items():
        for p in part:
            parts_of[" ".join(tokenize_english(p.english))].add(name)
    assert all(len(names) == 1 for names in parts_of.values())
    sentences = {name: {p.english for p in part} for name, part in split.items()}
    assert not sentences["train"] & sentences["test"]
    assert not sentences["train"] & sentences["dev"] and not sentences["dev"] & sentences["test"]
    # several translations of one sentence exist (Hi. -> 嗨。 and 你好。) and stay together
    assert max(Counter(p.english for part in split.values() for p in part).values()) > 1


def test_split_rule_recomputed_with_hashlib(pairs):
    for p in pairs[::97]:
        key = " ".join(tokenize_english(p.english)).encode("utf-8")
        bucket = int(hashlib.sha256(key).hexdigest()[:16], 16) % 20
        expected = {0: "test", 1: "dev"}.get(bucket, "train")
        assert cmn_eng_part(p.english) == expected
    assert cmn_eng_part("Go away!") == cmn_eng_part("go away !")


# --- vocabularies ---------------------------------------------------------------------------


def test_vocab_specials_order_and_min_count():
    sentences = [["b", "a", "c"], ["a", "b"], ["a"], ["<eos>"]]
    vocab = TokenVocab(sentences, min_count=2)
    assert vocab.itos == ["<pad>", "<bos>", "<eos>", "<unk>", "a", "b"]  # a: 3, b: 2, c: 1
    assert list(SPECIALS) == vocab.itos[:4]
    assert (vocab.pad_index, vocab.bos_index, vocab.eos_index, vocab.unk_index) == (0, 1, 2, 3)
    assert vocab.encode(["a", "c", "b"]).tolist() == [4, 3, 5]
    assert vocab.encode(["a"], bos=True, eos=True).tolist() == [1, 4, 2]
    assert vocab.decode([1, 4, 5, 2, 4, 0]) == ["a", "b"]  # stops at <eos>
    with pytest.raises(ValueError, match="0..5"):
        vocab.decode([6])


def test_vocab_round_trip_on_the_training_part(split):
    english = [tokenize_english(p.english) for p in split["train"]]
    chinese = [tokenize_chinese(p.chinese) for p in split["train"]]
    for sentences in (english, chinese):
        vocab = TokenVocab(sentences)  # min_count 1: every training token is known
        assert len(vocab) == 4 + len({t for s in sentences for t in s})
        assert all(vocab.decode(vocab.encode(s, bos=True, eos=True)) == s for s in sentences)
        rare = TokenVocab(sentences, min_count=2)
        counts = Counter(t for s in sentences for t in s)
        assert len(rare) == 4 + sum(n >= 2 for n in counts.values())


# --- batches --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def examples(split):
    part = split["dev"]
    source = TokenVocab([tokenize_english(p.english) for p in split["train"]], min_count=2)
    target = TokenVocab([tokenize_chinese(p.chinese) for p in split["train"]], min_count=2)
    return part, source, target, encode_pairs(part, source, target)


def check_batch(batch, part, source, target):
    for row, i in enumerate(batch.index.tolist()):
        words, chars = tokenize_english(part[i].english), tokenize_chinese(part[i].chinese)
        S, T = len(words), len(chars) + 1  # the target gains <bos> (input) or <eos> (output)
        assert batch.src_lengths[row] == S
        assert batch.src_mask[row].tolist() == [t < S for t in range(batch.src.shape[1])]
        assert batch.tgt_mask[row].tolist() == [t < T for t in range(batch.tgt_in.shape[1])]
        assert batch.src[row, :S].tolist() == source.encode(words).tolist()
        assert (batch.src[row, S:] == 0).all() and (batch.tgt_in[row, T:] == 0).all()
        assert batch.tgt_in[row, :T].tolist() == [1] + target.encode(chars).tolist()
        assert batch.tgt_out[row, :T].tolist() == target.encode(chars).tolist() + [2]
        assert (batch.tgt_out[row, T:] == 0).all()


def test_evaluation_batches_cover_every_pair_once_sorted_by_length(examples):
    part, source, target, encoded = examples
    batches = bucket_batches(encoded, 64)
    order = [i for b in batches for i in b.index.tolist()]
    assert sorted(order) == list(range(len(part)))
    keys = [(len(encoded[i][0]), len(encoded[i][1]), i) for i in order]
    assert keys == sorted(keys)
    assert [len(b.index) for b in batches[:-1]] == [64] * (len(batches) - 1)
    for batch in batches:
        check_batch(batch, part, source, target)


def test_training_batches_are_seeded_shuffled_and_short_of_padding(examples):
    part, source, target, encoded = examples

    def epoch(seed):
        return bucket_batches(encoded, 32, generator=torch.Generator().manual_seed(seed))

    first, again, other = epoch(0), epoch(0), epoch(1)
    assert [b.index.tolist() for b in first] == [b.index.tolist() for b in again]
    assert [b.index.tolist() for b in first] != [b.index.tolist() for b in other]
    assert sorted(i for b in first for i in b.index.tolist()) == list(range(len(part)))
    for batch in first[:5]:
        check_batch(batch, part, source, target)
    # bucketing: far less source padding than batches of the same size in random order
    padded = sum(b.src.numel() for b in first)
    shuffled = torch.randperm(len(part), generator=torch.Generator().manual_seed(0)).tolist()
    unsorted = [collate(encoded, shuffled[k : k + 32]) for k in range(0, len(part), 32)]
    assert padded < 0.8 * sum(b.src.numel() for b in unsorted)


def test_collate_rejects_an_empty_source():
    with pytest.raises(ValueError, match="at least one token"):
        collate([(torch.tensor([], dtype=torch.long), torch.tensor([5]))], [0])


# --- BLEU -----------------------------------------------------------------------------------


def test_bleu_zh_is_sacrebleu_with_the_zh_tokeniser():
    references = ["我爱你。", "他是一个 DJ 。", "汤姆在哪儿？"]
    hypotheses = ["我爱你。", "他是一个DJ。", "汤姆在哪里？"]
    assert bleu_zh(references, references) == pytest.approx(100.0)
    expected = sacrebleu.corpus_bleu(hypotheses, [references], tokenize="zh").score
    assert bleu_zh(hypotheses, references) == pytest.approx(expected)
    # unsegmented Chinese scored as whitespace words would be almost all wrong
    words = sacrebleu.corpus_bleu(hypotheses, [references], tokenize="13a").score
    assert bleu_zh(hypotheses, references) > words + 20
    with pytest.raises(ValueError, match="pair up"):
        bleu_zh(["a"], [])
