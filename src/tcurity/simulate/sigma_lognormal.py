"""Sigma-lognormal movements: Plamondon's kinematic theory, with parameters fitted on attacker-source people.

R. Plamondon, "A kinematic theory of rapid human movements" (Biological Cybernetics 72, 1995), and the
sigma-lognormal model of O'Reilly and Plamondon (Pattern Recognition 42, 2009). A rapid movement is a sum of
*strokes* (components); component ``i`` has a lognormal speed profile

    ``|v_i|(t) = D_i / (σ_i √(2π) (t − t0_i)) · exp(−(ln(t − t0_i) − μ_i)² / (2σ_i²))``  for ``t > t0_i``

(``D_i`` its amplitude in px, ``t0_i`` its onset, ``μ_i`` and ``σ_i`` its log-time delay and response time, in
seconds), and a direction that turns from ``θs_i`` to ``θe_i`` in proportion to the distance already covered,
``φ_i(t) = θs_i + (θe_i − θs_i) · F_i(t)`` with ``F_i`` the lognormal's CDF. Its path is therefore a circular arc
of length ``D_i``, which :func:`displacement` evaluates in closed form; the speed peaks at the lognormal's mode
``t0 + exp(μ − σ²)``.

Fitting (:func:`fit_stroke`, one recorded stroke). The stroke is resampled every :data:`FIT_STEP_MS` and
differentiated; peaks of its speed give one component each (at most :data:`MAX_COMPONENTS`, the highest),
initialised from the peak's time, height and half-height width with ``σ = 0.35``; the velocity vector
``(vx, vy)`` of the sum is then fitted to the measured one by bounded least squares (``scipy.optimize.
least_squares``, trust-region reflective). A fit is kept when its signal-to-noise ratio
``10 log10(Σ|v|² / Σ|v − v̂|²)`` reaches :data:`MIN_SNR_DB`. Components are stored in the stroke's chord frame:
``D`` in chord lengths, angles relative to the chord, onsets from the stroke's first event.

Generating (:func:`sigma_lognormal`). A fitted stroke of about the requested distance is drawn (a chord within
:data:`CHORD_RATIO` of it when any), and its parameter vector is perturbed by a Gaussian kernel whose width is
:data:`BANDWIDTH` times the fitted population's spread of each parameter: a smoothed bootstrap, i.e. a sample
from a kernel density estimate of the population. The movement is evaluated at the bot's event clock over the
source's duration, then carried onto the requested start→end by a similarity transform (which keeps it a
sigma-lognormal movement: amplitudes scale, angles rotate), so it starts and ends exactly where asked.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.optimize import least_squares
from scipy.signal import find_peaks, peak_widths
from scipy.special import erf

from tcurity.sampling import Path2, merge_equal_times
from tcurity.simulate.model_io import UserStroke, attacker_strokes_only, load_model, save_model
from tcurity.simulate.motion import BotTiming, FloatArray, Point, make_path, pin_ends, steady_clock_ms

logger = logging.getLogger(__name__)

MODEL_NAME = "sigma_lognormal"
FIT_STEP_MS = 10.0
MAX_COMPONENTS = 4
PEAK_PROMINENCE = (
    0.15  # of the highest speed: smaller bumps are noise of a 60 Hz recording, not sub-movements
)
INITIAL_SIGMA = 0.35
MIN_SNR_DB = 15.0
MAX_EVALUATIONS = 100  # residual evaluations per stroke (each costs 6·k + 1 with the numerical Jacobian)
SIGMA_BOUNDS = (0.05, 1.5)
MU_BOUNDS = (-6.0, 2.0)  # ln(seconds): 2.5 ms to 7.4 s
CHORD_RATIO = (0.75, 1.33)
BANDWIDTH = 0.15
EVENT_RATES_HZ = (60.0, 125.0)  # the rates SapiMouse's browsers delivered; the bot dispatches at one of them
EVENT_JITTER_MS = 0.5
PARAMETERS = ("d", "t0_s", "mu", "sigma", "theta_s", "theta_e")
TIMING = BotTiming(
    press_delay_ms=(60.0, 250.0), release_delay_ms=(40.0, 200.0), pause_ms=(150.0, 700.0), fixed_pause=False
)


@dataclass(frozen=True)
class Components:
    """Sigma-lognormal components, one row each: amplitude ``d`` (px or chord lengths), onset ``t0_s``,
    ``mu``, ``sigma`` (log-seconds), start and end angles ``theta_s``, ``theta_e`` (radians)."""

    d: FloatArray
    t0_s: FloatArray
    mu: FloatArray
    sigma: FloatArray
    theta_s: FloatArray
    theta_e: FloatArray

    @classmethod
    def from_matrix(cls, rows: FloatArray) -> Components:
        """Components from an ``(k, 6)`` matrix in the order of :data:`PARAMETERS`."""
        m = np.asarray(rows, dtype=np.float64).reshape(-1, len(PARAMETERS))
        return cls(*(m[:, j].copy() for j in range(len(PARAMETERS))))

    def matrix(self) -> FloatArray:
        """The ``(k, 6)`` matrix of :data:`PARAMETERS`."""
        return np.stack([self.d, self.t0_s, self.mu, self.sigma, self.theta_s, self.theta_e], axis=1)


def lognormal_cdf(t_s: FloatArray, t0_s: float, mu: float, sigma: float) -> FloatArray:
    """Share of a component's distance covered by time ``t_s`` (0 before its onset)."""
    dt = np.asarray(t_s, dtype=np.float64) - t0_s
    out = np.zeros_like(dt)
    after = dt > 0
    out[after] = 0.5 * (1.0 + erf((np.log(dt[after]) - mu) / (sigma * math.sqrt(2.0))))
    return out


