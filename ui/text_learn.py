"""The Learn page's words, diagrams and formulas.

Prose and diagram labels go through i18n (`t("learn....")`); LaTeX is the same in every language,
so the formulas are plain constants. The diagrams are Graphviz DOT, registered as strings because
their node labels are text a translator would change.
"""

from ui.i18n import register

register(
    "en",
    {
        "learn.title": "Learn",
        "learn.intro": (
            "**Model fusion** combines several neural networks into one prediction. Each network "
            "(a *member*) looks at the same handwritten digit and gives ten probabilities, one per "
            "digit; the fusion turns them into a single answer. Committees of networks have long "
            "beaten their best member on MNIST: 25 networks of 800 hidden units voted to 0.39% "
            "test error where the best single one reached about 0.7% (Meier et al., 2011). "
            "This lab lets you build such fusions yourself, train them on the real MNIST digits "
            "and see when, and why, they help."
        ),
        "learn.start": "Start with a ready-made experiment",
        "learn.start_article": "Train the article's network",
        "learn.start_article_help": (
            "One stacked network, two hidden layers of 512 relu units, Adam, 5 epochs: "
            "about 98% test accuracy."
        ),
        "learn.start_parallel": "Try a 5-member fusion",
        "learn.start_parallel_help": (
            "Five one-layer networks of 256 units whose probabilities are averaged (soft voting), 3 epochs."
        ),
        "learn.start_mixed": "Mix an MLP, a CNN and an LSTM",
        "learn.start_mixed_help": (
            "Three different kinds of network vote (soft voting): the article's stacked network, a small "
            "convolutional network and an LSTM that reads the digit row by row. 2 epochs on 10,000 images."
        ),
        "learn.start_draw": "Draw a digit",
        "learn.start_draw_help": "Test a trained model on your own handwriting.",
        # the building block
        "learn.block.header": "The building block: a stacked network",
        "learn.block.body": (
            "By default every member is the stacked network of the article. The image is flattened into a "
            "vector $x$ of 784 pixel intensities in $[0, 1]$. Each hidden layer multiplies its input "
            "by a weight matrix, adds a bias and applies an activation function $f$ (relu, tanh, "
            "sigmoid, …); the last layer's *softmax* turns ten scores into ten probabilities that "
            "sum to one. Training adjusts every $W$ and $b$ to lower the cross-entropy between "
            "these probabilities and the true digit."
        ),
        "learn.block.caption": "Two hidden layers, as in the article: y and z are the hidden activations.",
        # other kinds of member
        "learn.kinds.header": "Other kinds of member: convolutions and recurrence",
        "learn.kinds.body": (
            "A member need not be a stacked network. A **CNN** (convolutional network) slides small "
            "5×5 filters over the image, so the same detector of a stroke or a corner works wherever "
            "the stroke is; pooling then keeps the strongest answer of each 2×2 patch. An **LSTM** "
            "(long short-term memory, a recurrent network) is the article's answer for sequences and "
            "time series. Here it reads the digit as a sequence: 28 rows of 28 pixels, top to bottom, "
            "one row per step."
        ),
        "learn.kinds.lstm": (
            "**What the recurrence carries from row to row.** After each row the LSTM keeps two "
            "vectors: a memory $c_t$ and a summary $h_t$ of what it has seen so far. Reading the "
            "next row, it decides with three gates how much of the old memory to keep (the *forget* "
            "gate $f_t$), how much of the new row to write in (the *input* gate $i_t$) and how much "
            "to show as its summary (the *output* gate $o_t$). So when it reaches the bottom of a 7 "
            "it still remembers the flat bar it saw at the top, and the loop of a 9 seen in the "
            "upper rows is still there when the straight tail comes. Only the last summary $h_{28}$, "
            "after all 28 rows, goes to the softmax."
        ),
        "learn.kinds.mixed": (
            "Members of different kinds tend to make different mistakes, and a vote only helps when "
            "its members err differently. The ready-made **MLP + CNN + LSTM** experiment above "
            "trains one of each and averages their probabilities."
        ),
        # the three families
        "learn.families.header": "Three ways to fuse networks",
        "learn.families.body": (
            "The article sorts fusion into three families: **parallel** (several models look at "
            "the input at the same time and their answers are combined), **serial** (models work one "
            "after another, each building on the previous one) and **hybrid** (both at once). "
            "In this lab all members of a fusion train together in one graph, each with its own loss; "
            "the fusion's weights learn from the fusion's loss without changing the members."
        ),
        "learn.tab.parallel": "Parallel",
        "learn.tab.serial": "Serial",
        "learn.tab.hybrid": "Hybrid",
        "learn.parallel.body": (
            "$K$ members see the same image $x$ and each gives probabilities $p_k = g_k(x)$. "
            "Four rules combine them:"
        ),
        "learn.parallel.soft": (
            "**Soft voting** averages the probabilities; the answer is the digit with the largest "
            "average. It rewards members that are sure, and is the rule to try first."
        ),
        "learn.parallel.hard": (
            "**Hard voting** counts each member's top digit as one vote; the majority wins, and a tie "
            "goes to the tied digit with the larger summed probability."
        ),
        "learn.parallel.weighted": (
            "**Learned weights**: one trainable number $v_k$ per member; the softmax turns them into "
            "positive weights that sum to one, so better members can earn a larger say."
        ),
        "learn.parallel.feature": (
            "**Feature fusion** joins the members' last hidden layers $h_k$ (not their answers) and "
            "trains one softmax layer on the joined features."
        ),
        "learn.parallel.sklearn": (
            "Soft and hard voting are what scikit-learn's `VotingClassifier` calls `voting='soft'` "
            "and `voting='hard'`."
        ),
        "learn.serial.body": "Members work one after another.",
        "learn.serial.cascade": (
            "**Cascade**: stage $k+1$ sees the image together with stage $k$'s probabilities and "
            "refines them; the last stage's answer is the fusion's."
        ),
        "learn.serial.stacking": (
            "**Stacking**: a meta-learner (a softmax layer, like logistic regression) reads all "
            "members' probabilities and learns how far to trust each one. It trains on a held-out "
            "share of the training images that the members never saw, so it learns how members behave "
            "on new digits rather than on digits they memorised: the idea of scikit-learn's "
            "`StackingClassifier`, which uses cross-validated predictions for the same reason."
        ),
        "learn.hybrid.body": (
            "**Hybrid**: a parallel group of members feeds a serial meta-network. The meta-network "
            "sees the image and every member's probabilities, has a hidden layer of its own and gives "
            "the final answer. Like stacking, it trains on a held-out share of the training images."
        ),
        # data
        "learn.data.header": "The data: MNIST",
        "learn.data.body": (
            "MNIST holds 70,000 handwritten digits, each a 28×28 grayscale image: 60,000 for "
            "training (this lab keeps 10% of them aside for validation) and 10,000 for testing. "
            "Each digit was size-normalised into a 20×20 box and centred by its centre of mass in "
            "the 28×28 frame; Draw a digit prepares your drawing the same way."
        ),
        "learn.data.samples": "Training images, {n} of each digit",
        "learn.data.counts": "Images per digit",
        "learn.data.train": "training (60,000)",
        "learn.data.test": "test (10,000)",
        "learn.data.train_n": "training ({n:,})",
        "learn.data.test_n": "test ({n:,})",
        "learn.data.source": "Loaded from: {source}",
        "learn.data.credit": (
            "MNIST is by Yann LeCun, Corinna Cortes and Christopher J. C. Burges "
            "(http://yann.lecun.com/exdb/mnist/), available under the Creative Commons "
            "Attribution-Share Alike 3.0 license."
        ),
        "learn.data.missing": "MNIST could not be loaded, so the data card is empty for now.",
        "learn.anchors.header": "What to expect on MNIST",
        "learn.anchors.body": (
            "Test error of published fully-connected networks, for comparison with your runs: a "
            "linear classifier 12.0%; 300 hidden units 4.7%; 500+150 hidden units 2.95% (LeCun et al., "
            "1998); 800 hidden units with cross-entropy 1.6% (Simard et al., 2003); a committee of "
            "25 such networks 0.39% (Meier et al., 2011). The article's network typically reaches "
            "about 98% accuracy, 2% error, after 5 epochs."
        ),
        # where it runs
        "learn.device.header": "Where training runs",
        "learn.device.body": "Keras {keras} trains on **{device}** with the **{backend}** backend.",
        "learn.device.gpu": "A GPU is available: training runs on it.",
        "learn.device.cpu": (
            "No GPU here: everything trains on the CPU. The article's network takes a few seconds per "
            "epoch; a fusion of K members costs about K times as much."
        ),
        # diagram labels
        "learn.dot.block": """digraph {
  rankdir=TB; node [shape=box, style="rounded,filled", fillcolor="#eef3fb", fontname="Helvetica"];
  x [label="image x\\n784 pixels"]; y [label="hidden y\\n512 relu"]; z [label="hidden z\\n512 relu"];
  o [label="softmax o\\n10 probabilities", fillcolor="#dbe9f6"];
  x -> y [label=" W1, b1"]; y -> z [label=" W2, b2"]; z -> o [label=" W3, b3"];
}""",
        "learn.dot.parallel": """digraph {
  rankdir=TB; node [shape=box, style="rounded,filled", fillcolor="#eef3fb", fontname="Helvetica"];
  x [label="image x"]; m1 [label="member 1"]; m2 [label="member 2"]; mk [label="member K"];
  f [label="fusion rule\\n(vote, average,\\nweights, features)", fillcolor="#fde9d9"];
  o [label="answer", shape=ellipse, fillcolor="#dbe9f6"];
  x -> m1; x -> m2; x -> mk; m1 -> f [label=" p1"]; m2 -> f [label=" p2"]; mk -> f [label=" pK"];
  f -> o;
}""",
        "learn.dot.serial": """digraph {
  rankdir=TB; node [shape=box, style="rounded,filled", fillcolor="#eef3fb", fontname="Helvetica"];
  x [label="image x"]; s1 [label="stage 1"]; s2 [label="stage 2"]; sk [label="stage K"];
  o [label="answer", shape=ellipse, fillcolor="#dbe9f6"];
  x -> s1; s1 -> s2 [label=" p1"]; s2 -> sk [label=" p2 …"]; sk -> o [label=" pK"];
  x -> s2 [style=dashed]; x -> sk [style=dashed];
}""",
        "learn.dot.hybrid": """digraph {
  rankdir=TB; node [shape=box, style="rounded,filled", fillcolor="#eef3fb", fontname="Helvetica"];
  x [label="image x"]; m1 [label="member 1"]; m2 [label="member 2"]; mk [label="member K"];
  meta [label="meta-network\\n(hidden layer + softmax)", fillcolor="#fde9d9"];
  o [label="answer", shape=ellipse, fillcolor="#dbe9f6"];
  x -> m1; x -> m2; x -> mk; m1 -> meta; m2 -> meta; mk -> meta; x -> meta [style=dashed];
  meta -> o;
}""",
    },
)

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

