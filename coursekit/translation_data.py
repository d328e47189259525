"""English-Chinese sentence pairs for the translation chapter (chapter 9): loading, cleaning,
tokens, the book's fixed split, vocabularies and length-bucketed batches.

Read in this order: :func:`load_cmn_eng` (the 23,610 pairs of ``coursekit/data/cmn-eng.tsv``,
each with its Tatoeba attribution), :func:`normalise_chinese` (the Chinese side mixes
simplified and traditional characters, 父亲 / 父親; OpenCC's ``t2s`` conversion writes it all
in simplified characters), the tokenisers :func:`tokenize_english` (words) and
:func:`tokenize_chinese` (characters), :func:`cmn_eng_split` (the fixed train/dev/test
split), :class:`TokenVocab` (tokens -> ids, with ``<pad>``, ``<bos>``, ``<eos>``, ``<unk>``),
and :func:`bucket_batches`, which groups pairs of similar length into padded batches with
masks. :func:`bleu_zh` scores translations with sacrebleu's ``zh`` tokeniser.

The numbers, for the shipped file with OpenCC 1.4.2 (pinned in requirements.txt):

- OpenCC changes the Chinese side of 11,061 of the 23,610 pairs (:data:`CMN_ENG_CHANGED`);
- the split (:data:`CMN_ENG_SPLIT_SIZES`): 21,251 train, 1,119 dev, 1,240 test pairs.

The split is by the English sentence, not by the pair: the sentence's tokens (lower-cased,
:func:`tokenize_english`) are hashed with SHA-256, and the hash modulo 20 sends the pair to
test (0), dev (1) or train (2-19). Tatoeba often gives one English sentence several Chinese
translations (``Hi.`` -> 嗨。 and 你好。); splitting by pair would put some of them in train and
the others in test, and the test score would reward remembering the training set. Hashing
the tokens, not the raw string, keeps ``Go away!`` and ``go away!`` together too. A hash needs
no random seed and gives every reader the same split; within a part, pairs keep file order.

Dimension glossary (batch first, as the attention layers take them):

    B  pairs in a batch             S  longest source sentence in the batch (English words)
    T  longest target in the batch, plus one (the ``<bos>`` of the decoder's input and the
       ``<eos>`` of its target)

Tests: tests/test_translation_data.py (the file's own facts, an independent count of the
normalised pairs, disjoint split parts, round trips, masks compared with the lengths).
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import NamedTuple

import torch

from coursekit._checks import check_positive_int
from coursekit.data import DATA_DIR

__all__ = [
    "BOS",
    "CMN_ENG_CHANGED",
    "CMN_ENG_SPLIT_SIZES",
    "EOS",
    "PAD",
    "SPECIALS",
    "UNK",
    "TokenVocab",
    "TranslationBatch",
    "TranslationPair",
    "bleu_zh",
    "bucket_batches",
    "cmn_eng_part",
    "cmn_eng_split",
    "collate",
    "detokenize_chinese",
    "detokenize_english",
    "encode_pairs",
    "load_cmn_eng",
    "normalise_chinese",
    "to_simplified",
    "tokenize_chinese",
    "tokenize_english",
]

CMN_ENG_FILE = DATA_DIR / "cmn-eng.tsv"
CMN_ENG_PAIRS = 23_610
CMN_ENG_CHANGED = 11_061  # pairs whose Chinese side OpenCC 1.4.2's t2s changes
CMN_ENG_SPLIT_SIZES = {"train": 21_251, "dev": 1_119, "test": 1_240}
OPENCC_CONFIG = "t2s"  # traditional -> simplified, characters and phrases (OpenCC's t2s.json)

PAD, BOS, EOS, UNK = "<pad>", "<bos>", "<eos>", "<unk>"
SPECIALS = (PAD, BOS, EOS, UNK)  # ids 0, 1, 2, 3 in every TokenVocab


class TranslationPair(NamedTuple):
    """One line of cmn-eng.tsv: the English sentence, its Chinese translation, and the
    attribution Tatoeba's licence (CC-BY 2.0 France) asks us to keep with it."""

    english: str
    chinese: str
    attribution: str


