"""The example notebook examples/report.ipynb: stored without outputs, and (slow) it runs top to
bottom with nbclient, showing the report's HTML view."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
NOTEBOOK = REPO / "examples" / "report.ipynb"


def test_notebook_is_stored_without_outputs():
    nb = json.loads(NOTEBOOK.read_text(encoding="utf-8"))
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert code and all(c["outputs"] == [] and c["execution_count"] is None for c in code)


@pytest.mark.slow
def test_notebook_runs_top_to_bottom(tmp_path, monkeypatch):
    nbformat = pytest.importorskip("nbformat", reason="needs the [notebook] extra: pip install 'fsm-extract[notebook]'")
    nbclient = pytest.importorskip("nbclient", reason="needs the [notebook] extra: pip install 'fsm-extract[notebook]'")
    pytest.importorskip("ipykernel", reason="needs the [notebook] extra: pip install 'fsm-extract[notebook]'")
    # the kernel imports this checkout's package, whatever is installed
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])))
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nbclient.NotebookClient(nb, timeout=600, kernel_name="python3",
                            resources={"metadata": {"path": str(tmp_path)}}).execute()
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    html = [o["data"]["text/html"] for o in outputs if "text/html" in o.get("data", {})]
    assert any("headline" in h for h in html)  # the report's _repr_html_
    page = tmp_path / "tomita7-report.html"
    assert page.exists() and page.stat().st_size < 2 * 2**20
