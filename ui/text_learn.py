"""The Learn page's words, diagrams and formulas.

Prose and diagram labels go through i18n (`t("learn....")`); LaTeX is the same in every language,
so the formulas are plain constants. The diagrams are Graphviz DOT, kept in the catalog because
their node labels are text a translator would change.
"""

from fusion_core.config import make_config
from ui.presets import PRESETS

# The article's stacked network (N layers; softmax at the top), aligned on the equals signs.
STACKED = (
    r"\begin{aligned} y &= f(W_1 x + b_1) \\ z &= f(W_2 y + b_2) \\ &\;\;\vdots \\ "
    r"o &= \operatorname{softmax}(W_N z + b_N) \end{aligned}"
)
SOFTMAX = r"\operatorname{softmax}(s)_i = \frac{e^{s_i}}{\sum_{j=0}^{9} e^{s_j}}"
SOFT_VOTING = r"p = \frac{1}{K} \sum_{k=1}^{K} p_k, \qquad \hat{y} = \arg\max_i \, p_i"
HARD_VOTING = (
    r"\hat{y} = \arg\max_i \Big( \sum_{k=1}^{K} [\arg\max_j p_{k,j} = i] "
    r"\;+\; \tfrac{1}{2K} \sum_{k=1}^{K} p_{k,i} \Big)"
)
WEIGHTED = r"p = \sum_{k=1}^{K} \operatorname{softmax}(v)_k \, p_k, \qquad v \in \mathbb{R}^K \text{ learned}"
FEATURE = r"p = \operatorname{softmax}\big(W [h_1; h_2; \dots; h_K] + b\big)"
CASCADE = r"p_1 = g_1(x), \qquad p_{k+1} = g_{k+1}([x; p_k]), \qquad p = p_K"
STACKING = r"p = \operatorname{softmax}\big(W [p_1; p_2; \dots; p_K] + b\big)"
CONVOLUTION = (
    r"H = \operatorname{maxpool}_{2\times 2}\big(f(K * X + b)\big), \qquad "
    r"(K * X)_{i,j} = \sum_{u,v=1}^{5} K_{u,v}\, X_{i+u,\, j+v}"
)
LSTM_GATES = (
    r"\begin{aligned} i_t, f_t, o_t &= \sigma(W x_t + U h_{t-1} + b) \\ "
    r"c_t &= f_t \odot c_{t-1} + i_t \odot \tanh(W_g x_t + U_g h_{t-1} + b_g) \\ "
    r"h_t &= o_t \odot \tanh(c_t), \qquad t = 1, \dots, 28 \end{aligned}"
)
HYBRID = r"p = \operatorname{softmax}\Big(W_2 \, f\big(W_1 [x; p_1; \dots; p_K] + b_1\big) + b_2\Big)"

# The article's three closing questions: (catalog key, [(page, link label key, config or None)]).
# A config travels as the Train page's shared-link parameters (ui/share.py), so each link opens the
# configuration that answers the question.
QUESTIONS = (
    (
        "q1",
        [
            ("pages/train.py", "share.q1.link_single", make_config("single")),
            ("pages/train.py", "share.q1.link_stacking", make_config("serial", rule="stacking")),
        ],
    ),
    ("q2", [("pages/data_size.py", "share.q2.link", None)]),
    (
        "q3",
        [
            ("pages/train.py", "share.q3.link_lstm", make_config("single", kinds="lstm")),
            ("pages/train.py", "share.q3.link_mixed", make_config(**PRESETS["mixed"])),
        ],
    ),
)
