"""Constants for the AppTest page tests (the fixture they share, `app_home`, is in conftest.py)."""

import json
import time
from pathlib import Path

from streamlit.testing.v1 import AppTest

APP = str(Path(__file__).resolve().parents[1] / "app.py")  # what AppTest page tests open
PAGE_TIMEOUT = 60  # seconds; importing TensorFlow alone can take several on a busy machine


def wait_for(at: AppTest, done, seconds: float = 90) -> None:
    """Rerun the app until `done(at)` holds: background jobs finish between AppTest runs."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        at.run()
        assert not at.exception, at.exception
        if done(at):
            return
        time.sleep(0.5)
    raise AssertionError(f"timed out; errors={[e.value for e in at.error]}")


def open_page(page: str, query: dict | None = None) -> AppTest:
    """The app through app.py's frame, switched to pages/<page>.py, with optional URL parameters."""
    at = AppTest.from_file(APP, default_timeout=PAGE_TIMEOUT)
    at.run()
    at.switch_page(f"pages/{page}.py")
    if query:
        at.query_params.update(query)
    at.run()
    assert not at.exception, at.exception
    return at


def plotly_specs(at: AppTest) -> list[str]:
    return [el.proto.spec for el in at.get("plotly_chart")]


def figure_points(figure) -> int:
    """Points a figure draws: its traces' x values that are not None (a legend-only trace has none).

    `figure` is a Plotly figure, its dict, or the JSON spec of a Streamlit plotly_chart."""
    if isinstance(figure, str):
        figure = json.loads(figure)
    data = figure["data"] if isinstance(figure, dict) else figure.data
    total = 0
    for trace in data:
        xs = trace.get("x") if isinstance(trace, dict) else trace.x
        total += sum(v is not None for v in (xs or []))
    return total
