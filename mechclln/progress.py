"""Progress bars (tqdm, on stderr) of the long stages, handed to them as their progress callbacks."""
from __future__ import annotations

from contextlib import contextmanager


@contextmanager
def design_bar(quiet: bool = False):
    """A bar of a frame design (one tick per Gauss-Newton step); yields the ``progress(phase, step, C)``
    callback of :func:`mechclln.geometry.design_run.design_network`."""
    from tqdm.auto import tqdm

    with tqdm(desc="frame design", unit="step", disable=quiet) as bar:
        def tick(phase, step, C):
            bar.set_postfix_str(f"{phase}: C={C:.3g}", refresh=False)
            bar.update(1)
        yield tick


@contextmanager
def refine_bar(quiet: bool = False):
    """A bar of a printable refinement (one call per phase: relax, snapping rounds, final); yields the
    ``progress(entry)`` callback of :func:`mechclln.geometry.printable.refine_run`."""
    from tqdm.auto import tqdm

    with tqdm(desc="printable refinement", unit="step", disable=quiet) as bar:
        def tick(entry):
            bar.set_postfix_str(f"{entry['phase']}: C={entry['C_end']:.3g}, left out {entry['left_out']}",
                                refresh=False)
            bar.update(entry["steps"])
        yield tick
