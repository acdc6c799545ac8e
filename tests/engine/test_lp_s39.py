"""The plan's LPs go to SciPy's HiGHS in whole arrays (engine.lp): the same answers as linprog,
to the bit, and linprog itself where that HiGHS module is not there."""

import numpy as np
import pytest
from scipy.sparse import csr_array

from engine import lp


def _random_lp(seed):
    rng = np.random.default_rng(seed)
    rows, cols = 300, 40
    dense = np.where(rng.random((rows, cols)) < 0.3, -rng.random((rows, cols)) * 100.0, 0.0)
    need = rng.random(rows) * 50.0
    return rng.random(cols) * 10.0 + 1.0, csr_array(dense), -need, np.full(cols, 1e4)


def test_a_hand_solved_lp():
    # min 2a + 3b with a + b >= 4 and a <= 3: a = 3, b = 1, cost 9; the covering row's dual is 3
    res = lp.solve_ub(np.array([2.0, 3.0]), csr_array(np.array([[-1.0, -1.0]])), np.array([-4.0]),
                      np.array([3.0, np.inf]), 10.0)
    assert res.status == lp.OPTIMAL
    assert np.allclose(res.x, [3.0, 1.0])
    assert np.allclose(np.abs(res.ineqlin.marginals), [3.0])


@pytest.mark.parametrize("seed", range(6))
def test_the_same_x_and_duals_as_linprog_to_the_bit(seed):
    c, a, b, upper = _random_lp(seed)
    direct = lp.solve_ub(c, a, b, upper, 10.0)
    reference = lp.linprog_ub(c, a, b, upper, 10.0)
    assert isinstance(direct, lp.LpResult) or lp._highs_core() is None
    assert direct.status == reference.status == 0
    assert np.array_equal(direct.x, reference.x)
    assert np.array_equal(direct.ineqlin.marginals, reference.ineqlin.marginals)


def test_infeasible_is_status_2_as_linprog_says():
    # a <= 1 (its bound) and a >= 2
    res = lp.solve_ub(np.array([1.0]), csr_array(np.array([[-1.0]])), np.array([-2.0]), np.array([1.0]), 10.0)
    assert res.status == lp.INFEASIBLE == lp.linprog_ub(np.array([1.0]), csr_array(np.array([[-1.0]])),
                                                        np.array([-2.0]), np.array([1.0]), 10.0).status
    assert res.x is None


def test_without_scipys_highs_module_linprog_answers(monkeypatch):
    monkeypatch.setattr(lp, "_highs_core", lambda: None)
    c, a, b, upper = _random_lp(0)
    res = lp.solve_ub(c, a, b, upper, 10.0)
    assert not isinstance(res, lp.LpResult) and res.status == 0
