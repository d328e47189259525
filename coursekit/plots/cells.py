"""Cell diagrams (chapter 4): the LSTM, the GRU and the highway layer as tables of nodes and edges."""

from __future__ import annotations

from matplotlib import patches as mpatches

__all__ = [
    "draw_gru_cell",
    "draw_highway_layer",
    "draw_lstm_cell",
]

# ---------------------------------------------------------------------------------------------
# Cell diagrams (chapter 4). A node is (kind, x, y, label); an edge is (source, target, via),
# drawn as straight segments through the points ``via`` with an arrowhead at the target.

_GATE_COLOURS = {"sigmoid": ("#fce5cd", "#e69138"), "tanh": ("#dae8fc", "#4a76b8")}


def _node_patch(kind: str, xy: tuple[float, float]) -> mpatches.Patch:
    """The patch a node is drawn as; edges are clipped at its outline."""
    if kind in _GATE_COLOURS:  # a layer with weights: W x + U h + b, then the nonlinearity
        face, edge = _GATE_COLOURS[kind]
        return mpatches.FancyBboxPatch(
            (xy[0] - 0.45, xy[1] - 0.42), 0.9, 0.84, boxstyle="round,pad=0.02", fc=face, ec=edge
        )
    if kind == "fn":  # an elementwise function without weights, drawn on a line
        return mpatches.FancyBboxPatch(
            (xy[0] - 0.36, xy[1] - 0.2), 0.72, 0.4, boxstyle="round,pad=0.05", fc="white", ec="k"
        )
    if kind == "op":  # an elementwise product, sum or 1 - z
        return mpatches.Circle(xy, 0.26, fc="white", ec="k")
    # "io": a named input or output; "dot": a junction; "label": a note beside an edge
    radius = 0.3 if kind == "io" else 0.001
    return mpatches.Circle(xy, radius, fc="none", ec="none")


def _draw_diagram(nodes: dict, edges: list, title: str, ax=None, figsize=(7.0, 3.4)):
    """Draw ``nodes`` {name: (kind, x, y, label)} joined by ``edges`` [(source, target, via)].

    Returns the figure. An edge into a "dot" has no arrowhead (it is a line that branches).
    """
    import matplotlib.pyplot as plt

    if ax is None:
        fig, ax = plt.subplots(figsize=figsize)
    fig = ax.figure
    patches = {}
    for name, (kind, x, y, label) in nodes.items():
        patch = patches[name] = _node_patch(kind, (x, y))
        ax.add_patch(patch)
        patch.set_zorder(2)
        if label:
            size = {"io": 11, "op": 9 if len(label) > 1 else 11, "label": 9}.get(kind, 10)
            ax.text(x, y, label, ha="center", va="center", fontsize=size, zorder=3)
    for source, target, via in edges:
        points = [nodes[source][1:3], *via, nodes[target][1:3]]
        for k, (start, end) in enumerate(zip(points[:-1], points[1:], strict=True)):
            last = k == len(points) - 2
            arrow = mpatches.FancyArrowPatch(
                start,
                end,
                patchA=patches[source] if k == 0 else None,
                patchB=patches[target] if last else None,
                arrowstyle="-|>" if last and nodes[target][0] != "dot" else "-",
                mutation_scale=12,
                shrinkA=0,
                shrinkB=0,
                lw=1.2,
                color="#333333",
                zorder=1,
            )
            ax.add_patch(arrow)
    xs = [x for _, x, _, _ in nodes.values()]
    ys = [y for _, _, y, _ in nodes.values()]
    ax.set_xlim(min(xs) - 0.6, max(xs) + 0.6)
    ax.set_ylim(min(ys) - 0.5, max(ys) + 0.5)
    ax.set_aspect("equal")
    ax.axis("off")
    ax.set_title(title, fontsize=11)
    return fig


def draw_lstm_cell(ax=None):
    """One step of the LSTM, Eqs. (4.1)-(4.6): the cell state c runs along the top, where only
    an elementwise product (forget) and a sum (write) touch it. Returns the figure."""
    nodes = {
        "c_prev": ("io", 0.0, 4.0, "$c_{t-1}$"),
        "forget": ("op", 2.8, 4.0, "×"),
        "add": ("op", 4.7, 4.0, "+"),
        "c_split": ("dot", 8.2, 4.0, ""),
        "c_next": ("io", 10.0, 4.0, "$c_t$"),
        "h_prev": ("io", 0.0, 0.4, "$h_{t-1}$"),
        "x": ("io", 1.6, -0.8, "$x_t$"),
        "bus_x": ("dot", 1.6, 0.4, ""),
        "bus_f": ("dot", 2.8, 0.4, ""),
        "bus_i": ("dot", 4.0, 0.4, ""),
        "bus_g": ("dot", 5.4, 0.4, ""),
        "bus_o": ("dot", 6.8, 0.4, ""),
        "f": ("sigmoid", 2.8, 1.8, "$f_t$\nσ"),
        "i": ("sigmoid", 4.0, 1.8, "$i_t$\nσ"),
        "g": ("tanh", 5.4, 1.8, "$g_t$\ntanh"),
        "o": ("sigmoid", 6.8, 1.8, "$o_t$\nσ"),
        "write": ("op", 4.7, 3.0, "×"),
        "tanh_c": ("fn", 8.2, 3.0, "tanh"),
        "show": ("op", 8.2, 1.8, "×"),
        "h_next": ("io", 10.0, 1.8, "$h_t$"),
    }
    edges = [
        ("c_prev", "forget", []),
        ("forget", "add", []),
        ("add", "c_split", []),
        ("c_split", "c_next", []),
        ("h_prev", "bus_x", []),
        ("x", "bus_x", []),
        ("bus_x", "bus_f", []),
        ("bus_f", "bus_i", []),
        ("bus_i", "bus_g", []),
        ("bus_g", "bus_o", []),
        *[(f"bus_{gate}", gate, []) for gate in "figo"],
        ("f", "forget", []),
        ("i", "write", []),
        ("g", "write", []),
        ("write", "add", []),
        ("c_split", "tanh_c", []),
        ("tanh_c", "show", []),
        ("o", "show", []),
        ("show", "h_next", []),
    ]
    return _draw_diagram(nodes, edges, "LSTM cell, Eqs. (4.1)–(4.6)", ax)


