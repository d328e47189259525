"""coursekit: the reference implementation behind the Sequence Models course.

Each module is one concept of the book, readable in a sitting; the public layers follow
torch's contracts (``coursekit.RNN`` loads ``torch.nn.RNN``'s ``state_dict``).
"""

from coursekit.bptt import (
    DERIVATIVE_BOUND,
    elman_backward,
    elman_forward,
    expected_truncation_length,
    gradient_norm_vs_distance,
    jacobian_norms,
    random_truncation_lengths,
    spectral_bound,
    step_jacobians,
    stream_train,
    truncated_bptt_gradients,
    truncated_bptt_step,
)
from coursekit.clipping import (
    clip_coefficient,
    clip_grad_norm_,
    clip_grad_value_,
    clip_grads_by_norm,
    gradient_descent_path,
    loss_surface,
    one_unit_rnn_loss,
    total_grad_norm,
)
from coursekit.device import default_device, seed_everything
from coursekit.gru import GRU, GRUCell, gru_cell_step, gru_forward, gru_forward_fast
from coursekit.lstm import (
    LSTM,
    LSTMCell,
    PeepholeLSTM,
    lstm_cell_step,
    lstm_forward,
    lstm_forward_fast,
    peephole_lstm_step,
)
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
from coursekit.tcn import TCN, TCNGRU, TCNLSTM, CausalConv1d, TemporalBlock

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
    # chapter 3: coursekit.bptt
    "DERIVATIVE_BOUND",
    "elman_backward",
    "elman_forward",
    "expected_truncation_length",
    "gradient_norm_vs_distance",
    "jacobian_norms",
    "random_truncation_lengths",
    "spectral_bound",
    "step_jacobians",
    "stream_train",
    "truncated_bptt_gradients",
    "truncated_bptt_step",
    # chapter 5: coursekit.clipping
    "clip_coefficient",
    "clip_grad_norm_",
    "clip_grad_value_",
    "clip_grads_by_norm",
    "gradient_descent_path",
    "loss_surface",
    "one_unit_rnn_loss",
    "total_grad_norm",
    # chapter 4: coursekit.lstm, coursekit.gru, coursekit.tcn
    "GRU",
    "LSTM",
    "TCN",
    "TCNGRU",
    "TCNLSTM",
    "CausalConv1d",
    "GRUCell",
    "LSTMCell",
    "PeepholeLSTM",
    "TemporalBlock",
    "gru_cell_step",
    "gru_forward",
    "gru_forward_fast",
    "lstm_cell_step",
    "lstm_forward",
    "lstm_forward_fast",
    "peephole_lstm_step",
]

__version__ = "0.1.0"
