"""notebooks/compare.ipynb runs top to bottom on a hand-made multirun directory."""

from pathlib import Path

import nbformat
from nbclient import NotebookClient

NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "compare.ipynb"


def _outputs(nb: nbformat.NotebookNode, kind: str) -> list[str]:
    return [
        out["data"][kind]
        for cell in nb.cells
        if cell.cell_type == "code"
        for out in cell.outputs
        if out.get("output_type") == "display_data" and kind in out.get("data", {})
    ]


def test_compare_notebook_shows_the_table_and_plots(sweep_dir, monkeypatch):
    monkeypatch.setenv("DRIFT_REPORT_DIR", str(sweep_dir))
    nb = nbformat.read(NOTEBOOK, as_version=4)
    assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code"), "clear outputs"
    client = NotebookClient(
        nb,
        timeout=60,
        kernel_name="python3",
        resources={"metadata": {"path": str(NOTEBOOK.parent)}},
    )
    client.execute()
    streams = "".join(
        out.get("text", "") for c in nb.cells if c.cell_type == "code" for out in c.outputs
    )
    assert str(sweep_dir) in streams and "12 (run, method) records in 4 groups" in streams
    (table,) = _outputs(nb, "text/markdown")
    assert "| drift_iw | method.beta=0.05 | 3 | 0.400 ± 0.200 |" in table
    assert "nothing to draw" in streams  # no attribution metrics in this sweep
    assert len(_outputs(nb, "image/png")) == 1  # the acc@k figure
