"""Specifications of coursekit.data: the shipped corpora, Vocab, and the batching helpers.

Expected values come from facts about the files (their published sizes, their editors' tags)
or from independent formulations (slicing the input by hand), never from running data.py.
"""

import json
import random
from collections import Counter

import pytest
import torch

import coursekit.data
from coursekit.data import (
    DATA_DIR,
    UNK_REPLACEMENT,
    Vocab,
    batchify,
    bptt_windows,
    is_five_character_quatrain,
    load_tang_poems,
    load_tiny_shakespeare,
    num_windows,
    random_windows,
    split_text,
    tang_poems_text,
)

QUANTANGSHI_FILES = [f"poet.tang.{k}.json" for k in (0, 1000, 2000, 3000, 4000)]
DENG_GUAN_QUE_LOU = ["白日依山盡，黃河入海流。", "欲窮千里目，更上一層樓。"]  # 王之渙, a 五言绝句


def read_raw(name):
    with open(DATA_DIR / "tang" / name, encoding="utf-8") as file:
        return json.load(file)


# --- the package layout ---------------------------------------------------------------------


def test_import_finds_the_module_not_the_corpus_folder():
    assert coursekit.data.__file__.endswith("data.py")
    assert DATA_DIR.is_dir() and not (DATA_DIR / "__init__.py").exists()


def test_every_shipped_file_is_covered_by_the_package_data_globs():
    # pyproject ships "data/*" and "data/*/*": nothing may sit deeper than one subfolder.
    files = [p.relative_to(DATA_DIR) for p in DATA_DIR.rglob("*") if p.is_file()]
    assert files and all(len(f.parts) <= 2 for f in files)


def test_attribution_names_every_file_its_source_and_licence():
    readme = (DATA_DIR / "README.md").read_text(encoding="utf-8")
    for path in DATA_DIR.rglob("*"):
        if path.is_file() and path.name != "README.md":
            assert path.name in readme, f"{path.name} is not described in data/README.md"
    for words in ("karpathy/char-rnn", "chinese-poetry/chinese-poetry", "MIT", "public domain"):
        assert words in readme
    assert "MIT License" in (DATA_DIR / "tang" / "LICENSE.chinese-poetry").read_text()


# --- corpora ----------------------------------------------------------------------------------


def test_tiny_shakespeare_is_karpathys_file():
    text = load_tiny_shakespeare()
    assert text.startswith("First Citizen:\nBefore we proceed any further, hear me speak.")
    assert len(text) == 1_115_394  # the published character count
    assert (DATA_DIR / "tinyshakespeare.txt").stat().st_size == 1_115_394  # ASCII: bytes == chars
    assert text.isascii()


def test_tangshi300_has_its_366_entries():
    assert len(load_tang_poems("tangshi300")) == 366


def test_quantangshi_is_the_five_files_in_order():
    poems = load_tang_poems("quantangshi")
    raw = [poem for name in QUANTANGSHI_FILES for poem in read_raw(name)]
    assert len(poems) == len(raw) > 4_990
    assert [p["title"] for p in poems] == [p["title"] for p in raw]
    assert (poems[0]["author"], poems[0]["title"]) == ("太宗皇帝", "帝京篇十首 一")


@pytest.mark.parametrize("collection", ["tangshi300", "quantangshi"])
def test_every_poem_has_author_title_lines_and_tags(collection):
    for poem in load_tang_poems(collection):
        assert set(poem) == {"author", "title", "paragraphs", "tags"}
        assert isinstance(poem["author"], str) and isinstance(poem["title"], str)
        assert poem["paragraphs"] and all(isinstance(line, str) for line in poem["paragraphs"])
        assert isinstance(poem["tags"], list)


def test_missing_tags_become_an_empty_list():
    raw = read_raw("poet.tang.0.json")
    untagged = [i for i, poem in enumerate(raw) if "tags" not in poem]
    assert untagged
    poems = load_tang_poems("quantangshi")
    assert all(poems[i]["tags"] == [] for i in untagged)


def test_unknown_collection_lists_the_choices():
    with pytest.raises(ValueError, match="quantangshi.*tangshi300"):
        load_tang_poems("songci")


# --- five-character quatrains (五言绝句) --------------------------------------------------------


def test_a_five_character_quatrain_passes():
    assert is_five_character_quatrain(DENG_GUAN_QUE_LOU)
    assert is_five_character_quatrain(["君家何處住？妾住在橫塘。", "停船暫借問，或恐是同鄉。"])


@pytest.mark.parametrize(
    "lines",
    [
        ["黃砂直上白雲間，一片孤城萬仞山。", "羌笛何須怨楊柳，春風不度玉門關。"],  # 7 characters
        DENG_GUAN_QUE_LOU * 2,  # 8 lines: a 律诗, not a 绝句
        ["白日依山盡，黃河入海流。", "欲窮千里目。"],  # 3 lines
        ["白日依山盡，黃河入海流。", "欲窮千里目，更上一層樓"],  # no closing mark
        ["白日依山盡，黃河入海流。", "欲窮千里目，更上一層□。"],  # a lost character
        ["[白]日依山盡，黃河入海流。", "欲窮千里目，更上一層樓。"],  # an editor's bracket
        [],
    ],
)
def test_other_shapes_fail(lines):
    assert not is_five_character_quatrain(lines)


