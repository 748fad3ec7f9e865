"""What a configuration looks like before it trains: parameter counts, a diagram, the formula."""

from __future__ import annotations

from itertools import pairwise

from fusion_core.config import MemberConfig, RunConfig
from ui.charts import FUSED_COLOUR, member_colour
from ui.config_ui import INPUT_DIM, NUM_CLASSES, format_number
from ui.i18n import register, t

register(
    "en",
    {
        "dot.input": "Input x\n784 pixels (28×28)",
        "dot.output": "Output\n10 class probabilities",
        "dot.params": "{n} params",
        "dot.total": "total",
        "dot.stage_n": "Stage {n}",
        "dot.dropout": "dropout {rate}",
        "dot.fusion.soft": "Soft vote\np = mean of the p_k",
        "dot.fusion.hard": "Hard vote\nmajority of the labels",
        "dot.fusion.weighted": "Learned weights\np = Σ w_k p_k · {n} params",
        "dot.fusion.feature": "Feature head\nDense 10 softmax on the hidden features\n{n} params",
        "dot.fusion.cascade": "Cascade\np = last stage's answer",
        "dot.fusion.stacking": "Stacking meta-learner\nDense 10 softmax on [p_1 … p_K]\n{n} params",
        "dot.fusion.meta": (
            "Hybrid meta-network\nDense {units} relu → Dense 10 softmax\non [x, p_1 … p_K] · {n} params"
        ),
    },
)


# -- parameter counts (plain arithmetic; tests check it against fusion_core.models.count_params) ------


def member_layer_params(member: MemberConfig, input_dim: int = INPUT_DIM) -> list[int]:
    """Weights plus biases of each Dense layer of one member, the 10-way softmax layer last."""
    sizes = [input_dim, *member.units_per_layer(), NUM_CLASSES]
    return [(n_in + 1) * n_out for n_in, n_out in pairwise(sizes)]


def _member_inputs(config: RunConfig) -> list[int]:
    cascade = config.fusion.type == "serial" and config.fusion.rule == "cascade"
    return [INPUT_DIM + (NUM_CLASSES if cascade and k > 0 else 0) for k in range(config.fusion.num_members)]


def parameter_counts(config: RunConfig) -> dict[str, int]:
    """{'member_0': ..., 'fused': the fusion's own weights, 'total': ...}, as count_params reports them."""
    members = config.member_configs()
    counts = {
        f"member_{k}": sum(member_layer_params(m, n_in))
        for k, (m, n_in) in enumerate(zip(members, _member_inputs(config), strict=True))
    }
    f, k = config.fusion, len(members)
    fused = 0
    if f.rule == "weighted":
        fused = k
    elif f.rule == "feature":
        fused = (sum(m.units_per_layer()[-1] for m in members) + 1) * NUM_CLASSES
    elif f.rule == "stacking":
        fused = (NUM_CLASSES * k + 1) * NUM_CLASSES
    elif f.type == "hybrid":
        fused = (INPUT_DIM + NUM_CLASSES * k + 1) * f.meta_units + (f.meta_units + 1) * NUM_CLASSES
    counts["fused"] = fused
    counts["total"] = sum(counts.values())
    return counts


# -- the diagram ------------------------------------------------------------------------------------