def lognormal_speed(t_s: FloatArray, d: float, t0_s: float, mu: float, sigma: float) -> FloatArray:
    """One component's speed ``|v|(t)`` in amplitude units per second (0 before its onset)."""
    dt = np.asarray(t_s, dtype=np.float64) - t0_s
    out = np.zeros_like(dt)
    after = dt > 0
    z = np.log(dt[after]) - mu
    out[after] = d / (sigma * math.sqrt(2.0 * math.pi) * dt[after]) * np.exp(-(z**2) / (2.0 * sigma**2))
    return out


def peak_time_s(t0_s: float, mu: float, sigma: float) -> float:
    """When a component's speed peaks: the lognormal's mode ``t0 + exp(μ − σ²)``."""
    return t0_s + math.exp(mu - sigma**2)


def velocity(t_s: FloatArray, comps: Components) -> tuple[FloatArray, FloatArray]:
    """The summed velocity ``(vx, vy)`` of all components at times ``t_s``."""
    vx = np.zeros(len(t_s))
    vy = np.zeros(len(t_s))
    for i in range(len(comps.d)):
        speed = lognormal_speed(t_s, comps.d[i], comps.t0_s[i], comps.mu[i], comps.sigma[i])
        phi = comps.theta_s[i] + (comps.theta_e[i] - comps.theta_s[i]) * lognormal_cdf(
            t_s, comps.t0_s[i], comps.mu[i], comps.sigma[i]
        )
        vx += speed * np.cos(phi)
        vy += speed * np.sin(phi)
    return vx, vy


def displacement(t_s: FloatArray, comps: Components) -> tuple[FloatArray, FloatArray]:
    """The summed displacement ``(x, y)`` from before every onset to ``t_s``, in closed form.

    A component covers ``D·F(t)`` along an arc whose direction turns linearly with the distance covered, so its
    displacement is ``D/Δθ · (sin φ − sin θs, cos θs − cos φ)``, or ``D·F·(cos θs, sin θs)`` when ``Δθ ≈ 0``.
    """
    x = np.zeros(len(t_s))
    y = np.zeros(len(t_s))
    for i in range(len(comps.d)):
        share = lognormal_cdf(t_s, comps.t0_s[i], comps.mu[i], comps.sigma[i])
        turn = comps.theta_e[i] - comps.theta_s[i]
        if abs(turn) < 1e-6:
            x += comps.d[i] * share * math.cos(comps.theta_s[i])
            y += comps.d[i] * share * math.sin(comps.theta_s[i])
            continue
        phi = comps.theta_s[i] + turn * share
        x += comps.d[i] / turn * (np.sin(phi) - math.sin(comps.theta_s[i]))
        y += comps.d[i] / turn * (math.cos(comps.theta_s[i]) - np.cos(phi))
    return x, y


