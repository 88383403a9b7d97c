"""Every notebook in model_notebooks/ runs top to bottom with small settings; each is kept as a
jupytext percent-format ``.py`` paired with its ``.ipynb``, and the two hold the same cells, the
``.ipynb`` with outputs cleared.

The kernel is the ``python3`` spec that ipykernel ships into the virtualenv; jupyter_client
starts it with this interpreter (``sys.executable``), so it sees the same packages.
Durations are printed (run with ``-s``) and written to test-artifacts/notebook_timings.json.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import jupytext
import nbformat
import pytest

NOTEBOOK_DIR = Path(__file__).resolve().parents[1]
REPO_ROOT = NOTEBOOK_DIR.parent
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("[0-9][0-9]_*.ipynb"))
TIMINGS = REPO_ROOT / "test-artifacts" / "notebook_timings.json"


def test_the_five_notebooks_exist():
    assert [p.stem for p in NOTEBOOKS] == [
        "01_data_and_preprocessing",
        "02_pairs",
        "03_training",
        "04_evaluation",
        "05_error_analysis",
    ]


def test_every_notebook_is_paired_with_its_percent_script():
    scripts = sorted(NOTEBOOK_DIR.glob("[0-9][0-9]_*.py"))
    assert [p.stem for p in scripts] == [p.stem for p in NOTEBOOKS]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_and_its_script_hold_the_same_cells_and_no_outputs(path):
    committed = nbformat.read(path, as_version=4)
    nbformat.validate(committed)
    assert committed.metadata["jupytext"]["formats"] == "ipynb,py:percent", f"{path.name} is not paired"
    script = path.with_suffix(".py")
    paired = jupytext.read(script)
    assert paired.metadata["jupytext"]["formats"] == "ipynb,py:percent", f"{script.name} is not paired"
    assert [(c.cell_type, c.source) for c in committed.cells] == [(c.cell_type, c.source) for c in paired.cells], (
        f"{path.name} and {script.name} differ: edit the .py, then run "
        f"`.venv/bin/jupytext --sync model_notebooks/{script.name}`"
    )
    for cell in committed.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, f"{path.name} has outputs: clear them"


def test_every_notebook_has_the_small_settings_switch_and_uses_sigverify():
    for path in NOTEBOOKS:
        nb = nbformat.read(path, as_version=4)
        code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
        assert 'os.environ.get("SIGVERIFY_NOTEBOOK_SMALL") == "1"' in nb.cells[1].source, path.name
        assert "from sigverify" in code, path.name


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_with_small_settings(path, tmp_path, monkeypatch):
    from nbclient import NotebookClient

    monkeypatch.setenv("SIGVERIFY_NOTEBOOK_SMALL", "1")
    monkeypatch.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    monkeypatch.setenv("SIGVERIFY_CACHE", str(tmp_path / "cache"))
    for name in ("SIGVERIFY_API_URL", "SIGVERIFY_API_TOKEN"):  # the REST section must skip, not call out
        monkeypatch.delenv(name, raising=False)
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb,
        kernel_name="python3",
        timeout=600,
        startup_timeout=120,
        resources={"metadata": {"path": str(tmp_path)}},
    )
    started = time.perf_counter()
    client.execute()  # raises CellExecutionError on the first failing cell
    seconds = time.perf_counter() - started
    print(f"{path.name}: {seconds:.1f} s")
    TIMINGS.parent.mkdir(parents=True, exist_ok=True)
    timings = json.loads(TIMINGS.read_text()) if TIMINGS.exists() else {}
    timings[path.name] = round(seconds, 1)
    TIMINGS.write_text(json.dumps(timings, indent=2, sort_keys=True) + "\n")
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.get("output_type") == "error"]
    assert not errors
