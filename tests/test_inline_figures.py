"""Each cell's figures appear under that cell, whatever the matplotlib version (3.7 with IPython 9 put them under the next)."""
import matplotlib
import nbformat
import pytest

from d2l_local import plotting


class _Shell:
    def __init__(self):
        self.magics = []

    def run_line_magic(self, name, line):
        self.magics.append((name, line))


@pytest.mark.parametrize("notebook, backend, expected", [
    (True, plotting.INLINE_BACKEND, [("matplotlib", "inline")]),
    (True, "inline", [("matplotlib", "inline")]),
    (True, "module://ipympl.backend_nbagg", []),  # %matplotlib widget, chosen on purpose
    (False, plotting.INLINE_BACKEND, []),  # a script
])
def test_inline_figures_are_switched_on_only_in_a_notebook_with_the_inline_backend(monkeypatch, notebook, backend,
                                                                                    expected):
    shell = _Shell()
    monkeypatch.setattr(plotting, "in_notebook", lambda: notebook)
    monkeypatch.setattr(matplotlib, "get_backend", lambda: backend)
    monkeypatch.setattr("IPython.get_ipython", lambda: shell)
    plotting.show_figures_inline()
    assert shell.magics == expected


def test_a_figure_appears_under_the_cell_that_drew_it():
    """A real kernel: the figure of show_images belongs to its own cell, not to the next one."""
    from nbclient import NotebookClient

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("import torch\nimport d2l_local as d2l"),
                nbformat.v4.new_code_cell("axes = d2l.show_images(torch.rand(2, 28, 28), 1, 2)"),
                nbformat.v4.new_code_cell("print('next cell')")]
    NotebookClient(nb, timeout=120, kernel_name="python3").execute()
    kinds = [[o.output_type for o in cell.outputs] for cell in nb.cells]
    assert kinds == [[], ["display_data"], ["stream"]]
    assert "image/png" in nb.cells[1].outputs[0].data