@dataclass(frozen=True)
class StrokeFit:
    """One stroke's fitted components (chord frame: ``d`` in chord lengths, angles from the chord), its chord in
    px, its duration and the fit's signal-to-noise ratio in dB."""

    components: Components
    chord_px: float
    duration_ms: float
    snr_db: float


def _measured_velocity(path: Path2) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Times (s) on an even :data:`FIT_STEP_MS` grid and the velocity there (px/s), by central differences."""
    merged = merge_equal_times(path.t_ms, path.x, path.y)
    t_ms = np.arange(merged.t_ms[0], merged.t_ms[-1] + 1e-9, FIT_STEP_MS)
    x, y = np.interp(t_ms, merged.t_ms, merged.x), np.interp(t_ms, merged.t_ms, merged.y)
    t_s = (t_ms - t_ms[0]) / 1000.0
    return t_s, _smooth(np.gradient(x, t_s)), _smooth(np.gradient(y, t_s))


def _smooth(values: FloatArray) -> FloatArray:
    """Two passes of the ``[1/4, 1/2, 1/4]`` kernel (ends held): differentiating a 60 Hz recording resampled at
    :data:`FIT_STEP_MS` leaves a staircase that would otherwise fit as spurious components."""
    out = np.asarray(values, dtype=np.float64)
    for _ in range(2):
        padded = np.concatenate([out[:1], out, out[-1:]])
        out = 0.25 * padded[:-2] + 0.5 * padded[1:-1] + 0.25 * padded[2:]
    return out


def initial_components(t_s: FloatArray, vx: FloatArray, vy: FloatArray) -> Components:
    """One component per speed peak (the :data:`MAX_COMPONENTS` highest), from its time, height and width.

    With ``σ`` fixed at :data:`INITIAL_SIGMA`, the time from onset to the peak ``m`` is set so that the lognormal's
    half-height width (about ``2·m·σ·√(2 ln 2)`` for small ``σ``) matches the measured one; then
    ``μ = ln m + σ²`` puts the mode at the peak and ``D = v_peak·σ√(2π)·m·exp(σ²/2)`` gives it the measured height.
    """
    speed = np.hypot(vx, vy)
    padded = np.concatenate([[0.0], speed, [0.0]])  # a stroke that starts or ends moving still has its peak
    peaks, _ = find_peaks(padded, prominence=PEAK_PROMINENCE * float(speed.max()))
    if len(peaks) == 0:
        peaks = np.array([int(np.argmax(speed)) + 1])
    peaks = np.sort(peaks[np.argsort(padded[peaks])[::-1][:MAX_COMPONENTS]])
    widths = peak_widths(padded, peaks, rel_height=0.5)[0] * (t_s[1] - t_s[0])
    peaks = peaks - 1
    sigma = INITIAL_SIGMA
    rows = []
    for peak, width_s in zip(peaks, widths, strict=True):
        m = max(float(width_s), 0.02) / (2.0 * sigma * math.sqrt(2.0 * math.log(2.0)))
        theta = math.atan2(vy[peak], vx[peak])
        d = speed[peak] * sigma * math.sqrt(2.0 * math.pi) * m * math.exp(sigma**2 / 2.0)
        rows.append([d, t_s[peak] - m, math.log(m) + sigma**2, sigma, theta, theta])
    return Components.from_matrix(np.array(rows))


def fit_components(t_s: FloatArray, vx: FloatArray, vy: FloatArray) -> tuple[Components, float]:
    """Least-squares fit of the velocity vector from :func:`initial_components`; returns it and its SNR in dB."""
    start = initial_components(t_s, vx, vy)
    x0 = start.matrix()
    k = len(x0)
    lower = np.tile([0.0, t_s[0] - 2.0, MU_BOUNDS[0], SIGMA_BOUNDS[0], -np.inf, -np.inf], (k, 1))
    upper = np.tile([np.inf, t_s[-1], MU_BOUNDS[1], SIGMA_BOUNDS[1], np.inf, np.inf], (k, 1))
    lower[:, 4:] = x0[:, 4:5] - math.pi
    upper[:, 4:] = x0[:, 4:5] + math.pi
    x0 = np.clip(x0, lower + 1e-9, upper - 1e-9)

    def residual(flat: FloatArray) -> FloatArray:
        mx, my = velocity(t_s, Components.from_matrix(flat))
        return np.concatenate([mx - vx, my - vy])

    solution = least_squares(
        residual, x0.ravel(), bounds=(lower.ravel(), upper.ravel()), max_nfev=MAX_EVALUATIONS, ftol=1e-4
    )
    fitted = Components.from_matrix(solution.x)
    error = float(np.sum(solution.fun**2))
    energy = float(np.sum(vx**2 + vy**2))
    snr = 10.0 * math.log10(energy / error) if error > 0 else math.inf
    return fitted, snr


def fit_stroke(path: Path2) -> StrokeFit | None:
    """A stroke's components in its chord frame, or ``None`` when the fit is poor or the stroke degenerate."""
    chord = np.array([path.x[-1] - path.x[0], path.y[-1] - path.y[0]])
    chord_px = float(np.hypot(*chord))
    if len(path) < 4 or chord_px <= 0.0 or path.duration_ms < 4 * FIT_STEP_MS:
        return None
    t_s, vx, vy = _measured_velocity(path)
    comps, snr = fit_components(t_s, vx, vy)
    end_x, end_y = displacement(np.array([t_s[-1]]), comps)
    start_x, start_y = displacement(np.array([0.0]), comps)
    reached = float(np.hypot(end_x[0] - start_x[0], end_y[0] - start_y[0]))
    if snr < MIN_SNR_DB or reached < 0.5 * chord_px:
        return None
    angle = math.atan2(chord[1], chord[0])
    rel = comps.matrix()
    rel[:, 0] /= chord_px
    rel[:, 4:] -= angle
    return StrokeFit(Components.from_matrix(rel), chord_px, path.duration_ms, snr)


