"""The experiment labs' words: what each page claims and tests, its controls, its charts and tables,
and what to look for.

Registered through i18n like every other string; imported by ui.labs and ui.labs_charts, so every
lab page and every chart builder has them. Streamlit-free.
"""

from ui.i18n import register

register(
    "en",
    {
        # shared by the four labs
        "labs.data_error": "MNIST could not be loaded, so this experiment cannot run yet.\n\n{error}",
        "labs.look_for": "What to look for",
        "labs.progress": "{done} of {total} points done",
        "labs.progress.unfinished": "{n} did not finish",
        "labs.points_table": "Status of the {n} points",
        "labs.col.point": "Point",
        "labs.col.status": "Status",
        "labs.stop": "Stop",
        "labs.stop.help": "Drops the waiting points and stops the one training after its current batch.",
        "labs.status.missing": "not started",
        "labs.status.queued": "waiting ({n} in the queue)",
        "labs.status.waiting": "waiting",
        "labs.status.preparing": "preparing",
        "labs.status.running": "training · {pct}%",
        "labs.status.done": "done",
        "labs.status.reused": "done (reused from the store)",
        "labs.status.stopped": "stopped",
        "labs.status.interrupted": "interrupted",
        "labs.status.failed": "failed: {error}",
        "labs.estimate": "{todo} points to train, {reused} already in the store · {time}",
        "labs.estimate.time": "about {minutes} min {where}",
        "labs.estimate.quick": "under a minute {where}",
        "labs.estimate.measured": "on this machine (scaled from the runs it already trained)",
        "labs.estimate.guess": "on a 2-core laptop CPU (a rough guess; a GPU is much faster)",
        "labs.estimate.nothing": "nothing to train: every point is reused",
        "labs.started": "Started: {todo} points queued, {reused} reused from the store.",
        "labs.config_error": "This experiment cannot be set up: {error}",
        "labs.overrides_ignored": "The labs use their default settings: {error}",
        # charts and tables (ui.labs_charts)
        "labs.points": "{title} · {n} points",
        "labs.runs": "{title} · {n} runs",
        "labs.config.single": "single network",
        "labs.config.parallel": "parallel ×5 (soft vote)",
        "labs.config.serial": "serial ×3 (cascade)",
        "labs.config.hybrid": "hybrid ×3 (meta-learner)",
        "labs.config_short.single": "single",
        "labs.config_short.parallel": "parallel ×5",
        "labs.config_short.serial": "serial ×3",
        "labs.config_short.hybrid": "hybrid ×3",
        "labs.accuracy": "accuracy",
        "labs.test": "test",
        "labs.training": "training",
        "labs.sweep.title": "Accuracy against training-set size",
        "labs.sweep.x": "training images (log scale)",
        "labs.sweep.empty": "Press Run sweep: each point appears here when it is trained",
        "labs.sweep.hover": "%{x:,} training images<br>accuracy %{y:.2%} ± %{customdata[1]:.2%}"
        " · %{customdata[0]} seed(s)<extra></extra>",
        "labs.col.config": "Configuration",
        "labs.col.images": "Images",
        "labs.col.seeds": "Seeds",
        "labs.col.test": "Test %",
        "labs.col.train": "Training %",
        "labs.col.gap": "Gap (pts)",
        "labs.col.variant": "Variant",
        "labs.col.val": "Validation %",
        "labs.col.epochs": "Epochs",
        "labs.col.run": "Run",
        "labs.gap.title": "Training minus test accuracy, per variant",
        "labs.gap.y": "gap (percentage points)",
        "labs.gap.empty": "Train a variant: its gap appears here when it is done",
        "labs.gap.text": "{gap:.1f} pts",
        "labs.gap.hover": "<b>%{y}</b><br>training %{customdata[0]:.1%} · test %{customdata[1]:.1%}"
        "<br>gap %{x:.1f} points<extra></extra>",
        "labs.variant.plain": "plain",
        "labs.variant.dropout": "dropout",
        "labs.variant.l2": "L2",
        "labs.variant.early": "early stopping",
        "labs.variant.fusion": "fusion ×{k}",
        "labs.variant.epochs": "{label} ({epochs} epochs)",
        "labs.variant.normal": "N(0,1) start",
        "labs.robust.title": "Accuracy against {label}",
        "labs.robust.x": "{label} ({unit})",
        "labs.robust.empty": "Press Measure robustness to draw one curve per model",
        "labs.robust.member": "{run} · {member}",
        "labs.robust.members": "{run} · members",
        "labs.cost.title": "Test accuracy against {axis}",
        "labs.cost.x": "{axis} (log scale)",
        "labs.cost.front": "Pareto front",
        "labs.cost.other": "dominated",
        "labs.cost.empty": "Run the preset, or train runs on the Train page, to fill this chart",
        "labs.cost.hover": "<b>%{{customdata[0]}}</b><br>%{{customdata[1]}}<br>{axis} %{{x:,}}"
        "<br>test accuracy %{{y:.2%}}<extra></extra>",
        "labs.cost.col.description": "Description",
        "labs.cost.col.params_total": "Parameters",
        "labs.cost.col.seconds_per_epoch": "Seconds per epoch",
        "labs.cost.col.latency_ms": "ms per image",
        "labs.cost.col.model_bytes": "Model file (kB)",
        "labs.cost.col.pareto": "On the front",
        # data size
        "size.title": "Data size",
        "size.intro": (
            "Deep networks are said to need a lot of data, and a committee of networks to help most when "
            "data is scarce: each member overfits the few images in its own way, and averaging cancels "
            "part of it. This lab tests both claims. It trains each chosen configuration on stratified "
            "training sets from a few hundred images to all of MNIST, and measures the fused accuracy "
            "on the 10,000 test images (solid) and on the run's own training images (dashed). The space "
            "between the two lines of a colour is overfitting; the error bars are the spread over seeds."
        ),
        "size.configs": "Configurations to compare",
        "size.sizes": "Training-set sizes",
        "size.sizes.help": (
            "Images drawn from the 60,000 training images, the same number of each digit. 10% are kept "
            "aside for validation, so '60k' trains on the remaining 54,000."
        ),
        "size.seeds": "Seeds per point",
        "size.seeds.help": "Each point is trained this many times with different random starts.",
        "size.epochs": "Epochs",
        "size.epochs.help": "Passes over each training set. Every size gets the same number of epochs.",
        "size.point": "{config} · {size} images · seed {seed}",
        "size.minute": "1 minute",
        "size.minute.help": (
            "A lesson-length sweep: a single network against a fusion at 500 and 2,000 images, two "
            "seeds each (the error bars), 2 epochs; estimated under a minute on two CPU cores."
        ),
        "size.run": "Run sweep",
        "size.run.help": "Trains every point in the background, smallest first; stored points are reused.",
        "size.busy": "This sweep is still running: stop it or wait for it to finish.",
        "size.table": "Mean over seeds",
        "size.measuring": "Measuring each finished run's accuracy on its own training images…",
        "size.csv": "Download the table (CSV)",
        "size.look_for": (
            "- Test accuracy climbs fast at first and then flattens: each doubling of the data buys less.\n"
            "- The dashed training line sits near 100% at small sizes: the gap to the solid line is "
            "overfitting, and it narrows as the data grows.\n"
            "- Does the fusion's line sit above the single network's, and is the distance larger on the "
            "left (little data) than on the right?\n"
            "- Error bars wider than the distance between two lines mean the difference could be luck: "
            "add seeds before drawing a conclusion."
        ),
        # overfitting
        "overfit.title": "Overfitting",
        "overfit.intro": (
            "Michael Nielsen's classic demonstration (*Neural Networks and Deep Learning*, chapter 3): a "
            "network of 30 sigmoid units trained on only 1,000 images, with plain stochastic gradient "
            "descent in mini-batches of 10, learns its training images perfectly while its accuracy on "
            "new images stalls. Nielsen reported 100% on the training images and 82% on the test images. "
            "On this engine the plain network also reaches about 100% training accuracy, but about 89% "
            "test accuracy (it starts from different, smaller random weights, so the same 1,000 images "
            "generalise better). Switch on a remedy and train again to see what it changes. Be ready for "
            "a modest answer: at these settings no single remedy moves test accuracy by more than about "
            "a point (dropout and L2 even cost a little), fusing 5 networks adds about half a point, and "
            "what changes most is the gap between training and test accuracy, which narrows only when "
            "the remedies are combined."
        ),
        "overfit.dropout": "Dropout",
        "overfit.dropout.help": "Drops {rate:.0%} of the hidden units at random at every training step.",
        "overfit.l2": "L2 regularisation",
        "overfit.l2.help": "Adds {l2:g} × the sum of squared weights to the loss, pulling weights to zero.",
        "overfit.early": "Early stopping",
        "overfit.early.help": "Stops when validation accuracy has not improved for {n} epochs.",
        "overfit.fusion": "Fuse 5 networks",
        "overfit.fusion.help": "Averages the probabilities of {k} such networks (soft voting).",
        "overfit.epochs": "Epochs",
        "overfit.init": "Initial weights",
        "overfit.init.glorot_uniform": "Glorot uniform (Keras default)",
        "overfit.init.normal": "N(0, 1), as in Nielsen's book",
        "overfit.init.help": (
            "Nielsen starts every weight from N(0, 1). Such large weights let this small network "
            "memorise its 1,000 training images, so the classic gap between training and test accuracy "
            "shows clearly; Glorot's smaller weights generalise better and the gap is narrower."
        ),
        "overfit.summary": "{variant} · {describe} · {epochs} epochs on 1,000 images, SGD, batches of 10",
        "overfit.train": "Train",
        "overfit.train.help": "Trains in the background; an identical run already stored is shown instead.",
        "overfit.busy": "Your run is still going: stop it or wait for it to finish.",
        "overfit.reused": "This exact network is already in the store (run {run_id}): showing it instead.",
        "overfit.live": "Training and validation curves",
        "overfit.compare": "Compare the variants",
        "overfit.compare.caption": (
            "The newest finished run of each variant. Training accuracy is measured on the run's own "
            "1,000 images with dropout off; validation is the last epoch's; test is on 10,000 new images."
        ),
        "overfit.curves": "Fused accuracy per variant",
        "overfit.look_for": (
            "- In the plain run the training curve runs to 100% within a few epochs, while the dashed "
            "validation curve levels off well below it: from then on the network learns its training "
            "images, not digits.\n"
            "- The loss tells it more sharply: validation loss turns upward while training loss keeps "
            "falling.\n"
            "- Compare the gap bars with the test column: a remedy can narrow the gap by lowering "
            "training accuracy without raising test accuracy at all.\n"
            "- Early stopping ends the run near the epoch where validation accuracy peaked, and saves "
            "most of the training time for the same test accuracy."
        ),
        # robustness
        "robust.title": "Robustness",
        "robust.intro": (
            "A network that is 98% accurate on clean MNIST digits may fail on digits that are a little "
            "noisy, rotated, shifted or partly covered, because it only ever saw clean, centred ones. "
            "Fusion is often said to make a model more robust: members make different mistakes, so "
            "their average should degrade more gracefully. This lab tests that on models you trained: "
            "it damages the test digits in a controlled way and measures the accuracy of each model, "
            "and of each member, as the damage grows."
        ),
        "robust.runs": "Models to test",
        "robust.runs.help": "Finished runs with a saved model. Letters A, B, … label them in the grid.",
        "robust.no_runs": "No model yet: train one on the Train page (a single network and a fusion).",
        "robust.kind": "Perturbation",
        "robust.strength": "Strength ({unit})",
        "robust.examples": "Test digits at this strength",
        "robust.examples.caption": "Below each digit, each model's fused prediction: green right, red wrong.",
        "robust.true": "true {digit}",
        "robust.measure": "Measure robustness",
        "robust.measure.help": "Scores each chosen model on 2,000 test digits at each sweep strength.",
        "robust.measuring": "Measuring {run} ({i} of {n})…",
        "robust.unreadable": "The model of {name} cannot be used: {error}. Retrain it or pick another run.",
        "robust.unreadable_any": "A chosen model cannot be used: {error}. Retrain it or pick another run.",
        "robust.members": "Show the members (thin, dotted)",
        "robust.curve": "Accuracy as the damage grows",
        "robust.look_for": (
            "- Every curve starts at the clean accuracy on the left; what matters is how fast it falls.\n"
            "- Rotation and shift hurt a fully connected network badly: it has no notion that a digit "
            "moved a few pixels is the same digit.\n"
            "- Is the fusion's bold line above its members' thin ones at every strength, or only on "
            "clean digits?\n"
            "- Look at the grid at a strength where the curves part: which digits does every model "
            "get wrong?"
        ),
        # cost
        "cost.title": "Cost of fusion",
        "cost.intro": (
            "Fusion wins accuracy by running several networks: more parameters to store, more time "
            "per epoch, more time per prediction. Is the extra accuracy worth it? This lab puts every "
            "run on one chart, accuracy against a cost, and marks the **Pareto front**: the runs that "
            "no other run beats on both at once. A run off the front is dominated: another one is "
            "cheaper and at least as accurate. The preset trains the same small members (2 × 128 "
            "units, 2 epochs on 10,000 images) as one network and as parallel, serial and hybrid "
            "fusions of 2, 3 and 5, about a minute in all on a laptop."
        ),
        "cost.preset": "Run the preset",
        "cost.preset.help": "Trains the 10 preset runs in the background; stored ones are reused.",
        "cost.busy": "The preset is still running: stop it or wait for it to finish.",
        "cost.scope": "Runs to compare",
        "cost.scope.preset": "The preset's runs",
        "cost.scope.all": "All finished runs",
        "cost.scope.pick": "Let me choose",
        "cost.runs": "Runs",
        "cost.axis": "Cost axis",
        "cost.table": "Costs of the chosen runs",
        "cost.look_for": (
            "- Parameters grow with the number of members; accuracy grows much more slowly. "
            "How many points of accuracy does each doubling of the cost buy?\n"
            "- Switch the cost axis: a fusion that is cheap in parameters may be slow per epoch, and "
            "serial fusions pay at prediction time for every stage.\n"
            "- Runs off the front are beaten by a cheaper, more accurate one: there is no reason to "
            "pick them.\n"
            "- Timings vary from run to run on a shared machine; parameters and file sizes do not."
        ),
    },
)
