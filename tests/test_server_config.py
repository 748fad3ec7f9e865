"""The server settings in .streamlit/config.toml, as Streamlit itself reads them."""

import os
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / ".streamlit" / "config.toml"


def streamlit_reads(*names: str) -> list[str]:
    """The values Streamlit reads from the project's config file, in a fresh process run from the root."""
    code = "import streamlit.config as c, sys\nfor n in sys.argv[1:]: print(repr(c.get_option(n)))"
    out = subprocess.run(
        [sys.executable, "-c", code, *names],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        env=os.environ,
    )
    return out.stdout.splitlines()


def test_visitors_see_no_error_details_and_the_server_stays_on_localhost():
    assert streamlit_reads(
        "client.showErrorDetails", "server.address", "server.maxUploadSize", "client.showSidebarNavigation"
    ) == ["'none'", "'localhost'", "50", "False"]


def test_the_file_has_one_client_table():
    text = CONFIG.read_text()
    assert text.count("[client]") == 1
    assert tomllib.loads(text)["client"]["toolbarMode"] == "viewer"
