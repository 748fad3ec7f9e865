"""Live charts a class can watch: a real training on Train, its charts sampled on every frame.

The test reads the charts' trace data (`el.data` of each Plotly chart), never their titles: while the
run goes on, and through the swap to the finished run, each chart stays on the page and the number of
points it draws never goes down. Then the finished accuracy chart tells the members and the fusion
apart: one colour each, the fusion drawn last with the widest line.
"""

from __future__ import annotations

import time

import pytest
from playwright.sync_api import expect

from tests.browser.harness import (
    chart_traces,
    install_point_recorder,
    observed_counts,
    open_page,
    screenshot,
    wait_count,
)

pytestmark = pytest.mark.browser

LOSS, ACCURACY = "Loss", "Accuracy"  # the live charts' titles
STOP = ".st-key-train_live_stop button"
RESULTS = "Results on the 10,000 test images"


def train_button(page):
    return page.get_by_role("button", name="Train", exact=True).filter(visible=True).first


def test_live_charts_never_lose_points_and_tell_members_apart(app_server, app_page, idle_runner):
    page = app_page
    # The quick preset: 3 members of 1x128 and a soft vote on 10,000 images. On a quiet machine an
    # epoch takes about half a second, so 6 epochs left only a few of the page's polls (two a
    # second) inside the run; 15 keep it training for several seconds.
    open_page(page, f"{app_server.url}/train?preset=quick&epochs=15", ready=".st-key-train_button button")
    expect(train_button(page)).to_be_enabled(timeout=60_000)
    wait_count(page, ACCURACY, 0, timeout_s=60)  # Plotly loaded, the empty charts drawn

    install_point_recorder(page, [LOSS, ACCURACY], STOP)
    started = time.monotonic()
    train_button(page).click()
    expect(page.get_by_text(RESULTS)).to_be_visible(timeout=180_000)
    page.wait_for_timeout(1_000)  # a few more frames of the finished page
    elapsed = time.monotonic() - started
    frames = page.evaluate("() => window.__flFrames")

    for title in (LOSS, ACCURACY):
        seen = observed_counts(page, title)
        first = next((i for i, (n, _, _) in enumerate(seen) if n), None)
        assert first is not None, f"{title}: no point was ever drawn: {seen}"
        after = seen[first:]
        counts = [n for n, _, _ in after]
        # never gone (None) nor blank (0) from the first point on, through the live -> final swap
        assert None not in counts and 0 not in counts, f"{title} left the page or went blank: {after}"
        assert counts == sorted(counts), f"{title} lost points between two frames: {after}"
        live = {n for n, running, _ in after if running}
        assert len(live) >= 3, f"{title}: expected >= 3 live updates, saw {sorted(live)}"
        span_s = (after[-1][2] - after[0][2]) / 1000 or 1.0
        print(f"{title}: {len(set(counts))} distinct counts in {span_s:.1f} s ({len(live)} while running)")
    print(f"{frames} frames sampled in {elapsed:.1f} s")

    traces = [tr for tr in chart_traces(page, ACCURACY) if tr["points"]]
    series = {tr["code"].split(":")[0] for tr in traces}
    assert series == {"member_0", "member_1", "member_2", "fused"}, traces
    colour = {}
    for tr in traces:  # a series' training and validation traces share its colour
        colour.setdefault(tr["code"].split(":")[0], set()).add(tr["colour"])
    assert all(len(c) == 1 for c in colour.values()), colour
    assert len({next(iter(c)) for c in colour.values()}) == 4, colour  # members and fusion all differ
    assert traces[-1]["code"].startswith("fused:"), [tr["code"] for tr in traces]  # drawn on top
    fused = [tr["width"] for tr in traces if tr["code"].startswith("fused:")]
    members = [tr["width"] for tr in traces if not tr["code"].startswith("fused:")]
    assert min(fused) > max(members), traces
    screenshot(page, "train_live_charts", scroll_to=page.get_by_text(RESULTS))
