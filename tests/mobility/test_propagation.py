"""Log-distance path loss with log-normal shadowing: distance dependence, seeds, correlation."""
import math

import numpy as np
import pytest

from orchestrator.mobility.propagation import AccessPoint, LogDistance, free_space_reference_loss

AP = AccessPoint("ap0", (0.0, 0.0))


def test_free_space_reference_loss():
    assert free_space_reference_loss(2.4e9, 1.0) == pytest.approx(40.05, abs=0.01)
    assert free_space_reference_loss(2.4e9, 2.0) - free_space_reference_loss(2.4e9, 1.0) == \
        pytest.approx(20 * math.log10(2))


def test_exponent_two_loses_6_db_per_doubling_without_shadowing():
    m = LogDistance(exponent=2.0)
    for d in (2.0, 10.0, 37.0, 150.0):
        drop = m.rssi(AP, (2 * d, 0)) - m.rssi(AP, (d, 0))
        assert drop == pytest.approx(-6.02, abs=0.01)


def test_exponent_two_loses_6_db_per_doubling_on_average_with_shadowing():
    """Many places on two circles (radius d and 2d), shadowing sigma 6 dB, independent draws:
    the mean difference is -6 dB within its standard error."""
    m = LogDistance(exponent=2.0, shadowing_sigma=6.0, decorrelation=0.0, seed=3)
    angles = np.linspace(0, 2 * np.pi, 4000, endpoint=False)
    ring = lambda r: np.c_[r * np.cos(angles), r * np.sin(angles)]     # noqa: E731
    drop = m.rssi_along(AP, ring(80.0)).mean() - m.rssi_along(AP, ring(40.0)).mean()
    assert drop == pytest.approx(-6.02, abs=0.6)                        # 4.4 standard errors
    # and a regression of RSSI on log10(d) finds the exponent
    d = np.geomspace(2, 500, 3000)
    rssi = m.rssi_along(AP, np.c_[d, np.zeros_like(d)])
    slope = np.polyfit(np.log10(d), rssi, 1)[0]
    assert slope == pytest.approx(-20.0, abs=1.0)


def test_reference_distance_holds_the_loss_inside():
    m = LogDistance(reference_distance=1.0, reference_loss=40.0, tx_power=20.0)
    assert m.rssi(AP, (0.0, 0.0)) == m.rssi(AP, (0.5, 0.0)) == m.rssi(AP, (1.0, 0.0)) == -20.0


def test_coverage_radius_and_its_inverse():
    m = LogDistance(exponent=3.0, tx_power=20.0)
    r = m.coverage_radius(-80.0)
    assert m.mean_rssi(AP, (r, 0)) == pytest.approx(-80.0)
    assert m.coverage_radius(-80.0) > m.coverage_radius(-70.0)
    assert m.tx_power_for_radius(r, -80.0) == pytest.approx(20.0)
    strong = AccessPoint("big", (0, 0), tx_power=30.0)                 # +10 dB, n = 3
    assert m.coverage_radius(-80.0, strong) == pytest.approx(r * 10 ** (10 / 30))
    assert m.coverage_radius(50.0) == 0.0                               # never that strong


def test_shadowing_is_reproducible_with_a_seed_and_independent_per_ap():
    pts = np.c_[np.linspace(0, 300, 500), np.linspace(0, 40, 500)]
    for decorrelation in (0.0, 15.0):
        a = LogDistance(shadowing_sigma=5, decorrelation=decorrelation, seed=11)
        b = LogDistance(shadowing_sigma=5, decorrelation=decorrelation, seed=11)
        c = LogDistance(shadowing_sigma=5, decorrelation=decorrelation, seed=12)
        xa = a.shadowing("ap0", pts)
        assert np.array_equal(xa, b.shadowing("ap0", pts))
        assert not np.allclose(xa, c.shadowing("ap0", pts))
        # another AP's field is independent: over 500 places far apart (~0.045 std of the
        # sample correlation) it is uncorrelated with this one's
        far = np.random.default_rng(1).uniform(0, 5000, size=(500, 2))
        r = np.corrcoef(a.shadowing("ap0", far), a.shadowing("ap1", far))[0, 1]
        assert abs(r) < 0.2
        # a place has one shadowing value, whichever way the station comes
        assert a.shadowing("ap0", pts[::-1])[0] == pytest.approx(xa[-1])


def _lag_correlation(model, lag: float, seeds: int = 150, points: int = 200) -> tuple[float, float]:
    """Ensemble estimate of corr(X(p), X(p + lag)) and of the std of X."""
    rng = np.random.default_rng(0)
    prod, var = [], []
    for seed in range(seeds):
        m = LogDistance(shadowing_sigma=model.shadowing_sigma, decorrelation=model.decorrelation,
                        seed=seed)
        p = rng.uniform(-500, 500, size=(points, 2))
        theta = rng.uniform(0, 2 * np.pi, size=points)
        q = p + lag * np.c_[np.cos(theta), np.sin(theta)]
        xp, xq = m.shadowing("ap", p), m.shadowing("ap", q)
        prod.append(np.mean(xp * xq))
        var.append(np.mean(xp ** 2))
    return float(np.mean(prod) / np.mean(var)), float(math.sqrt(np.mean(var)))


def test_correlated_shadowing_decays_as_exp_minus_r_over_decorrelation():
    L = 20.0
    model = LogDistance(shadowing_sigma=6.0, decorrelation=L)
    measured = {}
    for lag in (2.0, 10.0, 20.0, 40.0, 100.0):
        rho, std = _lag_correlation(model, lag)
        measured[lag] = rho
        assert rho == pytest.approx(math.exp(-lag / L), abs=0.07), lag
        assert std == pytest.approx(6.0, rel=0.1)
    lags = sorted(measured)
    assert all(measured[a] > measured[b] for a, b in zip(lags, lags[1:]))


def test_correlated_shadowing_does_not_jump_every_sample():
    """10 cm steps along a line: with a 10 m decorrelation distance the shadowing moves about
    sigma * sqrt(2 (1 - exp(-0.01))) = 0.14 sigma per step (rms); drawn independently,
    sqrt(2) sigma = 1.41 sigma."""
    pts = np.c_[np.arange(0, 200, 0.1), np.zeros(2000)]
    smooth = LogDistance(shadowing_sigma=4, decorrelation=10.0, seed=5).shadowing("ap0", pts)
    rough = LogDistance(shadowing_sigma=4, decorrelation=0.0, seed=5).shadowing("ap0", pts)
    step_smooth = np.sqrt(np.mean(np.diff(smooth) ** 2))
    step_rough = np.sqrt(np.mean(np.diff(rough) ** 2))
    assert step_smooth < 0.25 * 4
    assert step_rough > 1.2 * 4
    assert step_rough > 5 * step_smooth


@pytest.mark.parametrize("kwargs", [{"reference_distance": 0}, {"exponent": 0},
                                    {"shadowing_sigma": -1}, {"decorrelation": -3}])
def test_bad_parameters_are_refused(kwargs):
    with pytest.raises(ValueError):
        LogDistance(**kwargs)
