"""The order plan's linear programs, solved by HiGHS.

`scipy.optimize.linprog(method="highs")` spent more time handing a plan's LP to HiGHS than HiGHS
spent solving it: its wrapper copies the sparse matrix into HiGHS element by element through
Python (about 30 ms of a 68 ms solve for a 3,255-row, 96,096-entry fit), and a plan solves 36 of
them. `solve_ub` passes the same LP (same columns, rows, bounds and options as linprog's) to the
HiGHS that SciPy ships, in whole arrays: 28 ms, the same x and duals to the bit on the bench's 36
LPs (bench/bench_plan.py). SciPy's HiGHS module is not public API, so where it is missing or
answers otherwise (another SciPy version) `linprog` solves the LP as before.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# scipy.optimize.linprog's statuses: 0 optimal, 1 iteration or time limit, 2 infeasible,
# 3 unbounded, 4 numerical trouble
OPTIMAL, LIMIT, INFEASIBLE, UNBOUNDED, NUMERICAL = range(5)
# linprog's check of a returned solution (`_linprog_util._check_result`): sqrt(1e-9) x 10
FEASIBILITY_TOL = float(np.sqrt(1e-9) * 10)


@dataclass
class LpResult:
    """What the planner reads of an LP's answer, named as linprog's OptimizeResult."""
    status: int
    message: str
    x: np.ndarray | None
    ineqlin: "Marginals"


@dataclass
class Marginals:
    marginals: np.ndarray | None


def _highs_core():
    try:
        from scipy.optimize._highspy import _core
    except ImportError:
        return None
    needed = ("_Highs", "HighsModelStatus")
    return _core if all(hasattr(_core, name) for name in needed) and hasattr(_core._Highs, "addRows") else None


def _direct(core, c, a_ub, b_ub, upper, time_limit_s: float) -> LpResult | None:
    """min c x, a_ub x <= b_ub, 0 <= x <= upper, by HiGHS's dual simplex without presolve (linprog's
    options as the planner gives them); None where this SciPy's HiGHS takes the arrays otherwise."""
    try:
        highs = core._Highs()
        for name, value in (("output_flag", False), ("log_to_console", False), ("presolve", "off"),
                            ("time_limit", float(time_limit_s)), ("highs_debug_level", 0),
                            ("simplex_strategy", 1)):   # 1: dual simplex, as linprog asks
            highs.setOptionValue(name, value)
        n, rows = len(c), len(b_ub)
        lower = np.zeros(n)
        highs.addCols(n, np.ascontiguousarray(c, dtype=np.float64), lower,
                      np.ascontiguousarray(upper, dtype=np.float64), 0, np.zeros(n, dtype=np.int32),
                      np.zeros(0, dtype=np.int32), np.zeros(0))
        highs.addRows(rows, np.full(rows, -np.inf), np.ascontiguousarray(b_ub, dtype=np.float64), int(a_ub.nnz),
                      a_ub.indptr[:-1].astype(np.int32), a_ub.indices.astype(np.int32),
                      np.ascontiguousarray(a_ub.data, dtype=np.float64))
        highs.run()
    except (TypeError, AttributeError, ValueError):
        return None
    status = highs.getModelStatus()
    statuses = core.HighsModelStatus
    text = highs.modelStatusToString(status)
    if status != statuses.kOptimal:
        code = {statuses.kTimeLimit: LIMIT, statuses.kIterationLimit: LIMIT, statuses.kInfeasible: INFEASIBLE,
                statuses.kUnbounded: UNBOUNDED, statuses.kUnboundedOrInfeasible: UNBOUNDED}.get(status, NUMERICAL)
        return LpResult(code, f"HiGHS: {text}", None, Marginals(None))
    solution = highs.getSolution()
    x = np.array(solution.col_value)
    slack = b_ub - a_ub @ x
    if np.isnan(x).any() or np.isnan(slack).any() or (slack < -FEASIBILITY_TOL).any() \
            or (x < -FEASIBILITY_TOL).any() or (x > upper + FEASIBILITY_TOL).any():
        return LpResult(NUMERICAL, "HiGHS: the solution returned violates the constraints", None, Marginals(None))
    return LpResult(OPTIMAL, f"HiGHS: {text}", x, Marginals(np.array(solution.row_dual)))


def solve_ub(c, a_ub, b_ub, upper, time_limit_s: float):
    """min c x subject to a_ub x <= b_ub (a_ub: SciPy sparse, CSR) and 0 <= x <= upper: an LpResult,
    or linprog's OptimizeResult where SciPy's HiGHS cannot be reached directly (the same fields)."""
    from scipy.sparse import csr_array

    core = _highs_core()
    if core is not None:
        found = _direct(core, c, csr_array(a_ub), np.asarray(b_ub, dtype=np.float64),
                        np.asarray(upper, dtype=np.float64), time_limit_s)
        if found is not None:
            return found
    return linprog_ub(c, a_ub, b_ub, upper, time_limit_s)


def linprog_ub(c, a_ub, b_ub, upper, time_limit_s: float):
    """The same LP through scipy.optimize.linprog (the reference `solve_ub` is tested against)."""
    from scipy.optimize import linprog

    return linprog(c, A_ub=a_ub, b_ub=b_ub, bounds=list(zip(np.zeros(len(c)), upper)), method="highs",
                   options={"time_limit": time_limit_s, "presolve": False})