def test_the_rule_agrees_with_the_editors_form_tags():
    poems = load_tang_poems("tangshi300")
    tagged_wujue = [p for p in poems if "五言绝句" in p["tags"]]
    assert tagged_wujue and all(is_five_character_quatrain(p["paragraphs"]) for p in tagged_wujue)
    for other in ("七言绝句", "五言律诗", "七言律诗"):
        tagged = [p for p in poems if other in p["tags"]]
        assert tagged and not any(is_five_character_quatrain(p["paragraphs"]) for p in tagged)


@pytest.mark.parametrize("collection", ["tangshi300", "quantangshi"])
def test_wujue_text_has_one_quatrain_of_four_five_character_lines_per_line(collection):
    lines = tang_poems_text(collection, form="wujue").splitlines()
    assert len(lines) > 0
    for line in lines:
        assert len(line) == 4 * 6
        for i, ch in enumerate(line):
            assert (ch in "，。？！；") if i % 6 == 5 else ch.isalpha(), line


def test_poems_text_is_one_poem_per_line_as_in_the_file():
    text = tang_poems_text("tangshi300")
    raw = read_raw("tangshi300.json")
    assert text.endswith("\n")
    assert text.splitlines() == ["".join(p["paragraphs"]) for p in raw]


def test_unknown_form_lists_the_choices():
    with pytest.raises(ValueError, match="wujue"):
        tang_poems_text(form="qiyan")


# --- Vocab ------------------------------------------------------------------------------------


def test_encode_then_decode_is_the_identity_on_seen_text():
    text = load_tiny_shakespeare()
    vocab = Vocab(text)
    ids = vocab.encode(text)
    assert ids.dtype == torch.long and ids.shape == (len(text),)
    assert vocab.decode(ids) == text
    assert len(vocab) == 1 + len(set(text))


def test_unseen_characters_map_to_unk_and_decode_to_the_replacement():
    vocab = Vocab("hello")
    assert vocab.unk_index == 0 and vocab.itos[0] == "<unk>"
    assert vocab.encode("hez").tolist() == [vocab.stoi["h"], vocab.stoi["e"], 0]
    assert vocab.decode(vocab.encode("hez")) == "he" + UNK_REPLACEMENT == "he\ufffd"
    assert "z" not in vocab and "h" in vocab


def test_order_is_by_descending_count_then_code_point():
    assert Vocab("abbccc").itos == ["<unk>", "c", "b", "a"]
    assert Vocab("ba").itos == ["<unk>", "a", "b"]


def test_vocab_does_not_depend_on_the_order_of_the_text():
    text = load_tiny_shakespeare()[:20_000]
    shuffled = list(text)
    random.Random(0).shuffle(shuffled)
    counts = Counter(text)
    expected = ["<unk>", *sorted(counts, key=lambda ch: (-counts[ch], ord(ch)))]
    assert Vocab(text).itos == expected
    assert Vocab("".join(shuffled)).itos == expected


def test_vocab_from_text_takes_the_constructors_arguments():
    counts = Counter("aaabbc")
    expected = ["<pad>", "<unk>", *[ch for ch in "abc" if counts[ch] >= 2]]
    vocab = Vocab.from_text("aaabbc", min_freq=2, specials=("<pad>", "<unk>"))
    assert vocab.itos == expected and vocab.stoi == {ch: i for i, ch in enumerate(expected)}


def test_min_freq_sends_rare_characters_to_unk():
    vocab = Vocab("aaabbc", min_freq=2)
    assert vocab.itos == ["<unk>", "a", "b"]
    assert vocab.encode("c").tolist() == [vocab.unk_index]


def test_vocab_works_on_chinese_text():
    text = tang_poems_text("tangshi300")
    vocab = Vocab(text)
    assert "，" in vocab and "月" in vocab and "\n" in vocab
    assert vocab.decode(vocab.encode(text).tolist()) == text


def test_encode_of_empty_text_is_an_empty_long_tensor():
    ids = Vocab("abc").encode("")
    assert ids.shape == (0,) and ids.dtype == torch.long


def test_extra_specials_come_first():
    vocab = Vocab("ab", specials=("<pad>", "<unk>"))
    assert vocab.itos == ["<pad>", "<unk>", "a", "b"] and vocab.unk_index == 1


@pytest.mark.parametrize(
    "kwargs", [{"min_freq": 0}, {"specials": ("<pad>",)}, {"specials": ("<unk>", "<unk>")}]
)
def test_bad_vocab_arguments_are_refused(kwargs):
    with pytest.raises(ValueError):
        Vocab("abc", **kwargs)


@pytest.mark.parametrize("ids", [[4], [-1], torch.zeros(2, 2, dtype=torch.long)])
def test_decode_refuses_ids_outside_the_vocabulary_or_not_1d(ids):
    with pytest.raises(ValueError):
        Vocab("abc").decode(ids)


