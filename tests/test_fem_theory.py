"""FEM validation against beam theory and internal consistency of the hole-based inputs/outputs.

Plane stress, P2 elements, mm / N / MPa. Each test names the physics it checks.
"""
import numpy as np
import pytest

from mechclln.errors import MechcllnError

pytestmark = pytest.mark.fem

E, NU, T = 100.0, 0.3, 2.0
TRIANGLE = np.array([[0.0, 0.0], [30.0, 0.0], [15.0, 15.0 * np.sqrt(3)]])
TRI_EDGES = [[0, 1], [1, 2], [0, 2]]


def _sheet(x, edges, w, h, R=2.4, rh=0.75, E=E, nu=NU, t=T):
    from fixtures import fem_sheets
    from mechclln.fem import part
    g = fem_sheets.build_sheet(x, edges, w, R, rh, h=h)
    return part.from_gmsh(g, E=E, nu=nu, thickness=t)


@pytest.fixture(scope="module")
def triangle():
    return _sheet(TRIANGLE, TRI_EDGES, 1.2, h=0.6, E=26.0, nu=0.48, t=3.0)


def _clamped_rectangle(L, w, h):
    """A rectangle L x w clamped on its left edge; returns (part, dirichlet bc, ds measure)."""
    from fixtures import fem_sheets
    from mechclln.fem import part, stack
    import ufl
    dfx = stack.dolfinx()
    g = fem_sheets.build_rectangle(L, w, h)
    data = dfx.io.gmsh.model_to_mesh(g.model, stack.mpi().COMM_WORLD, 0, gdim=2)
    pt = part.from_mesh(data.mesh, data.cell_tags, data.facet_tags, E=E, nu=NU, thickness=T)
    dofs = dfx.fem.locate_dofs_topological(pt.V, 1, data.facet_tags.find(1))
    bc = dfx.fem.dirichletbc(np.zeros(2), dofs, pt.V)
    return pt, bc, ufl.Measure("ds", domain=pt.mesh, subdomain_data=data.facet_tags)


def _end_load(pt, bc, ds, traction, name):
    from mechclln.fem import elasticity, stack
    import ufl
    dfx = stack.dolfinx()
    a, _, v = elasticity.stiffness_form(pt)
    L_form = T * ufl.inner(ufl.as_vector(traction), v) * ds(2)
    opts = {"ksp_type": "preonly", "pc_type": "lu", "pc_factor_mat_solver_type": "mumps"}
    return dfx.fem.petsc.LinearProblem(a, L_form, bcs=[bc], petsc_options_prefix=name,
                                       petsc_options=opts).solve()


def test_slender_strut_axial_stiffness_matches_Ewt_over_L():
    """A strut pulled by the force pair on its two pin holes has k = E w t / L_free (hubs add < 2 %)."""
    from mechclln.fem import linear
    L, w, R = 150.0, 0.5, 2.0
    pt = _sheet([[0, 0], [L + 2 * R, 0]], [[0, 1]], w, h=0.5, R=R, rh=0.8)
    st = linear.LinearModel(pt).solve([[0, 1]], [0.01])
    r0 = np.linalg.norm(pt.centres[1] - pt.centres[0])
    k_fem = st.tension[0] / (0.01 * r0)
    k_theory = E * w * T / L
    assert abs(k_fem / k_theory - 1) < 0.02
    assert k_fem < k_theory       # the hubs can only add compliance in series


def test_cantilever_tip_deflection_matches_euler_bernoulli():
    """Tip shear P on a clamped L/h = 20 cantilever: delta = P L^3 / (3 E I), I = t h^3 / 12."""
    L, w, P = 20.0, 1.0, 1.0
    pt, bc, ds = _clamped_rectangle(L, w, 0.5)
    uh = _end_load(pt, bc, ds, (0.0, -P / (w * T)), "cantilever")
    xyz = pt.V.tabulate_dof_coordinates()
    tip = uh.x.array.reshape(-1, 2)[np.isclose(xyz[:, 0], L), 1].mean()
    delta = P * L ** 3 / (3 * E * T * w ** 3 / 12)
    assert abs(-tip / delta - 1) < 0.05


def test_first_buckling_load_matches_euler():
    """Clamped-free column under end compression buckles at P = pi^2 E I / (4 L^2) (SLEPc, linearised)."""
    from mechclln.fem import buckling, elasticity, stack
    dfx = stack.dolfinx()
    L, w = 20.0, 1.0
    pt, bc, ds = _clamped_rectangle(L, w, 0.5)
    u0 = _end_load(pt, bc, ds, (-1.0 / (w * T), 0.0), "column")     # unit compressive load, N
    a, _, _ = elasticity.stiffness_form(pt)
    K = dfx.fem.petsc.assemble_matrix(dfx.fem.form(a), bcs=[bc], diag=1.0)
    KG = dfx.fem.petsc.assemble_matrix(dfx.fem.form(buckling.geometric_form(pt, u0)), bcs=[bc], diag=0.0)
    K.assemble()
    KG.assemble()
    mu = buckling.smallest_factors(K, KG, 2)
    P_euler = np.pi ** 2 * E * T * w ** 3 / 12 / (4 * L ** 2)
    assert abs(mu[0] / P_euler - 1) < 0.05
    assert mu[1] / mu[0] > 5      # second mode (3 pi / 2 L)^2: about 9 times higher