@dataclass(frozen=True)
class SigmaLognormalModel:
    """The fitted population: every kept stroke's components (chord frame) back to back.

    Attributes:
        params: ``(n_components, 6)`` in the order of :data:`PARAMETERS`.
        offsets: ``(n_strokes + 1,)``; stroke ``j`` owns rows ``offsets[j]:offsets[j + 1]``.
        chord_px: each stroke's chord. duration_ms: each stroke's duration.
        spread: each parameter's standard deviation over the population (the kernel's scale).
        meta: users fitted on, counts and the procedure's constants (JSON).
    """

    params: FloatArray
    offsets: FloatArray
    chord_px: FloatArray
    duration_ms: FloatArray
    spread: FloatArray
    meta: dict[str, object]

    def stroke(self, j: int) -> Components:
        """Stroke ``j``'s components (chord frame)."""
        return Components.from_matrix(self.params[int(self.offsets[j]) : int(self.offsets[j + 1])])

    def save(self, out_dir: Path) -> None:
        """Writes ``sigma_lognormal.npz`` and ``sigma_lognormal.json`` under ``out_dir``."""
        arrays = {
            "params": self.params,
            "offsets": self.offsets,
            "chord_px": self.chord_px,
            "duration_ms": self.duration_ms,
            "spread": self.spread,
        }
        save_model(out_dir, MODEL_NAME, arrays, self.meta)

    @classmethod
    def load(cls, in_dir: Path) -> SigmaLognormalModel:
        """Reads what :meth:`save` wrote."""
        arrays, meta = load_model(in_dir, MODEL_NAME)
        return cls(meta=meta, **arrays)


