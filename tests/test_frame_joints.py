"""Semi-rigid joints of the 2D frame (mechclln.frame.JointCompliance): series compliance and exact derivatives."""
import numpy as np
import pytest

from mechclln.errors import MechcllnError
from mechclln.frame import Frame, JointCompliance
import test_frame
from test_frame import E, NU, R, T, clamped_tip, random_frame

JOINTS = JointCompliance((0.7, -0.05, -0.6), (7.0, -2.5, 1.3))    # about FEM_JOINTS, all terms nonzero


def jointed(fr):
    return Frame(fr.x, fr.edges, E, NU, R, T, fr.pinned, joints=JOINTS)


def test_bar_axial_stiffness_is_strut_and_two_roots_in_series():
    """Tip stretch under a unit pull = L_f/(E A) + 2 c_a, c_a = alpha_a(w/R)/(E t)."""
    w = 1.3
    fr = Frame([[0.0, 0], [20, 0]], [[0, 1]], E, NU, R, T, joints=JOINTS)
    Lf = 20.0 - 2 * np.sqrt(R ** 2 - w ** 2 / 4)
    ca = (0.7 - 0.05 * w / R - 0.6 * np.log(w / R)) / (E * T)
    assert clamped_tip(fr, w, 0)[0] == pytest.approx(Lf / (E * w * T) + 2 * ca, rel=1e-12)


def test_clamped_tip_rotation_adds_both_roots():
    """Pure tip moment: the rotation is L_f/EI of the strut plus c_r at each of its two ends."""
    w = 1.1
    fr = Frame([[0.0, 0], [20, 0]], [[0, 1]], E, NU, R, T, joints=JOINTS)
    Lf = 20.0 - 2 * np.sqrt(R ** 2 - w ** 2 / 4)
    cr = (7.0 - 2.5 * w / R + 1.3 * np.log(w / R)) / (E * T * w ** 2)
    assert clamped_tip(fr, w, 2)[2] == pytest.approx(Lf / (E * T * w ** 3 / 12) + 2 * cr, rel=1e-12)


def test_joints_soften_and_keep_rigid_motions_free():
    """Joints only add compliance: K_rigid - K_joints is positive semi-definite, rigid motions stay free."""
    fr, w, _ = random_frame(6)
    K0 = fr.tangent(np.zeros(fr.ndof), w, True).toarray()
    K = jointed(fr).tangent(np.zeros(fr.ndof), w, True).toarray()
    assert abs(K @ fr.rigid_modes()).max() < 1e-12 * abs(K).max()
    ev = np.linalg.eigvalsh(K0 - K)
    assert ev.min() > -1e-10 * ev.max() and ev.max() > 0.05 * np.linalg.eigvalsh(K0).max()


@pytest.fixture
def jointed_random_frames(monkeypatch):
    """test_frame's random frames, with joints: its derivative checks then run on the jointed element."""
    plain = test_frame.random_frame

    def with_joints(seed=0, n=14):
        fr, w, rng = plain(seed, n)
        return jointed(fr), w, rng

    monkeypatch.setattr(test_frame, "random_frame", with_joints)


@pytest.mark.parametrize("check", [
    test_frame.test_rigid_motions_cost_nothing_and_tangent_is_symmetric,
    lambda: test_frame.test_forces_and_tangent_are_derivatives_of_the_energy(True),
    lambda: test_frame.test_forces_and_tangent_are_derivatives_of_the_energy(False),
    test_frame.test_corotational_tends_to_linear_as_the_input_vanishes,
    lambda: test_frame.test_adjoint_width_gradient_matches_finite_differences(True),
    lambda: test_frame.test_adjoint_width_gradient_matches_finite_differences(False),
    test_frame.test_energy_width_derivative_matches_finite_differences,
], ids=["rigid-motions", "forces-tangent-linear", "forces-tangent-corotational", "corotational-limit",
        "adjoint-linear", "adjoint-corotational", "energy-width-derivative"])
def test_frame_checks_hold_with_joints(jointed_random_frames, check):
    """Energy, forces, tangent, width derivative and adjoint stay exact with joints (FD checks of test_frame;
    the joint compliances depend on w through alpha(w/R) and 1/w^2, carried by the complex step)."""
    check()


def test_joints_are_2d_only():
    with pytest.raises(MechcllnError, match="2D"):
        Frame(np.array([[0.0, 0, 0], [20, 0, 0]]), [[0, 1]], E, NU, R, joints=JOINTS)
