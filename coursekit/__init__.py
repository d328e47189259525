"""coursekit: the reference implementation behind the Sequence Models course.

Each module is one concept of the book, readable in a sitting; the public layers follow
torch's contracts (``coursekit.RNN`` loads ``torch.nn.RNN``'s ``state_dict``).
"""

from coursekit.device import default_device, seed_everything
from coursekit.rnn import (
    RNN,
    CharRNN,
    ElmanRNN,
    JordanRNN,
    ManyToMany,
    ManyToOne,
    OneToMany,
    RNNCell,
    bidirectional_rnn_forward,
    jordan_step,
    rnn_cell_step,
    rnn_forward,
)

__all__ = [
    "RNN",
    "CharRNN",
    "ElmanRNN",
    "JordanRNN",
    "ManyToMany",
    "ManyToOne",
    "OneToMany",
    "RNNCell",
    "bidirectional_rnn_forward",
    "default_device",
    "jordan_step",
    "rnn_cell_step",
    "rnn_forward",
    "seed_everything",
]

__version__ = "0.1.0"
