"""Corpora, a character vocabulary, and the batching that turns a text into training windows.

Read in this order: the loaders (:func:`load_tiny_shakespeare`, :func:`load_tang_poems`,
:func:`tang_poems_text`, and the sentiment sentences :func:`load_rt_polarity` with the book's
fixed split :func:`rt_polarity_split`), then :class:`Vocab` (text -> ids), then :func:`batchify` and
:func:`bptt_windows`, which cut one long stream of ids into the ``(x, y)`` windows that
truncated backpropagation through time trains on. :func:`random_windows` is the quick
alternative: random crops of the stream.

The corpora live in the folder ``coursekit/data/``, which ships with the package; its
``README.md`` names every file's source and licence. Nothing is downloaded.

Dimensions:
    L   length of a stream of ids (one id per character)
    B   batch size: the number of parallel streams, one per column
    N   steps per stream after :func:`batchify`, ``L // B``
    T   window length in time, ``seq_len`` (the last BPTT window may be shorter)
    V   vocabulary size, ``len(vocab)``
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path

import torch

from coursekit._checks import check_positive_int

__all__ = [
    "DATA_DIR",
    "UNK",
    "UNK_REPLACEMENT",
    "Vocab",
    "batchify",
    "bptt_windows",
    "is_five_character_quatrain",
    "load_rt_polarity",
    "load_tang_poems",
    "load_tiny_shakespeare",
    "mackey_glass",
    "num_windows",
    "random_windows",
    "rt_polarity_split",
    "split_text",
    "tang_poems_text",
    "tokenize",
]

# A folder, not a package (it has no __init__.py): `import coursekit.data` finds this module.
DATA_DIR = Path(__file__).with_name("data")
TANG_COLLECTIONS = {
    "tangshi300": ("tangshi300.json",),  # 唐诗三百首, 366 entries
    "quantangshi": tuple(f"poet.tang.{k}.json" for k in range(0, 5000, 1000)),  # 全唐诗, 5,003
}
TANG_FORMS = (None, "wujue")
CLAUSE_MARKS = "，。？！；"  # the marks that end a line of verse in the Tang files
UNK = "<unk>"
UNK_REPLACEMENT = "\ufffd"  # "�", what Vocab.decode shows for the unknown id


def load_tiny_shakespeare() -> str:
    """The Tiny Shakespeare corpus (karpathy/char-rnn) as one string of 1,115,394 characters."""
    return (DATA_DIR / "tinyshakespeare.txt").read_text(encoding="utf-8")


def load_tang_poems(collection: str = "tangshi300") -> list[dict]:
    """Tang poems from chinese-poetry, in traditional characters, in file order.

    ``collection`` is ``"tangshi300"`` (唐诗三百首, 366 entries, some poems in two versions)
    or ``"quantangshi"`` (the first five files of 全唐诗, 5,003 poems). Each poem is a dict
    with ``author``, ``title``, ``paragraphs`` (list of lines, usually one couplet each,
    punctuation included) and ``tags`` (``[]`` where the file has none).
    """
    if collection not in TANG_COLLECTIONS:
        raise ValueError(
            f"collection must be one of {sorted(TANG_COLLECTIONS)}; got {collection!r}"
        )
    poems = []
    for name in TANG_COLLECTIONS[collection]:
        with open(DATA_DIR / "tang" / name, encoding="utf-8") as file:
            for poem in json.load(file):
                record = {key: poem[key] for key in ("author", "title", "paragraphs")}
                poems.append(record | {"tags": poem.get("tags") or []})  # often null in 全唐诗
    return poems


def is_five_character_quatrain(paragraphs: Iterable[str]) -> bool:
    """Whether a poem is a five-character quatrain (五言绝句, "wujue") by its shape alone.

    The rule: join the lines; the poem must end with a clause mark (，。？！；) and the marks
    must cut it into exactly 4 clauses of exactly 5 characters, every one a letter
    (``str.isalpha``: Chinese characters pass; ``□`` for a lost character and the brackets
    of an editor's ``[字]`` do not). So ``["白日依山盡，黃河入海流。", "欲窮千里目，更上一層樓。"]``
    passes and a 7-character or an 8-line poem fails. Tonal rules are not checked.
    """
    poem = "".join(paragraphs)
    if not poem or poem[-1] not in CLAUSE_MARKS:
        return False
    clauses = re.split(f"[{CLAUSE_MARKS}]", poem[:-1])
    return len(clauses) == 4 and all(len(c) == 5 and c.isalpha() for c in clauses)


def tang_poems_text(collection: str = "tangshi300", form: str | None = None) -> str:
    """The poems of ``collection`` as one text: each poem's lines joined, then ``"\\n"``.

    ``form=None`` keeps every poem; ``form="wujue"`` keeps the five-character quatrains
    (:func:`is_five_character_quatrain`). Characters are kept exactly as in the files.
    """
    if form not in TANG_FORMS:
        raise ValueError(f"form must be one of {TANG_FORMS}; got {form!r}")
    poems = [p["paragraphs"] for p in load_tang_poems(collection)]
    if form == "wujue":
        poems = [p for p in poems if is_five_character_quatrain(p)]
    return "".join("".join(p) + "\n" for p in poems)


class Vocab:
    """A character-level vocabulary: ``itos`` (id -> string) and ``stoi`` (string -> id).

    The specials come first (by default only ``"<unk>"``, id 0), then every character seen
    at least ``min_freq`` times, by descending count and then by code point, so the same
    text, in any order, gives the same ids. Encoding never fails: characters not in the
    vocabulary map to ``unk_index``; decoding shows that id as ``"\\ufffd"`` ("�").
    """

    def __init__(self, text: str, min_freq: int = 1, specials: tuple[str, ...] = (UNK,)):
        if not isinstance(text, str):
            raise TypeError(f"text must be a str; got {type(text).__name__}")
        check_positive_int(min_freq=min_freq)
        if UNK not in specials or len(set(specials)) != len(specials):
            raise ValueError(
                f"specials must contain {UNK!r} once, without repeats; got {specials!r}"
            )
        counts = Counter(text)
        kept = [ch for ch, n in counts.items() if n >= min_freq and ch not in specials]
        self.itos: list[str] = list(specials) + sorted(kept, key=lambda ch: (-counts[ch], ch))
        self.stoi: dict[str, int] = {s: i for i, s in enumerate(self.itos)}
        self.unk_index: int = self.stoi[UNK]
        self._shown = [UNK_REPLACEMENT if s == UNK else s for s in self.itos]

    @classmethod
    def from_text(cls, text: str, min_freq: int = 1, specials: tuple[str, ...] = (UNK,)) -> Vocab:
        """The same as ``Vocab(text, min_freq, specials)``."""
        return cls(text, min_freq=min_freq, specials=specials)

    def __len__(self) -> int:
        return len(self.itos)

    def __contains__(self, token: str) -> bool:
        return token in self.stoi

    def __repr__(self) -> str:
        return f"Vocab(size={len(self)}, unk_index={self.unk_index})"

    def encode(self, text: str) -> torch.Tensor:
        """``str`` of length L -> LongTensor ``(L,)``; unseen characters become ``unk_index``."""
        return torch.tensor([self.stoi.get(ch, self.unk_index) for ch in text], dtype=torch.long)

    def decode(self, ids: Iterable[int] | torch.Tensor) -> str:
        """Ids (a 1-D tensor or any iterable of ints) -> ``str``; ``unk_index`` shows as "�"."""
        if isinstance(ids, torch.Tensor):
            if ids.dim() > 1:
                raise ValueError(f"ids must be a 1-D tensor (L,); got shape {tuple(ids.shape)}")
            ids = ids.reshape(-1).tolist()  # a 0-d tensor becomes a one-element list
        pieces = []
        for i in ids:
            if not 0 <= i < len(self):
                raise ValueError(f"ids must lie in 0..{len(self) - 1} (the vocabulary); got {i}")
            pieces.append(self._shown[i])
        return "".join(pieces)


def split_text(text, fractions: tuple[float, float, float] = (0.9, 0.05, 0.05)):
    """Cut ``text`` (a str, or a 1-D tensor of ids) into contiguous (train, valid, test).

    The first part has ``int(L * fractions[0])`` items, the first two together
    ``int(L * (fractions[0] + fractions[1]))``, the test part the rest. Contiguous, not
    shuffled: a language model must be judged on text it has not seen nearby.
    """
    fractions = tuple(fractions)
    if len(fractions) != 3 or not all(f > 0 for f in fractions):
        raise ValueError(
            f"fractions must be 3 positive numbers (train, valid, test); got {fractions}"
        )
    if not math.isclose(sum(fractions), 1.0, abs_tol=1e-9):
        raise ValueError(f"fractions must sum to 1; got {fractions}, which sum to {sum(fractions)}")
    end_train = int(len(text) * fractions[0])
    end_valid = int(len(text) * (fractions[0] + fractions[1]))
    parts = (text[:end_train], text[end_train:end_valid], text[end_valid:])
    if min(len(p) for p in parts) == 0:
        raise ValueError(f"text of length {len(text)} is too short to split by {fractions}")
    return parts


def batchify(ids: torch.Tensor, batch_size: int) -> torch.Tensor:
    """``(L,)`` -> ``(N, B)`` with ``N = L // B``: column b is the contiguous ``ids[b*N:(b+1)*N]``.

    The layout of PyTorch's word_language_model example (time first, ``batch_first=False``);
    the last ``L % B`` ids are dropped. Needs ``N >= 2``: one input and one target step.
    """
    ids = torch.as_tensor(ids)
    if ids.dim() != 1:
        raise ValueError(f"ids must be 1-D (L,); got shape {tuple(ids.shape)}")
    check_positive_int(batch_size=batch_size)
    steps = len(ids) // batch_size  # N
    if steps < 2:
        raise ValueError(
            f"batchify needs at least 2 * batch_size = {2 * batch_size} ids; got {len(ids)}"
        )
    return ids[: steps * batch_size].view(batch_size, steps).t().contiguous()  # (B, N) -> (N, B)


def num_windows(data: torch.Tensor, seq_len: int) -> int:
    """How many windows :func:`bptt_windows` yields: ``ceil((N - 1) / seq_len)``."""
    if data.dim() != 2:
        raise ValueError(
            f"data must be 2-D (N, B), as batchify returns; got shape {tuple(data.shape)}"
        )
    check_positive_int(seq_len=seq_len)
    return max(0, math.ceil((data.shape[0] - 1) / seq_len))


def bptt_windows(data: torch.Tensor, seq_len: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Walk ``data (N, B)`` in time: windows ``x (T, B)`` and targets ``y = data`` one step later.

    Window k starts at row ``k * seq_len``; ``y[t] == data[start + t + 1]``, so the targets
    of one window run on into the inputs of the next, and the hidden state can be carried
    across (truncated BPTT). The last window is shorter when ``seq_len`` does not divide
    ``N - 1``. The windows are views of ``data`` (no copies). Arguments are checked at call.
    """
    count = num_windows(data, seq_len)
    return _windows(data, seq_len, count)


def _windows(data: torch.Tensor, seq_len: int, count: int):
    for k in range(count):
        start = k * seq_len
        length = min(seq_len, data.shape[0] - 1 - start)  # T
        yield data[start : start + length], data[start + 1 : start + 1 + length]  # (T, B) each


def random_windows(
    ids: torch.Tensor, seq_len: int, batch_size: int, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """B random crops of the stream ``ids (L,)``: ``x (T, B)`` and the next-step targets ``y (T, B)``.

    Each column starts at a uniform random offset in ``0 .. L - T - 1`` drawn from
    ``generator``, so a seeded generator gives the same batch every time.
    """
    ids = torch.as_tensor(ids)
    if ids.dim() != 1:
        raise ValueError(f"ids must be 1-D (L,); got shape {tuple(ids.shape)}")
    check_positive_int(seq_len=seq_len)
    check_positive_int(batch_size=batch_size)
    if len(ids) < seq_len + 1:
        raise ValueError(
            f"random_windows needs at least seq_len + 1 = {seq_len + 1} ids; got {len(ids)}"
        )
    starts = torch.randint(
        len(ids) - seq_len, (batch_size,), generator=generator, device=generator.device
    )  # (B,)
    offsets = torch.arange(seq_len, device=starts.device)[:, None] + starts  # (T, B)
    offsets = offsets.to(ids.device)  # the generator may live on another device than ids
    return ids[offsets], ids[offsets + 1]


def tokenize(sentence: str) -> list[str]:
    """rt-polarity is lower-cased and tokenised already: split on whitespace."""
    return sentence.split()


# ---------------------------------------------------------------------------------------------
# The sentiment data: rt-polarity (Pang and Lee 2005).

RT_POLARITY_FILES = (("rt-polarity.neg", 0), ("rt-polarity.pos", 1))


def load_rt_polarity() -> list[tuple[str, int]]:
    """The 10,662 sentences of rt-polarity v1.0 as ``(sentence, label)``, label 0 negative and
    1 positive: first the 5,331 negative sentences in file order, then the 5,331 positive.

    Sentences are lower-cased and tokenised already (:func:`tokenize` splits on whitespace);
    the surrounding whitespace is stripped.
    """
    examples = []
    for name, label in RT_POLARITY_FILES:
        text = (DATA_DIR / "rt-polarity" / name).read_text(encoding="utf-8")
        examples.extend((line.strip(), label) for line in text.splitlines())
    return examples


def rt_polarity_split() -> dict[str, list[tuple[list[str], int]]]:
    """The book's fixed split of rt-polarity: ``{"train", "dev", "test"}`` -> ``[(tokens, label)]``.

    Within each file (negative, positive), the sentence on line i (0-based) goes to test when
    ``i % 10 == 0``, to dev when ``i % 10 == 1``, and to train otherwise: 1,068 test, 1,066
    dev and 8,528 train sentences, both classes equally often in each part. No randomness,
    so every reader gets the same split. (rt-polarity has no official split; papers usually
    report 10-fold cross-validation.)
    """
    split: dict[str, list[tuple[list[str], int]]] = {"train": [], "dev": [], "test": []}
    line_in_file: Counter = Counter()
    for sentence, label in load_rt_polarity():
        i = line_in_file[label]
        line_in_file[label] += 1
        part = "test" if i % 10 == 0 else "dev" if i % 10 == 1 else "train"
        split[part].append((tokenize(sentence), label))
    return split


def mackey_glass(
    length: int,
    *,
    tau: float = 17.0,
    a: float = 0.2,
    b: float = 0.1,
    n: float = 10.0,
    x0: float = 1.2,
    dt: float = 0.1,
    sample_every: float = 1.0,
) -> torch.Tensor:
    """The Mackey-Glass series (chapter 11): ``length`` samples, float64, ``(length,)``.

    dx/dt = a x(t - τ) / (1 + x(t - τ)^n) - b x(t), with x(t) = x0 for t <= 0 (τ = 17 is
    chaotic), integrated by the classical Runge-Kutta method with step ``dt`` (τ and
    ``sample_every`` must be multiples of it) and sampled every ``sample_every`` time units,
    from t = 0. The delayed value at a half step comes from the cubic Hermite interpolant of
    the two neighbouring grid points and their derivatives, which keeps the scheme of fourth
    order (tests/test_data.py checks the order and compares with a much finer step).
    """
    check_positive_int(length=length)
    delay, every = round(tau / dt), round(sample_every / dt)
    if abs(delay * dt - tau) > 1e-9 * tau or abs(every * dt - sample_every) > 1e-9:
        raise ValueError(
            f"tau and sample_every must be multiples of dt; got {tau}, {sample_every}, {dt}"
        )

    def feedback(lagged: float) -> float:
        return a * lagged / (1 + lagged**n)

    xs, slopes = [x0], [0.0]  # the grid values and dx/dt there; slope 0 on the flat history
    for i in range((length - 1) * every):
        j = i - delay  # the grid index of t - τ
        lag0, lag1 = (xs[j], xs[j + 1]) if j >= 0 else (x0, x0 if j + 1 < 0 else xs[0])
        d0 = slopes[j] if j >= 0 else 0.0
        d1 = slopes[j + 1] if j + 1 > 0 else 0.0  # the history is flat up to t = 0
        half = (lag0 + lag1) / 2 + dt * (d0 - d1) / 8  # Hermite interpolant at t - τ + dt/2
        x = xs[i]
        k1 = feedback(lag0) - b * x
        k2 = feedback(half) - b * (x + dt / 2 * k1)
        k3 = feedback(half) - b * (x + dt / 2 * k2)
        k4 = feedback(lag1) - b * (x + dt * k3)
        x_next = x + dt / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
        slopes[i] = k1
        xs.append(x_next)
        slopes.append(0.0)
    return torch.tensor(xs[::every], dtype=torch.float64)
