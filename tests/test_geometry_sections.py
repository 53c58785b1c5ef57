"""Strut sections: w = kappa k L_eff / (E t) (sheet), d = 2 sqrt(kappa k L_eff / (pi E)) (round), the
printable range as k bounds, and the printability checks."""
import numpy as np
import pytest

from mechclln import lattices
from mechclln.errors import MechcllnError
from mechclln.geometry.checks import check_part
from mechclln.geometry.materials import get_material
from mechclln.geometry.part import build_part
from mechclln.geometry.sections import k_bounds, sections, stiffness_scale
from mechclln.geometry.spec import PartSpec


def test_sheet_width_matches_axial_stiffness_formula():
    net = lattices.triangular(5, 5)
    rng = np.random.default_rng(0)
    net = net.with_params(k=rng.uniform(0.8, 2.0, net.n_edges))
    spec, mat = PartSpec(scale=10.0, thickness=2.0, hub_radius=2.0), get_material("tpu95a")
    sec = sections(net, spec, mat)
    lf = 10.0 * net.lengths() - 2 * 2.0
    np.testing.assert_allclose(sec.free_length, lf)
    kappa = mat.youngs_modulus * 1.2 * 2.0 / np.median(lf)      # k = 1 strut of median length gets 1.2 mm
    assert stiffness_scale(net, spec, mat) == pytest.approx(kappa)
    np.testing.assert_allclose(sec.width_raw, kappa * net.k * lf / (mat.youngs_modulus * 2.0))
    # the strut's axial stiffness E t w / L_free equals the spring's physical stiffness kappa k
    inside = (sec.width_raw >= sec.width_range[0]) & (sec.width_raw <= sec.width_max)
    np.testing.assert_allclose((mat.youngs_modulus * 2.0 * sec.width / lf)[inside], (kappa * net.k)[inside])


def test_round_strut_and_necks():
    net = lattices.cubic_diagonal(2, 2, 2)
    spec = PartSpec(neck_fraction=0.5, neck_length=1.0)
    mat = get_material("pla")
    sec = sections(net, spec, mat)
    leff = sec.free_length + 2 * 1.0 * (1 / 0.25 - 1)        # neck area fraction 0.5^2 in series
    np.testing.assert_allclose(sec.effective_length, leff)
    np.testing.assert_allclose(np.pi * sec.width_raw ** 2 / 4 * mat.youngs_modulus / leff, sec.kappa * net.k)


def test_k_bounds_map_back_to_the_printable_width_range():
    net = lattices.triangular(4, 4)
    spec, mat = PartSpec(), get_material("tpu95a")
    kmin, kmax = k_bounds(net, spec, mat)
    lo, _ = spec.width_range(mat)
    hi = sections(net, spec, mat).width_max                    # max_width, or less where the hubs limit it
    assert np.all(kmin < 1) and np.all(kmax > 1)               # the nominal k = 1 is printable
    for k, w in ((kmin, lo), (kmax, hi)):
        np.testing.assert_allclose(sections(net.with_params(k=k), spec, mat).width_raw, w)
    # a stiffness beyond the bounds is clipped to the range and reported
    k = np.ones(net.n_edges)
    k[0], k[1] = kmin[0] * 0.5, kmax[1] * 2
    part = build_part(net.with_params(k=k), spec, mat, x_print=net.x)
    assert part.width[0] == pytest.approx(lo) and part.width[1] == pytest.approx(hi[1])
    rep = check_part(part)
    assert rep.clipped_thin == [0] and rep.clipped_wide == [1] and not rep.errors


def test_all_struts_below_printable_minimum_is_an_error():
    net = lattices.triangular(4, 4)
    net = net.with_params(k=np.full(net.n_edges, 0.1))
    with pytest.raises(MechcllnError, match="nominal_width"):
        build_part(net, PartSpec(), "tpu95a", x_print=net.x)


def test_crossing_struts_are_rejected():
    net = lattices.kagome(3, 3, nnn=True)      # next-nearest-neighbour bonds cross in the plane
    with pytest.raises(MechcllnError, match="cross"):
        build_part(net, x_print=net.x)
    clean = lattices.triangular(5, 5)
    assert not check_part(build_part(clean, x_print=clean.x)).errors


def test_hub_limits_strut_width_and_rejects_crowded_hubs():
    """Struts 60 degrees apart on a hub of radius R fit side by side up to w = 2 R sin(30 deg) (95 % of it is
    allowed): wider requests are narrowed and reported; a hub too small for the thinnest printable strut is
    an error naming hub_radius."""
    net = lattices.triangular(4, 4)
    spec = PartSpec(hub_radius=1.7, hole_diameter=0.5, max_width=3.0, nominal_width=3.0, min_width=0.8)
    part = build_part(net, spec, x_print=net.x)
    assert part.width.max() == pytest.approx(0.95 * 2 * 1.7 * np.sin(np.pi / 6))
    rep = check_part(part)
    assert not rep.errors and len(rep.clipped_wide) == net.n_edges
    tiny = PartSpec(hub_radius=0.7, hole_diameter=0.3, max_width=1.2, nominal_width=1.0, min_width=0.8)
    with pytest.raises(MechcllnError, match="hub_radius"):
        build_part(net, tiny, x_print=net.x)


def test_bad_spec_is_rejected():
    with pytest.raises(MechcllnError, match="max_width"):
        PartSpec(max_width=6.0, hub_radius=2.0).validate()
    with pytest.raises(MechcllnError, match="material"):
        get_material("wood")
