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


@contextmanager
def stage_bar(desc: str, quiet: bool = False):
    """A percentage bar of a long staged computation; yields the ``progress(stage, fraction)`` callback of
    :func:`mechclln.packing.jammed_network`. The bar shows the stage and the largest fraction reported in
    it so far (it starts again at each new stage; the clock runs on)."""
    from tqdm.auto import tqdm

    with tqdm(desc=desc, total=100, unit="%", disable=quiet, bar_format="{desc}: {percentage:3.0f}%|{bar}| "
              "{elapsed}{postfix}") as bar:
        current = [None]

        def tick(stage, fraction):
            if stage != current[0]:
                current[0] = stage
                bar.set_postfix_str(stage, refresh=False)
                bar.n = 0
            bar.n = max(bar.n, round(100 * fraction))
            bar.refresh()
        yield tick