def load_cmn_eng() -> list[TranslationPair]:
    """The 23,610 pairs of ``coursekit/data/cmn-eng.tsv`` in file order, exactly as written
    (traditional characters included; see :func:`normalise_chinese`).

    The file is manythings.org's Anki export of the Tatoeba project (2020-08-23), one pair a
    line: ``english<TAB>chinese<TAB>attribution``; ``coursekit/data/README.md`` and
    ``cmn-eng.about.txt`` give its terms. Sentences run from one word (``Hi.``) to 32.
    """
    pairs = []
    for line in CMN_ENG_FILE.read_text(encoding="utf-8").splitlines():
        english, chinese, attribution = line.split("\t")
        pairs.append(TranslationPair(english, chinese, attribution))
    return pairs


# ---------------------------------------------------------------------------------------------
# Simplified characters, and tokens.


def to_simplified(text: str) -> str:
    """Chinese text in simplified characters: OpenCC's ``t2s`` conversion (父親 -> 父亲).

    OpenCC converts by phrases first and then by characters, so it picks the right simplified
    form where one traditional character has several (乾杯 -> 干杯, 乾淨 -> 干净). Text already
    simplified, Latin letters and punctuation pass unchanged. opencc is imported here, not at
    the top of the module: ``import coursekit`` does not need it.
    """
    import opencc  # the package "opencc" on PyPI (requirements.txt)

    return _converter(opencc).convert(text)


_CONVERTERS: dict = {}


def _converter(opencc):
    if OPENCC_CONFIG not in _CONVERTERS:
        _CONVERTERS[OPENCC_CONFIG] = opencc.OpenCC(OPENCC_CONFIG)
    return _CONVERTERS[OPENCC_CONFIG]


def normalise_chinese(pairs: Iterable[TranslationPair]) -> tuple[list[TranslationPair], int]:
    """Every pair with its Chinese side in simplified characters (:func:`to_simplified`),
    and how many pairs that changed (11,061 of the 23,610 shipped ones).

    Done before the vocabulary is built: otherwise 親 and 亲 would be two tokens for one
    character, and a model would be marked wrong for writing either.
    """
    normalised, changed = [], 0
    for pair in pairs:
        simplified = to_simplified(pair.chinese)
        changed += simplified != pair.chinese
        normalised.append(pair._replace(chinese=simplified))
    return normalised, changed


# Numbers with their separators (3:30, 10,000, 10.00), then words with their apostrophes
# (i'm, don't, tom's), then any other non-space character alone (. , ! ? " $ % -).
ENGLISH_TOKEN = re.compile(r"\d+(?:[.,:]\d+)*|\w+(?:'\w+)*|[^\w\s]")


def tokenize_english(sentence: str) -> list[str]:
    """English words: lower-case, then numbers, words (with their apostrophes) and every other
    mark as its own token. ``"I'm 17, too."`` -> ``["i'm", "17", ",", "too", "."]``.

    Contractions stay whole (``don't``, ``tom's``), so the vocabulary has ``don't`` rather
    than ``do`` + ``n't``; numbers keep their separators (``3:30``, ``10,000``). Whitespace
    separates tokens and is dropped.
    """
    return ENGLISH_TOKEN.findall(sentence.lower())


def tokenize_chinese(sentence: str) -> list[str]:
    """Chinese characters: one token per character, whitespace (and the zero-width space
    U+200B some lines hold) dropped. ``"他是一个 DJ 。"`` -> ``["他", "是", "一", "个", "D", "J",
    "。"]``: Latin letters inside the Chinese side are characters too.

    Chinese has no spaces between words, and segmenting it into words is a problem of its
    own; characters avoid it and keep the vocabulary small (about 2,500 characters).
    """
    return [ch for ch in sentence if not ch.isspace() and ch != "\u200b"]


def detokenize_chinese(tokens: Iterable[str]) -> str:
    """Characters -> the sentence: joined without spaces (what :func:`bleu_zh` scores)."""
    return "".join(tokens)


def detokenize_english(tokens: Iterable[str]) -> str:
    """Words -> one line with a space between tokens (a display form, not the original)."""
    return " ".join(tokens)


# ---------------------------------------------------------------------------------------------
# The book's fixed split.

SPLIT_BUCKETS = 20  # hash % 20: 0 -> test, 1 -> dev, 2..19 -> train (5 %, 5 %, 90 %)


def cmn_eng_part(english: str) -> str:
    """Where an English sentence goes: ``"test"``, ``"dev"`` or ``"train"``, from the SHA-256
    of its tokens (:func:`tokenize_english`, joined by spaces) modulo 20: 0, 1, or 2-19."""
    key = " ".join(tokenize_english(english)).encode("utf-8")
    bucket = int.from_bytes(hashlib.sha256(key).digest()[:8], "big") % SPLIT_BUCKETS
    return "test" if bucket == 0 else "dev" if bucket == 1 else "train"


