"""The tagged gmsh model (the FEM stage's contract): every node and edge tagged exactly once, conformal
cells covering the ideal outline, at least 3 elements across the thinnest strut."""
from dataclasses import replace

import numpy as np
import pytest

from fixtures.gmsh_sheet import build_sheet_model
from mechclln import lattices
from mechclln.errors import MechcllnError
from mechclln.geometry import gmsh_model, tags
from mechclln.geometry.outline import exact_area
from mechclln.geometry.part import build_part

pytestmark = pytest.mark.fem


@pytest.fixture
def gmsh_session():
    import gmsh

    gmsh.initialize(interruptible=False)
    yield gmsh
    gmsh.finalize()


def _element_groups(gmsh, dim):
    """{physical tag: element ids} over the cells of dimension dim."""
    out = {}
    for d, tag in gmsh.model.getPhysicalGroups(dim):
        ids = []
        for ent in gmsh.model.getEntitiesForPhysicalGroup(d, tag):
            _, elems, _ = gmsh.model.mesh.getElements(d, ent)
            ids += [int(e) for arr in elems for e in arr]
        out[tag] = np.array(ids)
    return out


def _sheet_part():
    net = lattices.triangular(5, 4)
    rng = np.random.default_rng(0)
    net = net.with_params(k=rng.uniform(0.7, 1.8, net.n_edges))
    part = build_part(net, x_print=net.x)
    holes = np.array([0, 6, 13])
    return replace(part, hole_nodes=holes, sources=holes[:2], targets=holes[2:])


def test_sheet_tags_cover_every_node_and_edge_once(gmsh_session):
    gmsh = gmsh_session
    part = _sheet_part()
    model = build_sheet_model(part)
    groups = _element_groups(gmsh, 2)
    expect = {tags.strut_tag(e) for e in range(part.n_struts)} | {tags.hub_tag(n) for n in range(len(part.nodes))}
    assert set(groups) == expect
    assert all(len(v) for v in groups.values())
    all_ids = np.concatenate(list(groups.values()))
    _, elems, _ = gmsh.model.mesh.getElements(2)
    assert len(all_ids) == len(np.unique(all_ids)) == sum(len(e) for e in elems)   # each cell in one group
    for n in part.hole_nodes:
        assert gmsh.model.getPhysicalName(1, tags.hole_tag(n)) == tags.hole_name(n)
    assert gmsh.model.getPhysicalName(2, tags.strut_tag(7)) == "strut_7"
    # the meshed area is the ideal outline's area (circles resolved by the mesh to well under 1 %)
    nodes, xyz, _ = gmsh.model.mesh.getNodes()
    X = np.zeros((nodes.max() + 1, 3))
    X[nodes] = xyz.reshape(-1, 3)
    tri = gmsh.model.mesh.getElements(2)[2][0].reshape(-1, 3)
    a, b = X[tri[:, 1]] - X[tri[:, 0]], X[tri[:, 2]] - X[tri[:, 0]]
    area = 0.5 * (a[:, 0] * b[:, 1] - a[:, 1] * b[:, 0])
    assert np.all(area > 0)
    assert area.sum() == pytest.approx(exact_area(part), rel=3e-3)
    assert model.n_elements == len(tri)


def test_at_least_three_elements_across_the_thinnest_strut(gmsh_session):
    gmsh = gmsh_session
    part = _sheet_part()
    build_sheet_model(part)
    e = int(np.argmin(part.width))
    ent = gmsh.model.getEntitiesForPhysicalGroup(2, tags.strut_tag(e))
    _, _, conn = gmsh.model.mesh.getElements(2, ent[0])
    nodes, xyz, _ = gmsh.model.mesh.getNodes()
    X = np.zeros((nodes.max() + 1, 3))
    X[nodes] = xyz.reshape(-1, 3)
    tri = conn[0].reshape(-1, 3)
    # elements across = strut width / mean element edge length in that strut (gmsh sizes within ~10 %)
    edge_len = np.linalg.norm(X[tri[:, [1, 2, 0]]] - X[tri], axis=2).mean()
    assert part.width[e] / edge_len >= 3 * 0.9


def test_3d_lattice_tags_cover_every_node_and_edge_once(gmsh_session):
    gmsh = gmsh_session
    net = lattices.cubic_diagonal(2, 2, 2)
    part = build_part(net, x_print=net.x)
    part = replace(part, hole_nodes=np.array([0]), sources=np.array([0]))
    gmsh_model.build(part, mesh_size=1.0)
    groups = _element_groups(gmsh, 3)
    expect = {tags.strut_tag(e) for e in range(part.n_struts)} | {tags.hub_tag(n) for n in range(len(part.nodes))}
    assert set(groups) == expect and all(len(v) for v in groups.values())
    all_ids = np.concatenate(list(groups.values()))
    assert len(all_ids) == len(np.unique(all_ids))
    assert gmsh.model.getEntitiesForPhysicalGroup(2, tags.hole_tag(0)).size > 0


def test_package_model_is_for_3d_lattices_only(gmsh_session):
    """Sheets are meshed from their outline (fem.outline_mesh): the tagged model refuses a 2D part in one line."""
    with pytest.raises(MechcllnError, match="dim.*3D lattices"):
        gmsh_model.build(_sheet_part())
