"""The guided lesson: a 45-minute path through the lab, as data.

Each `Step` names the page it opens, the URL parameters that give that page its ready-made
experiment (a Train preset with `?preset=`, a lab's plan with `?plan=`), its minutes in the lesson,
and its words in the catalog: `lesson.step.<id>.title`, `.do` (what to click) and `.say` (what to
point out). The page (pages/lesson.py) draws one card per step with a link; tests/test_page_lesson.py
checks that every link's page exists, every preset exists, and every step that trains fits in a
minute by fusion_core.limits' estimate.

Every step that trains is one minute long on two CPU cores: the article's network and the 5-member
fusion train 2 epochs on 20,000 images (their presets train more, and say so), the mixed fusion is
the `minute` preset, the data-size sweep its '1 minute' plan, and the overfitting network is tiny.
The robustness step opens its '1 minute' plan, whose two runs are those of the first and third
steps when they are stored; drawing and cost reuse the networks trained before them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from fusion_core.config import RunConfig
from fusion_core.experiments import overfit_config
from fusion_core.limits import estimate

LESSON_MINUTES = 45
STEP_BUDGET_S = 60.0  # what one step may spend training, by fusion_core.limits' estimate
# What each run costs besides its epochs, which fusion_core.limits' estimate leaves out: building and
# tracing the model, scoring the test set, saving. Measured with jobs.run_job on the real MNIST, on
# 2 busy cores (load average 27): the data-size step's 8 runs took 28.9 s against 6 s of estimated
# epochs, the article's network 11.1 s against 7 s.
RUN_OVERHEAD_S = 3.0
# The lesson's cut of the article's network and of the 5-member fusion: 2 epochs on 20,000 images.
LESSON_EPOCHS = "2"
LESSON_IMAGES = "20000"


@dataclass(frozen=True)
class Step:
    """One step of the lesson: where it goes, with which ready-made experiment, for how long."""

    id: str  # the catalog's keys: lesson.step.<id>.title / .do / .say
    page: str  # the page's script, as app.py's navigation names it
    minutes: int  # this step's share of the lesson
    params: Mapping[str, str] = field(default_factory=dict)  # the URL parameters the page opens with


STEPS: tuple[Step, ...] = (
    Step("article", "pages/train.py", 6,
         {"preset": "article", "epochs": LESSON_EPOCHS, "train_size": LESSON_IMAGES}),
    Step("parallel5", "pages/train.py", 6,
         {"preset": "parallel5", "epochs": LESSON_EPOCHS, "train_size": LESSON_IMAGES}),
    Step("mixed", "pages/train.py", 6, {"preset": "minute"}),
    Step("draw", "pages/draw.py", 5),
    Step("data_size", "pages/data_size.py", 6, {"plan": "minute"}),
    Step("overfitting", "pages/overfitting.py", 6),
    Step("robustness", "pages/robustness.py", 5, {"plan": "minute"}),
    Step("cost", "pages/cost.py", 5),
)  # fmt: skip


def step_configs(step: Step) -> list[RunConfig]:
    """The runs a step trains when its link is followed and its button pressed (empty: none)."""
    if step.page == "pages/train.py":
        from ui.config_ui import preset_config  # the Train page's own reading of its URL

        config = preset_config(None, dict(step.params))
        return [config] if config is not None else []
    if step.page == "pages/data_size.py":
        from ui.labs_views import SWEEP_MINUTE_PLAN, sweep_points

        return [point.config for point in sweep_points(SWEEP_MINUTE_PLAN)]
    if step.page == "pages/robustness.py":
        from ui.presets import robust_minute_configs

        return list(robust_minute_configs())
    if step.page == "pages/overfitting.py":
        return [overfit_config()]  # the page's defaults: Nielsen's network on 1,000 images, 30 epochs
    return []


def step_seconds(step: Step, finished_runs: Iterable[dict[str, Any]] = ()) -> float:
    """The step's estimated time: its runs' epochs by fusion_core.limits (scaled by `finished_runs`)
    plus RUN_OVERHEAD_S each, summed (they queue one after another)."""
    finished = list(finished_runs)
    return sum(RUN_OVERHEAD_S + estimate(config, finished).total_seconds for config in step_configs(step))


def query_string(step: Step) -> str:
    """'preset=article&epochs=2&train_size=20000': the step's URL parameters, for showing."""
    return "&".join(f"{key}={value}" for key, value in step.params.items())


def nav_key(step: Step) -> str:
    """The catalog key of the step's page title, as the menu shows it: 'nav.train'."""
    return "nav." + step.page.removeprefix("pages/").removesuffix(".py")
