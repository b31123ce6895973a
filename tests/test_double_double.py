import numpy as np

from galchem.analysis import double_double


def test_two_sum_returns_the_exact_rounding_error():
    s, e = double_double.two_sum(1e16, 1.0)
    assert s == 1e16 and e == 1.0


def test_a_sum_kept_in_double_double_does_not_depend_on_the_order():
    values = np.array([1e16, 1.0, -1e16, 3.0, 1e-3, 2.5e15])
    orders = (np.arange(values.size), np.arange(values.size)[::-1], np.array([2, 4, 0, 5, 1, 3]))
    totals = []
    for order in orders:
        hi, lo = np.zeros((1, 1)), np.zeros((1, 1))
        for value in values[order]:
            double_double.add(hi, lo, 0, 0, value, 0.0)
        totals.append(hi[0, 0])
    assert totals[0] == totals[1] == totals[2] == 2.5e15 + 4.001


def test_merge_adds_two_pairs_element_by_element():
    hi_a, lo_a = np.array([[1e16, 2.0], [0.0, 5.0]]), np.array([[1.0, 0.0], [0.0, 0.0]])
    hi_b, lo_b = np.array([[-1e16, 3.0], [0.0, -5.0]]), np.zeros((2, 2))
    hi, lo = double_double.merge(hi_a, lo_a, hi_b, lo_b)
    np.testing.assert_array_equal(hi, [[1.0, 5.0], [0.0, 0.0]])
    np.testing.assert_array_equal(lo, 0.0)
    assert hi_a[0, 0] == 1e16  # the inputs are left alone
