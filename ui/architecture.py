"""What a configuration looks like before it trains: parameter counts, a diagram, the formula."""

from __future__ import annotations

from fusion_core import registry
from fusion_core.config import MemberConfig, RunConfig
from fusion_core.registry import INPUT_DIM, member_name, parameter_counts
from ui import words
from ui.charts import FUSED_COLOUR, member_colour
from ui.config_ui import format_number
from ui.i18n import DOT_FONT, t

__all__ = ["architecture_dot", "formula_latex", "member_layer_params", "parameter_counts"]


def member_layer_params(member: MemberConfig, input_dim: int = INPUT_DIM) -> list[int]:
    """Weights plus biases of each layer of one member, the 10-way softmax layer last."""
    return registry.member_kind(member).layer_params(member, input_dim)


def _member_inputs(config: RunConfig) -> list[int]:
    fusion = registry.fusion_of(config)
    return [fusion.member_input_dim(k) for k in range(config.fusion.num_members)]


# -- the diagram ------------------------------------------------------------------------------------


def _esc(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


def _quoted(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _member_node(name: str, title: str, member: MemberConfig, n_in: int, colour: str) -> str:
    """One member as an HTML-like table: a coloured header, a row per layer with its parameters."""
    params = registry.member_kind(member).layer_params(member, n_in)
    labels = words.layer_labels(member)
    rows = [
        f'<TR><TD COLSPAN="2" BGCOLOR="{colour}"><FONT COLOR="white"><B>{_esc(title)}</B></FONT></TD></TR>'
    ]
    for i, (label, n) in enumerate(zip(labels[:-1], params[:-1], strict=True)):
        if member.dropout_rate > 0:
            label += " + " + t("dot.dropout", rate=format_number(member.dropout_rate))
        port = ' PORT="h"' if i == len(labels) - 2 else ""  # the last hidden layer: what a feature head reads
        rows.append(f'<TR><TD ALIGN="LEFT">{_esc(label)}</TD><TD ALIGN="RIGHT"{port}>{n:,}</TD></TR>')
    rows.append(
        f'<TR><TD ALIGN="LEFT">{_esc(labels[-1])}</TD><TD ALIGN="RIGHT" PORT="p">{params[-1]:,}</TD></TR>'
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
    fusion = registry.fusion_of(config)
    members = config.member_configs()
    inputs = _member_inputs(config)
    counts = parameter_counts(config)
    single = fusion.one_member
    cascade = fusion.chains_members
    lines = [
        "digraph architecture {",
        f"  rankdir={'TB' if cascade and len(members) > 4 else 'LR'};",
        f'  graph [fontname="{DOT_FONT}", nodesep=0.25, ranksep=0.6];',
        f'  node [fontname="{DOT_FONT}", fontsize=11];',
        f'  edge [fontname="{DOT_FONT}", fontsize=10, color="#6B7280"];',
        f'  input [shape=box, style="rounded,filled", fillcolor="#E5E7EB", label={_quoted(t("dot.input"))}];',
        f'  output [shape=box, style="rounded,filled,bold", fillcolor="#F3F4F6", '
        f"label={_quoted(t('dot.output'))}];",
    ]
    show_kinds = any(m.kind != registry.DEFAULT_MEMBER_KIND for m in members)
    for k, (member, n_in) in enumerate(zip(members, inputs, strict=True)):
        title = t("dot.stage_n" if cascade else "config.member_n", n=k + 1)
        if single:
            title = t("charts.series.network")
        if show_kinds:  # a CNN or an LSTM in the model: every box says which kind it is
            title = t("dot.member_kind", title=title, kind=registry.member_kind(member).label)
        colour = FUSED_COLOUR if single else member_colour(member_name(k))
        lines.append(_member_node(f"m{k}", title, member, n_in, colour))
    if single:
        lines += ["  input -> m0;", "  m0:p:e -> output;", "}"]
        return "\n".join(lines)

    rule_label = t(fusion.diagram_key, n=f"{counts[registry.FUSED]:,}", units=f.meta_units)
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
        port = "h" if fusion.reads_features else "p"
        for k in range(len(members)):
            lines.append(f"  input -> m{k};")
            lines.append(f'  m{k}:{port}:e -> fusion [label="{"h" if port == "h" else "p"}_{k + 1}"];')
        if fusion.sees_input:
            lines.append('  input -> fusion [style=dashed, label="x"];')
    lines += ["  fusion -> output [penwidth=2];", "}"]
    return "\n".join(lines)


# -- the formula ------------------------------------------------------------------------------------


def formula_latex(config: RunConfig) -> str:
    """The member network(s) with their real shapes, then the fusion's own formula (KaTeX)."""
    f = config.fusion
    fusion = registry.fusion_of(config)
    k = f.num_members
    members = config.member_configs()
    widths = sorted({fusion.member_input_dim(i) for i in range(k)})
    dims = str(widths[0]) if len(widths) == 1 else rf"({widths[0]} \text{{ or }} {widths[-1]})"
    source = "z_k" if fusion.chains_members else "x"

    def member_lines(member: MemberConfig, **kwargs: str) -> list[str]:
        return registry.member_kind(member).formula(member, **kwargs)

    lines: list[str] = []
    if fusion.one_member:
        lines += member_lines(members[0], sup="", out="p", source="x", input_dims=str(INPUT_DIM))
    elif config.members is None:
        lines += member_lines(members[0], sup="^{(k)}", out="p_k", source=source, input_dims=dims)
        lines.append(rf"&& k &= 1, \dots, {k}")
    else:
        for i, member in enumerate(members[:3], start=1):
            lines += member_lines(
                member,
                sup=f"^{{({i})}}",
                out=f"p_{{{i}}}",
                source=source.replace("k", str(i)),
                input_dims=dims,
            )
        if k > 3:
            lines.append(r"&\;\;\vdots")
    lines = fusion.formula_prelude(k) + lines + fusion.formula(f, members)
    return words.formula(r"\begin{aligned}" + r" \\ ".join(lines) + r"\end{aligned}")