def test_rigid_triangle_stretching_one_side_barely_strains_the_others(triangle):
    """A triangle is rigid under central forces: imposing a strain on one side leaves the other two
    unstrained in the spring model; in FEM they strain by under 1 % of it (hub and bending effects),
    symmetrically. The source stiffness is the loaded strut's in series with two hubs: below
    E w t / L_free (hubs add compliance) and above E w t / r0 (a hub is stiffer than more strut)."""
    from mechclln.fem import linear
    model = linear.LinearModel(triangle)
    st = model.solve([[0, 1]], [0.01])
    others = model.strains(st, [[0, 2], [1, 2]])
    assert np.all(np.abs(others) < 1e-4)
    assert abs(others[0] - others[1]) < 0.02 * abs(others[0])
    k_source = st.tension[0] / (0.01 * 30.0)
    EwT = 26.0 * 1.2 * 3.0
    assert EwT / 30.0 < k_source < EwT / (30.0 - 2 * 2.4)


def test_multipliers_are_the_pair_forces_clapeyron(triangle):
    """Clapeyron: the strain energy 1/2 u.K u equals the work 1/2 sum T_s eps_s r0_s of the force pairs;
    a pinned hole's mean displacement is zero and the pin changes no strain (it only fixes the frame)."""
    from mechclln.fem import linear
    free = linear.LinearModel(triangle)
    pinned = linear.LinearModel(triangle, pinned=[0])
    pairs, eps = [[0, 1], [1, 2]], [0.01, -0.005]
    s1, s2 = free.solve(pairs, eps), pinned.solve(pairs, eps)
    assert np.abs(s2.ubar[0]).max() < 1e-12
    np.testing.assert_allclose(s1.tension, s2.tension, rtol=1e-8)
    r0 = np.array([30.0, 30.0])
    work = 0.5 * np.sum(s1.tension * np.array(eps) * r0)
    energy = 0.5 * triangle.comm.allreduce(float(s1.u @ _stiffness_times(triangle, s1.u)))
    assert abs(energy / work - 1) < 1e-3


def _stiffness_times(pt, u_owned):
    from mechclln.fem import elasticity, stack
    dfx = stack.dolfinx()
    a, _, _ = elasticity.stiffness_form(pt)
    K = dfx.fem.petsc.assemble_matrix(dfx.fem.form(a))
    K.assemble()
    x, y = K.createVecs()
    x.array[:] = u_owned
    K.mult(x, y)
    return y.array.copy()


def test_mesh_refinement_converges():
    """Source stiffness of the triangle (force per imposed strain): successive refinements change it
    less and less, and the two finest meshes agree within 0.5 %."""
    from mechclln.fem import linear
    values = []
    for h in (1.2, 0.6, 0.3):
        pt = _sheet(TRIANGLE, TRI_EDGES, 1.2, h=h)
        model = linear.LinearModel(pt)
        values.append(model.solve([[0, 1]], [0.01]).tension[0])
    d1, d2 = abs(values[1] - values[0]), abs(values[2] - values[1])
    assert d2 < d1
    assert d2 < 0.005 * abs(values[2])


def test_neo_hookean_reduces_to_linear_at_small_strain_and_stiffens_in_tension(triangle):
    """At 0.1 % the neo-Hookean tension matches the linear one within 0.5 %; Newton converges
    quadratically (last step tiny); at 15 % stretch the secant stiffness differs from linear."""
    from mechclln.fem import finite, linear
    lin = linear.LinearModel(triangle).solve([[0, 1]], [0.001])
    nh = finite.FiniteStrainModel(triangle)
    small = nh.solve([[0, 1]], [0.001])
    assert abs(small.tension[0] / lin.tension[0] - 1) < 5e-3
    steps = nh.iterations
    assert steps[-1] < 1e-6 * steps[0]
    big = nh.solve([[0, 1]], [0.15], steps=3, u0=np.zeros_like(small.u))
    assert abs(nh.strains(big, [[0, 1]])[0] - 0.15) < 1e-9
    assert abs(big.tension[0] / (150 * lin.tension[0]) - 1) > 0.01


def test_neo_hookean_modulus_factor_field_matches_the_linear_one(triangle):
    """A cell-wise modulus factor (DG0: 2 on the cells right of the triangle's axis, 1 elsewhere) enters
    the neo-Hookean energy as it enters the linear stiffness: at 0.1 % the two tensions agree within
    0.5 %, and differ from the unscaled part's by more than 10 % (the stiffened half carries load)."""
    from mechclln.fem import finite, linear, stack
    dfx = stack.dolfinx()
    f = dfx.fem.Function(dfx.fem.functionspace(triangle.mesh, ("DG", 0)))
    f.x.array[:] = np.where(f.function_space.tabulate_dof_coordinates()[:, 0] > 15.0, 2.0, 1.0)
    lin = linear.LinearModel(triangle, factor=f).solve([[0, 1]], [0.001]).tension[0]
    nh = finite.FiniteStrainModel(triangle, factor=f).solve([[0, 1]], [0.001]).tension[0]
    plain = linear.LinearModel(triangle).solve([[0, 1]], [0.001]).tension[0]
    assert abs(nh / lin - 1) < 5e-3
    assert abs(lin / plain - 1) > 0.1


def test_pair_without_pin_hole_is_a_clear_error(triangle):
    from mechclln.fem import linear
    with pytest.raises(MechcllnError, match="hole_7"):
        linear.LinearModel(triangle).solve([[0, 7]], [0.01])