# --- split_text -------------------------------------------------------------------------------


def test_split_is_contiguous_and_sized_by_the_fractions():
    text = load_tiny_shakespeare()
    train, valid, test = split_text(text)
    assert train + valid + test == text
    assert abs(len(train) - 0.9 * len(text)) <= 1
    assert abs(len(valid) - 0.05 * len(text)) <= 2


def test_split_works_on_a_tensor_of_ids():
    train, valid, test = split_text(torch.arange(100), (0.8, 0.1, 0.1))
    assert torch.equal(torch.cat([train, valid, test]), torch.arange(100))
    assert (len(train), len(valid), len(test)) == (80, 10, 10)


@pytest.mark.parametrize(
    "fractions", [(0.9, 0.1), (0.9, 0.1, 0.0), (1.1, -0.05, -0.05), (0.5, 0.25, 0.2)]
)
def test_split_fractions_must_be_three_positive_numbers_summing_to_one(fractions):
    with pytest.raises(ValueError, match="fractions"):
        split_text("x" * 1000, fractions)


def test_split_refuses_a_text_too_short_to_give_three_parts():
    with pytest.raises(ValueError, match="too short"):
        split_text("abcdefghij")


# --- batchify ---------------------------------------------------------------------------------


def test_batchify_columns_are_contiguous_slices_and_the_remainder_is_dropped():
    ids = torch.arange(103)
    data = batchify(ids, 4)
    assert data.shape == (25, 4)
    for b in range(4):
        assert torch.equal(data[:, b], ids[b * 25 : (b + 1) * 25])
    assert 100 not in data and 102 not in data


@pytest.mark.parametrize(
    "ids, batch_size",
    [(torch.arange(12).view(3, 4), 2), (torch.arange(10), 0), (torch.arange(7), 4)],
)
def test_batchify_refuses_bad_input(ids, batch_size):
    with pytest.raises(ValueError):
        batchify(ids, batch_size)


# --- bptt_windows -----------------------------------------------------------------------------


def test_bptt_windows_cover_the_stream_once_with_a_shorter_last_window():
    data = batchify(torch.arange(100), 4)  # (25, 4): 24 input steps
    windows = list(bptt_windows(data, 7))
    assert [len(x) for x, _ in windows] == [7, 7, 7, 3] and num_windows(data, 7) == 4
    assert torch.equal(torch.cat([x for x, _ in windows]), data[:-1])
    assert torch.equal(torch.cat([y for _, y in windows]), data[1:])


def test_targets_are_the_next_step_within_and_across_windows():
    data = batchify(torch.arange(100), 4)
    windows = list(bptt_windows(data, 8))
    assert len(windows) == num_windows(data, 8) == 3
    for x, y in windows:
        assert x.shape == y.shape == (8, 4)
        assert torch.equal(y[:-1], x[1:])
    for (_, y_before), (x_after, _) in zip(windows, windows[1:], strict=False):
        assert torch.equal(x_after[0], y_before[-1])


@pytest.mark.parametrize("data, seq_len", [(torch.arange(10), 3), (torch.zeros(5, 2), 0)])
def test_bptt_windows_checks_its_arguments_when_called(data, seq_len):
    with pytest.raises(ValueError):
        bptt_windows(data, seq_len)  # not only once iterated


# --- random_windows ---------------------------------------------------------------------------


def test_random_windows_are_crops_with_next_step_targets():
    ids = torch.arange(1000)
    x, y = random_windows(ids, 16, 8, torch.Generator().manual_seed(0))
    assert x.shape == y.shape == (16, 8)
    assert torch.equal(y, x + 1)  # ids are positions: the target is the next position
    assert torch.equal(x[1:], x[:-1] + 1)  # each column is one contiguous crop


def test_random_windows_start_where_torch_randint_on_the_generator_says():
    # the documented draw: B offsets uniform in 0 .. L - T - 1, from the generator alone
    ids = torch.randint(0, 50, (5000,), generator=torch.Generator().manual_seed(1))
    torch.manual_seed(123)  # the global generator must not matter
    x, y = random_windows(ids, 32, 4, torch.Generator().manual_seed(7))
    starts = torch.randint(5000 - 32, (4,), generator=torch.Generator().manual_seed(7))
    for b, start in enumerate(starts.tolist()):
        assert torch.equal(x[:, b], ids[start : start + 32])
        assert torch.equal(y[:, b], ids[start + 1 : start + 33])


def test_random_windows_on_a_stream_of_exactly_seq_len_plus_one():
    x, y = random_windows(torch.arange(11), 10, 3, torch.Generator().manual_seed(0))
    assert torch.equal(x, torch.arange(10)[:, None].expand(10, 3))
    assert torch.equal(y, torch.arange(1, 11)[:, None].expand(10, 3))


def test_random_windows_refuses_a_stream_too_short():
    with pytest.raises(ValueError, match="seq_len \\+ 1"):
        random_windows(torch.arange(10), 10, 2, torch.Generator())