def draw_gru_cell(ax=None):
    """One step of torch's GRU, Eqs. (4.7)-(4.10): the state h runs along the top, kept with
    weight z and replaced by the candidate n with weight 1 - z. Returns the figure."""
    nodes = {
        "h_prev": ("io", 0.0, 4.0, "$h_{t-1}$"),
        "h_split": ("dot", 1.0, 4.0, ""),
        "keep": ("op", 3.0, 4.0, "×"),
        "add": ("op", 8.0, 4.0, "+"),
        "h_next": ("io", 10.0, 4.0, "$h_t$"),
        "x": ("io", 1.8, -0.8, "$x_t$"),
        "bus_h": ("dot", 1.0, 0.4, ""),
        "bus_x": ("dot", 1.8, 0.4, ""),
        "bus_z": ("dot", 3.0, 0.4, ""),
        "bus_r": ("dot", 4.6, 0.4, ""),
        "bus_n": ("dot", 6.2, 0.4, ""),
        "z": ("sigmoid", 3.0, 1.7, "$z_t$\nσ"),
        "r": ("sigmoid", 4.6, 1.7, "$r_t$\nσ"),
        "reset": ("op", 6.2, 1.7, "×"),
        "n": ("tanh", 8.0, 1.7, "$n_t$\ntanh"),
        "one_minus": ("op", 4.6, 2.9, "1−"),
        "write": ("op", 8.0, 2.9, "×"),
        "h_term": ("label", 5.6, 1.0, "$h_{t-1}$"),
        "x_term": ("label", 7.6, 1.0, "$x_t$"),
    }
    edges = [
        ("h_prev", "h_split", []),
        ("h_split", "keep", []),
        ("keep", "add", []),
        ("add", "h_next", []),
        ("h_split", "bus_h", []),
        ("x", "bus_x", []),
        ("bus_h", "bus_x", []),
        ("bus_x", "bus_z", []),
        ("bus_z", "bus_r", []),
        ("bus_r", "bus_n", []),
        ("bus_z", "z", []),
        ("bus_r", "r", []),
        ("z", "keep", []),
        ("z", "one_minus", []),
        ("one_minus", "write", []),
        ("r", "reset", []),
        ("bus_n", "reset", []),  # the recurrent term h_{t-1} W_hn^T + b_hn, Eq. (4.9)
        ("bus_n", "n", [(8.0, 0.4)]),  # the input term x_t W_in^T + b_in
        ("reset", "n", []),
        ("n", "write", []),
        ("write", "add", []),
    ]
    return _draw_diagram(nodes, edges, "GRU cell (torch's form), Eqs. (4.7)–(4.10)", ax)


def draw_highway_layer(ax=None):
    """One highway layer, y = T(x) ⊙ H(x) + (1 - T(x)) ⊙ x (Srivastava et al., 2015): the
    carried copy of x runs along the top, like the LSTM's cell state. Returns the figure."""
    nodes = {
        "x": ("io", 0.0, 2.1, "$x$"),
        "split": ("dot", 1.0, 2.1, ""),
        "carry": ("op", 6.0, 3.6, "×"),
        "add": ("op", 8.5, 3.6, "+"),
        "y": ("io", 10.0, 3.6, "$y$"),
        "T": ("sigmoid", 3.5, 2.1, "$T(x)$\nσ"),
        "H": ("tanh", 3.5, 0.6, "$H(x)$\nlayer"),
        "T_split": ("dot", 4.8, 2.1, ""),
        "one_minus": ("op", 6.0, 2.1, "1−"),
        "transform": ("op", 7.2, 0.6, "×"),
    }
    edges = [
        ("x", "split", []),
        ("split", "carry", [(1.0, 3.6)]),
        ("carry", "add", []),
        ("add", "y", []),
        ("split", "T", []),
        ("split", "H", [(1.0, 0.6)]),
        ("T", "T_split", []),
        ("T_split", "one_minus", []),
        ("one_minus", "carry", []),
        ("T_split", "transform", [(4.8, 1.35), (7.2, 1.35)]),
        ("H", "transform", []),
        ("transform", "add", [(8.5, 0.6)]),
    ]
    return _draw_diagram(nodes, edges, "Highway layer: $y = T \\odot H + (1 - T) \\odot x$", ax)