register(
    "en",
    {
        # Learn: members must err differently
        "learn.diversity.header": "Members must err differently",
        "learn.diversity.body": (
            "A fusion can only beat its best member on digits where some member is right and the others "
            "do not all make the same mistake. Five copies of the same network that differ only in their "
            "random start learn nearly the same thing and make nearly the same mistakes: their vote "
            "gains little. Members of different kinds (a stacked network that sees pixels, a CNN that "
            "sees strokes wherever they are, an LSTM that reads row by row) fail on different digits, "
            "and the vote can outvote each one's mistakes. After every fusion the Train page shows these "
            "numbers under *Why did the fusion help (or not)?*."
        ),
        "learn.diversity.identical": "Identical MLP members (run {run_id}: {name})",
        "learn.diversity.mixed": "Mixed kinds: {kinds} (run {run_id}: {name})",
        "learn.diversity.metrics": (
            "- disagreement between members: **{dis:.1%}**\n"
            "- error correlation: **{corr:.2f}**\n"
            "- best member: **{best:.2%}** · fusion: **{fused:.2%}** · oracle: **{oracle:.2%}**"
        ),
        "learn.diversity.missing_identical": (
            "No finished fusion of identical MLP members yet: try the 5-member fusion above."
        ),
        "learn.diversity.missing_mixed": (
            "No finished fusion of mixed kinds yet: try the MLP + CNN + LSTM preset."
        ),
        "learn.diversity.try": (
            "Try it yourself: train the 5-member fusion of identical MLPs and the MLP + CNN + LSTM "
            "fusion, then come back here: both appear side by side with their disagreement, error "
            "correlation, oracle, best member and fusion."
        ),
        "learn.diversity.start_mixed": "Train MLP + CNN + LSTM",
    },
)
