import astropy.coordinates as coord
import astropy.units as u
import numba
import numpy as np
import pytest

from galchem.physics import frames
from galchem.conventions import galactocentric_frame


@pytest.fixture(scope="module")
def stars():
    rng = np.random.default_rng(11)
    n = 100_000
    return dict(
        ra=rng.uniform(0, 360, n), dec=np.rad2deg(np.arcsin(rng.uniform(-1, 1, n))), distance=rng.uniform(0.05, 10, n),
        pmra=rng.normal(0, 8, n), pmdec=rng.normal(0, 8, n), rv=rng.normal(0, 60, n),
    )


def test_equals_astropy_on_100k_stars(stars):
    mine = frames.icrs_to_galactocentric(**stars)
    sky = coord.SkyCoord(
        ra=stars["ra"] * u.deg, dec=stars["dec"] * u.deg, distance=stars["distance"] * u.kpc,
        pm_ra_cosdec=stars["pmra"] * u.mas / u.yr, pm_dec=stars["pmdec"] * u.mas / u.yr,
        radial_velocity=stars["rv"] * u.km / u.s,
    ).transform_to(galactocentric_frame())
    for a, b in zip(mine[:3], (sky.x, sky.y, sky.z)):
        np.testing.assert_allclose(a, b.to_value(u.kpc), rtol=0, atol=1e-6)
    for a, b in zip(mine[3:], (sky.v_x, sky.v_y, sky.v_z)):
        np.testing.assert_allclose(a, b.to_value(u.km / u.s), rtol=0, atol=1e-6)
    position = frames.icrs_to_position(stars["ra"], stars["dec"], stars["distance"])
    np.testing.assert_allclose(position.X, sky.x.to_value(u.kpc), rtol=0, atol=1e-6)


def test_inverse_and_cylindrical_round_trips(stars):
    phase = frames.icrs_to_galactocentric(**stars)
    back = frames.galactocentric_to_icrs(*phase)
    for key, value in zip(back._fields, back):
        np.testing.assert_allclose(value, stars[key], rtol=0, atol=1e-8)
    cyl = frames.to_cylindrical(*phase)
    for a, b in zip(frames.from_cylindrical(*cyl), phase):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-9)


def test_sun_conventions():
    sun = frames.to_cylindrical(-8.27, 0.0, 0.029, 12.9, 245.0, 7.78)
    assert sun.phi == pytest.approx(np.pi)
    assert sun.vphi == pytest.approx(245.0)  # rotation counts positive
    assert sun.vR == pytest.approx(-12.9)  # moving towards the centre


def test_reid_beta_is_zero_towards_the_sun_and_grows_with_rotation():
    sun_phi = frames.azimuth(-8.27, 0.0)
    assert sun_phi == pytest.approx(np.pi) and frames.reid_beta(sun_phi) == pytest.approx(0.0)
    # a star ahead of the Sun in rotation: rotation is clockwise seen from the north pole, so towards +Y
    ahead = frames.to_cylindrical(-8.0, 1.0, 0.0, 0.0, 0.0, 0.0)
    assert frames.reid_beta(ahead.phi) > 0
    assert frames.from_cylindrical(8.27, ahead.phi, 0.0, 0.0, 1.0, 0.0).vy > 0  # moving with rotation at that spot
    beta = np.array([-179.5, -21.0, 0.0, 8.9, 101.0, 179.5])
    phi = frames.phi_from_reid_beta(beta)
    assert ((phi >= 0) & (phi < 2 * np.pi)).all()
    np.testing.assert_allclose(frames.reid_beta(phi), beta, rtol=0, atol=1e-12)
    np.testing.assert_allclose(frames.phi_from_reid_beta(frames.reid_beta(np.linspace(0, 6.28, 50))),
                               np.linspace(0, 6.28, 50), rtol=0, atol=1e-12)


def test_the_kernels_arctangent_is_within_one_ulp_of_the_c_librarys():
    from galchem.physics import arctangent

    @numba.njit
    def angles(y, x):
        out = np.empty(y.size)
        for i in range(y.size):
            out[i] = arctangent.atan2(y[i], x[i])
        return out

    rng = np.random.default_rng(0)
    y = np.concatenate([rng.normal(0.0, 0.1, 200_000), rng.uniform(-50, 50, 200_000), [0.0, -0.0, 1e-300, 5.0]])
    x = np.concatenate([rng.uniform(0.5, 2.0, 200_000), rng.uniform(-3, 3, 200_000), [1.0, 1.0, 1.0, -1.0]])
    ours, reference = angles(y, x), np.arctan2(y, x)
    assert np.all(np.abs(ours - reference) <= np.spacing(np.abs(reference)))
