"""Lesson: a 45-minute path through the lab, one card per step, each a link to its page ready to run."""

import math

import streamlit as st

from fusion_core.store import StoreError
from ui.frame import require_frame
from ui.i18n import t
from ui.lesson import STEP_BUDGET_S, STEPS, nav_key, query_string, step_seconds
from ui.state import get_store

DONE = "lesson_done"  # the ids of the steps this visitor has ticked (kept across page switches)

require_frame()
st.title(t("lesson.title"))
st.markdown(t("lesson.intro"))

try:
    finished = get_store().list_runs(status="done")  # they scale the time estimates to this machine
except (StoreError, OSError, ValueError):
    finished = []
done = st.session_state.setdefault(DONE, set())


def _tick(step_id: str) -> None:
    """A checkbox's state is dropped when another page is shown; the set in DONE is not."""
    if st.session_state[f"{DONE}_{step_id}"]:
        done.add(step_id)
    else:
        done.discard(step_id)


st.progress(len(done) / len(STEPS), text=t("lesson.progress", done=len(done), total=len(STEPS)))
for n, step in enumerate(STEPS, start=1):
    with st.container(border=True, key=f"lesson_step_{step.id}"):
        head_col, link_col = st.columns([3, 1], vertical_alignment="center")
        head_col.caption(t("lesson.step", n=n, total=len(STEPS), minutes=step.minutes))
        head_col.subheader(t(f"lesson.step.{step.id}.title"), anchor=False)
        params = query_string(step)
        link_col.page_link(
            step.page,
            label=t("lesson.open", page=t(nav_key(step))),
            icon="▶️",
            query_params=dict(step.params),
            help=t("lesson.open.help", params=params) if params else t("lesson.open.help_plain"),
            width="stretch",
        )
        do_col, say_col = st.columns(2, gap="large")
        do_col.markdown(f"**{t('lesson.do')}**  \n{t(f'lesson.step.{step.id}.do')}")
        say_col.markdown(f"**{t('lesson.say')}**  \n{t(f'lesson.step.{step.id}.say')}")
        seconds = step_seconds(step, finished)
        rounded = 5 * math.ceil(seconds / 5)  # an estimate: no false precision
        if seconds == 0:
            st.caption(t("lesson.trains_none"))
        elif seconds > STEP_BUDGET_S:
            st.warning(t("lesson.over_budget", seconds=rounded), icon="⏱️")
        else:
            st.caption(t("lesson.trains", seconds=rounded))
        st.checkbox(
            t("lesson.done"), value=step.id in done, key=f"{DONE}_{step.id}", on_change=_tick, args=(step.id,)
        )