def cmn_eng_split(normalise: bool = True) -> dict[str, list[TranslationPair]]:
    """The book's split: ``{"train", "dev", "test"}`` -> pairs in file order, 21,251 / 1,119 /
    1,240, every English sentence (and so all its translations) in one part only
    (:func:`cmn_eng_part`). ``normalise=True`` (the default) converts the Chinese side to
    simplified characters first (:func:`normalise_chinese`).
    """
    pairs = load_cmn_eng()
    if normalise:
        pairs, _ = normalise_chinese(pairs)
    split: dict[str, list[TranslationPair]] = {"train": [], "dev": [], "test": []}
    for pair in pairs:
        split[cmn_eng_part(pair.english)].append(pair)
    return split


# ---------------------------------------------------------------------------------------------
# Vocabularies and batches.


class TokenVocab:
    """A token vocabulary for sequence-to-sequence models: ``<pad>`` (0), ``<bos>`` (1),
    ``<eos>`` (2), ``<unk>`` (3), then every token seen at least ``min_count`` times in
    ``sentences`` (lists of tokens), by descending count, then by code point (deterministic).

    Build it on the training part only: a token seen only in dev or test is unknown.
    :meth:`encode` never fails (unseen tokens become ``unk_index``); :meth:`decode` stops
    at the first ``<eos>`` and drops ``<pad>`` and ``<bos>``.
    """

    def __init__(self, sentences: Iterable[Sequence[str]], min_count: int = 1):
        check_positive_int(min_count=min_count)
        counts = Counter(token for sentence in sentences for token in sentence)
        kept = [t for t, n in counts.items() if n >= min_count and t not in SPECIALS]
        self.itos: list[str] = list(SPECIALS) + sorted(kept, key=lambda t: (-counts[t], t))
        self.stoi: dict[str, int] = {t: i for i, t in enumerate(self.itos)}
        self.pad_index, self.bos_index, self.eos_index, self.unk_index = range(4)
        self.min_count = min_count

    def __len__(self) -> int:
        return len(self.itos)

    def __contains__(self, token: str) -> bool:
        return token in self.stoi

    def __repr__(self) -> str:
        return f"TokenVocab(size={len(self)}, min_count={self.min_count})"

    def encode(self, tokens: Sequence[str], bos: bool = False, eos: bool = False) -> torch.Tensor:
        """L tokens -> LongTensor (L,), with ``<bos>`` in front and ``<eos>`` behind if asked."""
        ids = [self.stoi.get(t, self.unk_index) for t in tokens]
        return torch.tensor([self.bos_index] * bos + ids + [self.eos_index] * eos, dtype=torch.long)

    def decode(self, ids: Iterable[int] | torch.Tensor) -> list[str]:
        """Ids -> tokens, up to (not including) the first ``<eos>``; ``<pad>``, ``<bos>`` dropped."""
        if isinstance(ids, torch.Tensor):
            ids = ids.reshape(-1).tolist()
        tokens = []
        for i in ids:
            if not 0 <= i < len(self):
                raise ValueError(f"ids must lie in 0..{len(self) - 1} (the vocabulary); got {i}")
            if i == self.eos_index:
                break
            if i not in (self.pad_index, self.bos_index):
                tokens.append(self.itos[i])
        return tokens


def encode_pairs(
    pairs: Iterable[TranslationPair], source_vocab: TokenVocab, target_vocab: TokenVocab
) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Pairs -> ``(source ids (S_b,), target ids (T_b,))``: English words and Chinese
    characters, without ``<bos>``/``<eos>`` (:func:`collate` adds them)."""
    return [
        (
            source_vocab.encode(tokenize_english(p.english)),
            target_vocab.encode(tokenize_chinese(p.chinese)),
        )
        for p in pairs
    ]


class TranslationBatch(NamedTuple):
    """A padded batch, batch first. ``src (B, S)`` padded with ``<pad>``, ``src_lengths (B,)``
    and ``src_mask (B, S)`` (True on real words); ``tgt_in (B, T)`` = ``<bos>`` y_1 .. y_n
    and ``tgt_out (B, T)`` = y_1 .. y_n ``<eos>`` (the decoder reads tgt_in and is scored on
    tgt_out, one step ahead), ``tgt_mask (B, T)`` True on the n + 1 scored places;
    ``index (B,)`` the pairs' positions in the list the batch was cut from."""

    src: torch.Tensor
    src_lengths: torch.Tensor
    src_mask: torch.Tensor
    tgt_in: torch.Tensor
    tgt_out: torch.Tensor
    tgt_mask: torch.Tensor
    index: torch.Tensor


