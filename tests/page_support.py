"""Constants for the AppTest page tests (the fixture they share, `app_home`, is in conftest.py)."""

from pathlib import Path

APP = str(Path(__file__).resolve().parents[1] / "app.py")  # what AppTest page tests open
PAGE_TIMEOUT = 60  # seconds; importing TensorFlow alone can take several on a busy machine