def _esc(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


def _quoted(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _member_node(name: str, title: str, member: MemberConfig, n_in: int, colour: str) -> str:
    """One member as an HTML-like table: a coloured header, a row per layer with its parameters."""
    params = member_layer_params(member, n_in)
    rows = [
        f'<TR><TD COLSPAN="2" BGCOLOR="{colour}"><FONT COLOR="white"><B>{_esc(title)}</B></FONT></TD></TR>'
    ]
    for i, (units, act) in enumerate(
        zip(member.units_per_layer(), member.activations_per_layer(), strict=True)
    ):
        label = f"Dense {units} {act}"
        if member.dropout_rate > 0:
            label += " + " + t("dot.dropout", rate=format_number(member.dropout_rate))
        port = ' PORT="h"' if i == member.hidden_layers - 1 else ""
        rows.append(f'<TR><TD ALIGN="LEFT">{_esc(label)}</TD><TD ALIGN="RIGHT"{port}>{params[i]:,}</TD></TR>')
    rows.append(
        f'<TR><TD ALIGN="LEFT">Dense 10 softmax</TD><TD ALIGN="RIGHT" PORT="p">{params[-1]:,}</TD></TR>'
    )
    rows.append(
        f'<TR><TD ALIGN="LEFT"><I>{_esc(t("dot.total"))}</I></TD>'
        f'<TD ALIGN="RIGHT"><B>{sum(params):,}</B></TD></TR>'
    )
    table = '<TABLE BORDER="0" CELLBORDER="1" CELLSPACING="0" CELLPADDING="5">' + "".join(rows) + "</TABLE>"
    return f"  {name} [shape=plain, label=<{table}>];"


def architecture_dot(config: RunConfig) -> str:
    """Graphviz DOT: input -> members (a table of layers and parameters each) -> fusion -> output."""
    f = config.fusion
    members = config.member_configs()
    inputs = _member_inputs(config)
    counts = parameter_counts(config)
    single = f.type == "single"
    cascade = f.type == "serial" and f.rule == "cascade"
    lines = [
        "digraph architecture {",
        f"  rankdir={'TB' if cascade and len(members) > 4 else 'LR'};",
        '  graph [fontname="Helvetica", nodesep=0.25, ranksep=0.6];',
        '  node [fontname="Helvetica", fontsize=11];',
        '  edge [fontname="Helvetica", fontsize=10, color="#6B7280"];',
        f'  input [shape=box, style="rounded,filled", fillcolor="#E5E7EB", label={_quoted(t("dot.input"))}];',
        f'  output [shape=box, style="rounded,filled,bold", fillcolor="#F3F4F6", '
        f"label={_quoted(t('dot.output'))}];",
    ]
    for k, (member, n_in) in enumerate(zip(members, inputs, strict=True)):
        title = t("dot.stage_n" if cascade else "config.member_n", n=k + 1)
        if single:
            title = t("charts.series.network")
        colour = FUSED_COLOUR if single else member_colour(f"member_{k}")
        lines.append(_member_node(f"m{k}", title, member, n_in, colour))
    if single:
        lines += ["  input -> m0;", "  m0:p:e -> output;", "}"]
        return "\n".join(lines)

    rule_label = t(f"dot.fusion.{f.rule}", n=f"{counts['fused']:,}", units=f.meta_units)
    lines.append(
        f'  fusion [shape=box, style="rounded,filled", fillcolor="{FUSED_COLOUR}", fontcolor="white", '
        f"label={_quoted(rule_label)}];"
    )
    if cascade:
        lines.append("  input -> m0;")
        for k in range(1, len(members)):
            lines.append(f'  m{k - 1}:p:e -> m{k} [label="p_{k}", color="#111827", penwidth=1.6];')
            lines.append(f'  input -> m{k} [style=dashed, label="x"];')
        lines.append(f'  m{len(members) - 1}:p:e -> fusion [label="p_{len(members)}"];')
    else:
        port = "h" if f.rule == "feature" else "p"
        for k in range(len(members)):
            lines.append(f"  input -> m{k};")
            lines.append(f'  m{k}:{port}:e -> fusion [label="{"h" if port == "h" else "p"}_{k + 1}"];')
        if f.type == "hybrid":
            lines.append('  input -> fusion [style=dashed, label="x"];')
    lines += ["  fusion -> output [penwidth=2];", "}"]
    return "\n".join(lines)


# -- the formula ------------------------------------------------------------------------------------


def _member_lines(member: MemberConfig, *, sup: str, out: str, source: str, input_dims: str) -> list[str]:
    """h_1 = f(W_1 x + b_1), ..., p = softmax(W_L h + b), each with its weight matrix's shape."""
    lines, prev, prev_dim = [], source, input_dims
    units, acts = member.units_per_layer(), member.activations_per_layer()
    for i, (u, act) in enumerate(zip(units, acts, strict=True), start=1):
        lines.append(
            rf"h_{{{i}}}{sup} &= \mathrm{{{act}}}\!\left(W_{{{i}}}{sup} {prev} + b_{{{i}}}{sup}\right), &"
            rf"W_{{{i}}}{sup} &\in \mathbb{{R}}^{{{u}\times {prev_dim}}}"
        )
        prev, prev_dim = f"h_{{{i}}}{sup}", str(u)
    n = len(units) + 1
    lines.append(
        rf"{out} &= \mathrm{{softmax}}\!\left(W_{{{n}}}{sup} {prev} + b_{{{n}}}{sup}\right), &"
        rf"W_{{{n}}}{sup} &\in \mathbb{{R}}^{{10\times {prev_dim}}}"
    )
    return lines


def formula_latex(config: RunConfig) -> str:
    """The stacked network(s) with their real shapes, then the fusion's own formula (KaTeX)."""
    f = config.fusion
    k = f.num_members
    members = config.member_configs()
    cascade = f.type == "serial" and f.rule == "cascade"
    dims = f"{INPUT_DIM}" if not cascade else rf"({INPUT_DIM} \text{{ or }} {INPUT_DIM + NUM_CLASSES})"
    source = "z_k" if cascade else "x"
    lines: list[str] = []
    if f.type == "single":
        lines += _member_lines(members[0], sup="", out="p", source="x", input_dims=str(INPUT_DIM))
    elif config.members is None:
        lines += _member_lines(members[0], sup="^{(k)}", out="p_k", source=source, input_dims=dims)
        lines.append(rf"&& k &= 1, \dots, {k}")
    else:
        for i, member in enumerate(members[:3], start=1):
            lines += _member_lines(
                member,
                sup=f"^{{({i})}}",
                out=f"p_{{{i}}}",
                source=source.replace("k", str(i)),
                input_dims=dims,
            )
        if k > 3:
            lines.append(r"&\;\;\vdots")
    if cascade:
        lines.insert(0, r"z_1 &= x, \quad z_k = [x;\, p_{k-1}] \;(k > 1)")
        lines.append(rf"p &= p_{{{k}}}")
    elif f.rule == "soft":
        lines.append(rf"p &= \frac{{1}}{{{k}}} \sum_{{k=1}}^{{{k}}} p_k")
    elif f.rule == "hard":
        lines.append(
            rf"v_c &= \#\{{k : \arg\max_j p_{{k,j}} = c\}}, \quad "
            rf"\bar p = \tfrac{{1}}{{{k}}}\textstyle\sum_k p_k"
        )
        lines.append(rf"p &= \frac{{v + \tfrac12 \bar p}}{{{k} + \tfrac12}}, \quad \hat y = \arg\max_c v_c")
    elif f.rule == "weighted":
        lines.append(
            rf"p &= \sum_{{k=1}}^{{{k}}} w_k\, p_k, \quad w = \mathrm{{softmax}}(\alpha), &"
            rf"\alpha &\in \mathbb{{R}}^{{{k}}}"
        )
    elif f.rule == "feature":
        width = sum(m.units_per_layer()[-1] for m in members)
        lines.append(
            rf"p &= \mathrm{{softmax}}\!\left(W_f [h^{{(1)}}_L; \dots; h^{{({k})}}_L] + b_f\right), &"
            rf"W_f &\in \mathbb{{R}}^{{10\times {width}}}"
        )
    elif f.rule == "stacking":
        lines.append(
            rf"p &= \mathrm{{softmax}}\!\left(W_m [p_1; \dots; p_{{{k}}}] + b_m\right), &"
            rf"W_m &\in \mathbb{{R}}^{{10\times {NUM_CLASSES * k}}}"
        )
    elif f.type == "hybrid":
        u = f.meta_units
        lines.append(
            rf"h_m &= \mathrm{{relu}}\!\left(W_m [x; p_1; \dots; p_{{{k}}}] + b_m\right), &"
            rf"W_m &\in \mathbb{{R}}^{{{u}\times {INPUT_DIM + NUM_CLASSES * k}}}"
        )
        lines.append(
            rf"p &= \mathrm{{softmax}}\!\left(W_o h_m + b_o\right), & W_o &\in \mathbb{{R}}^{{10\times {u}}}"
        )
    return r"\begin{aligned}" + r" \\ ".join(lines) + r"\end{aligned}"