def _pad(sequences: Sequence[torch.Tensor], pad_index: int) -> tuple[torch.Tensor, torch.Tensor]:
    lengths = torch.tensor([len(s) for s in sequences])  # (B,)
    ids = torch.full((len(sequences), int(lengths.max())), pad_index, dtype=torch.long)
    for b, s in enumerate(sequences):
        ids[b, : len(s)] = s
    return ids, lengths


def collate(
    examples: Sequence[tuple[torch.Tensor, torch.Tensor]],
    index: Sequence[int],
    pad_index: int = 0,
    bos_index: int = 1,
    eos_index: int = 2,
) -> TranslationBatch:
    """The examples at ``index`` (source and target ids, as :func:`encode_pairs` gives them)
    as one :class:`TranslationBatch`. Every source must have at least one token."""
    if len(index) == 0:
        raise ValueError("collate needs at least one example; got an empty index")
    sources = [examples[i][0] for i in index]
    if min(len(s) for s in sources) == 0:
        raise ValueError("every source sentence needs at least one token; got an empty one")
    bos, eos = torch.tensor([bos_index]), torch.tensor([eos_index])
    src, src_lengths = _pad(sources, pad_index)  # (B, S), (B,)
    tgt_in, tgt_lengths = _pad([torch.cat([bos, examples[i][1]]) for i in index], pad_index)
    tgt_out, _ = _pad([torch.cat([examples[i][1], eos]) for i in index], pad_index)  # (B, T)
    src_mask = torch.arange(src.shape[1]) < src_lengths[:, None]  # (B, S)
    tgt_mask = torch.arange(tgt_in.shape[1]) < tgt_lengths[:, None]  # (B, T)
    return TranslationBatch(
        src, src_lengths, src_mask, tgt_in, tgt_out, tgt_mask, torch.tensor(list(index))
    )


def bucket_batches(
    examples: Sequence[tuple[torch.Tensor, torch.Tensor]],
    batch_size: int,
    generator: torch.Generator | None = None,
    pool_batches: int = 50,
    pad_index: int = 0,
    bos_index: int = 1,
    eos_index: int = 2,
) -> list[TranslationBatch]:
    """Batches of pairs of similar length, so that little of each batch is padding.

    Without ``generator`` (evaluation): the examples sorted by (source length, target
    length, position) and cut into batches of ``batch_size`` in that order; ``batch.index``
    maps the rows back to the examples. With a seeded ``generator`` (one training epoch):
    the examples are shuffled, cut into pools of ``pool_batches * batch_size``, each pool
    sorted by length and cut into batches, and the batches shuffled, so the epoch's order is
    random while each batch is still short of padding. Every example lands in exactly one
    batch; only the last batch of a pool may be smaller.
    """
    check_positive_int(batch_size=batch_size, pool_batches=pool_batches)
    if len(examples) == 0:
        raise ValueError("bucket_batches needs at least one example; got none")

    def by_length(i: int):
        return len(examples[i][0]), len(examples[i][1]), i

    if generator is None:
        pools = [sorted(range(len(examples)), key=by_length)]
    else:
        order = torch.randperm(len(examples), generator=generator).tolist()
        size = pool_batches * batch_size
        pools = [sorted(order[k : k + size], key=by_length) for k in range(0, len(order), size)]
    cuts = [pool[k : k + batch_size] for pool in pools for k in range(0, len(pool), batch_size)]
    if generator is not None:
        cuts = [cuts[k] for k in torch.randperm(len(cuts), generator=generator).tolist()]
    return [collate(examples, cut, pad_index, bos_index, eos_index) for cut in cuts]


def bleu_zh(hypotheses: Sequence[str], references: Sequence[str]) -> float:
    """Corpus BLEU (0-100) of Chinese sentences with one reference each: sacrebleu's
    ``corpus_bleu`` with ``tokenize="zh"`` (every Chinese character a token, runs of Latin
    letters and digits as words), its default smoothing and brevity penalty."""
    import sacrebleu  # imported here: ``import coursekit`` does not need it

    if len(hypotheses) != len(references):
        raise ValueError(
            f"hypotheses and references must pair up; got {len(hypotheses)} and {len(references)}"
        )
    return sacrebleu.corpus_bleu(list(hypotheses), [list(references)], tokenize="zh").score