def fit_population(strokes: Sequence[UserStroke], attacker_users: Collection[str]) -> SigmaLognormalModel:
    """Fits every stroke (:func:`fit_stroke`) and keeps the good fits as the population.

    Raises:
        ValueError: for a stroke of a user outside ``attacker_users``, or when no stroke could be fitted.
    """
    kept = attacker_strokes_only(strokes, attacker_users)
    fits = [(s.user, f) for s in kept if (f := fit_stroke(s.path)) is not None]
    if not fits:
        raise ValueError("no stroke gave a sigma-lognormal fit above the SNR threshold")
    params = np.vstack([f.components.matrix() for _, f in fits])
    sizes = [len(f.components.d) for _, f in fits]
    snr = np.array([f.snr_db for _, f in fits])
    meta: dict[str, object] = {
        "family": MODEL_NAME,
        "users": sorted({u for u, _ in fits}),
        "strokes_offered": len(kept),
        "strokes_fitted": len(fits),
        "components_mean": round(float(np.mean(sizes)), 3),
        "snr_db_median": round(float(np.median(snr)), 2),
        "min_snr_db": MIN_SNR_DB,
        "max_components": MAX_COMPONENTS,
        "fit_step_ms": FIT_STEP_MS,
        "parameters": list(PARAMETERS),
    }
    logger.info("sigma-lognormal: %d of %d strokes fitted", len(fits), len(kept))
    return SigmaLognormalModel(
        params=params,
        offsets=np.concatenate([[0], np.cumsum(sizes)]).astype(np.float64),
        chord_px=np.array([f.chord_px for _, f in fits]),
        duration_ms=np.array([f.duration_ms for _, f in fits]),
        spread=params.std(axis=0),
        meta=meta,
    )


def sample_components(
    model: SigmaLognormalModel, distance: float, rng: np.random.Generator
) -> tuple[Components, float]:
    """A smoothed-bootstrap draw: a fitted stroke of about ``distance`` px, its parameters jittered by the
    kernel; returns the components (chord frame) and the source's duration in ms."""
    ratio = model.chord_px / max(distance, 1e-9)
    near = np.flatnonzero((ratio >= CHORD_RATIO[0]) & (ratio <= CHORD_RATIO[1]))
    pool = near if len(near) else np.arange(len(model.chord_px))
    j = int(pool[rng.integers(len(pool))])
    rows = model.stroke(j).matrix()
    rows = rows + rng.normal(0.0, 1.0, rows.shape) * (BANDWIDTH * model.spread)
    rows[:, 0] = np.abs(rows[:, 0])
    rows[:, 3] = np.clip(rows[:, 3], *SIGMA_BOUNDS)
    return Components.from_matrix(rows), float(model.duration_ms[j])


def sigma_lognormal(
    model: SigmaLognormalModel, start_px: Point, end_px: Point, rng: np.random.Generator
) -> Path2:
    """One sigma-lognormal movement from ``start_px`` to ``end_px``, sampled from the fitted population."""
    distance = float(np.hypot(end_px[0] - start_px[0], end_px[1] - start_px[1]))
    comps, duration_ms = sample_components(model, max(distance, 1.0), rng)
    rate_hz = EVENT_RATES_HZ[int(rng.integers(len(EVENT_RATES_HZ)))]
    t_ms = steady_clock_ms(duration_ms, rate_hz, EVENT_JITTER_MS, rng)
    x, y = displacement(t_ms / 1000.0, comps)
    z = (x - x[0]) + 1j * (y - y[0])
    reach = z[-1] if abs(z[-1]) > 1e-9 else 1.0 + 0j
    target = complex(end_px[0] - start_px[0], end_px[1] - start_px[1])
    mapped = complex(*start_px) + z * (target / reach)
    return make_path(t_ms, pin_ends(np.stack([mapped.real, mapped.imag], axis=1), start_px, end_px))
