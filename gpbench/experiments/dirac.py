"""The Dirac-GAN convergence certificate (Mescheder, Geiger, Nowozin 2018, "Which Training Methods for GANs do
actually Converge?", section 2): real data a Dirac at 0, the generator a Dirac at theta, the critic
D(x) = psi * x; the unique equilibrium is theta = psi = 0.

Every game x penalty setting is played through gpbench's own losses (:class:`gpbench.training.losses.GanLoss`)
and penalties (:func:`gpbench.penalties.build_penalty`) on this one-parameter generator and critic. The gradient
vector field v = (-dL_G/dtheta, -dL_D/dpsi) is what training follows, by autograd; its Jacobian at the
equilibrium is taken by central differences of that field in float64 (the critic step detaches the fake batch
from the generator, as training does, so autograd through it would miss dv_psi/dtheta). Its eigenvalues say the
local behaviour; simultaneous and alternating gradient descent (step 0.1, as the paper's simulations) say what
a trajectory does, and give the verdict: converges, cycles or diverges. Local behaviour at the equilibrium only,
not sample quality (docs/dirac.md).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from gpbench.penalties import build_penalty
from gpbench.training.losses import GAMES, GanLoss, WeightClipping

STEP = 0.1                      # the paper's simulations (GAN_stability, notebooks/diracgan: h = 0.1)
STEPS = 400                     # 40 time units: more than three periods of the slowest rotation here (|Im| 0.5)
START = (0.25, 0.25)            # (theta, psi) at the start: near the equilibrium, where the linearisation holds
DIFFERENCE = 1e-5               # central-difference half step of the Jacobian (float64); the field counts as not
SMOOTH = 1e-4                   # differentiable where 10x that step changes the Jacobian by more than SMOOTH
# Verdicts from the distance to the equilibrium: "converges" when it ends below CONVERGED of the start or its
# peak shrank to below SHRINKING between the second and the last quarter of the run; "diverges" when it is not
# finite, ends above DIVERGED times the start, or ends farther than it started with its peak still growing by
# more than GROWING; "stalls" when the last quarter moved less than STALLED of the distance left (a stationary
# point off the equilibrium); else "cycles" (an orbit that neither closes in nor escapes).
CONVERGED, SHRINKING, GROWING, DIVERGED, STALLED = 1e-3, 0.5, 1.05, 1e3, 1e-3
CLIP = 0.3                      # the notebook's clipping value (weight clipping keeps |psi| <= c)

# The penalty settings certified: name -> (build_penalty config, weight clipping c or None).
SETTINGS: dict[str, tuple[dict, float | None]] = {
    "none": ({"kind": "none"}, None),
    "clipping c=0.3": ({"kind": "none"}, CLIP),
    "wgan-gp λ=1": ({"kind": "wgan-gp", "lambda": 1.0}, None),
    "wgan-lp λ=1": ({"kind": "wgan-lp", "lambda": 1.0}, None),
    "zero-gp λ=1": ({"kind": "zero-gp", "lambda": 1.0}, None),
    "dragan λ=1": ({"kind": "dragan", "lambda": 1.0}, None),
    "r1 λ=0.3": ({"kind": "r1", "lambda": 0.3}, None),
    "r1 λ=1": ({"kind": "r1", "lambda": 1.0}, None),
    "r2 λ=0.3": ({"kind": "r2", "lambda": 0.3}, None),
    "r1+r2 λ=0.3": ({"kind": "r1r2", "lambda": 0.3}, None),
    "r1 λ=1 every 4 (lazy)": ({"kind": "r1", "lambda": 1.0, "every": 4}, None),
    "r1 λ decay 1→0.1": ({"kind": "r1", "lambda": "decay(range=1:0.1 steps=400)"}, None),
    "flex 0.1 on d_loss, parameters": ({"kind": "flex", "flex": 0.1, "loss": "d_loss",
                                        "components": ["discriminator"]}, None),
    "flex 0.1 on d_loss, inputs": ({"kind": "flex", "flex": 0.1, "loss": "d_loss", "wrt": "inputs"}, None),
    "flex 0.1 on g_loss (HyperGAN default)": ({"kind": "flex", "flex": 0.1, "lambda": 1.0}, None),
}


# f'(0) of each game's loss at the equilibrium: the standard GAN's f(t) = -log(1 + e^-t) has slope 1/2, the WGAN's
# linear f slope 1 (Mescheder et al. 2018, Sec. 2); the eigenvalues below follow from it.
GAME_SLOPE = {"ns": 0.5, "mm": 0.5, "wgan": 1.0, "rp": 0.5}
PAPER = "Mescheder et al. 2018"


def published(game: str, setting: str) -> tuple[str, str] | None:
    """(the eigenvalues or verdict a paper states, or its analysis gives, and where from) for a row, if any."""
    slope = GAME_SLOPE.get(game)
    source = PAPER if game != "rp" else f"analytic, as {PAPER} with RpGAN's f'(0) = 1/2"
    strength = {"r1 λ=0.3": 0.3, "r1 λ=1": 1.0, "r2 λ=0.3": 0.3}.get(setting)
    if slope and setting == "none":
        return f"±{slope:g}i; not convergent", f"{source}, Sec. 2.2: ±i f'(0)"
    if slope and strength:
        return (_eigenvalue_text(regularised_eigenvalues(strength, slope)) + "; convergent",
                f"{source}, Sec. 4.1 (R1, R2): -γ/2 ± sqrt(γ²/4 - f'(0)²), γ = gpbench's λ")
    if slope and setting == "r1+r2 λ=0.3":
        return (_eigenvalue_text(regularised_eigenvalues(0.3, slope, both=True)) + "; convergent",
                "analytic: R1 and R2 each add -γ to dv_ψ/dψ, -γ ± sqrt(γ² - f'(0)²)"
                + ("; Huang et al. 2024 (R3GAN): RpGAN + R1 + R2 is locally convergent" if game == "rp" else ""))
    if game == "wgan" and setting == "clipping c=0.3":
        return "±1i; not convergent", f"{PAPER}, Sec. 3.1 (WGAN with clipping)"
    if game == "wgan" and setting.startswith("wgan-gp"):
        return "not convergent", f"{PAPER}, Sec. 3.2 (WGAN-GP)"
    return None


def regularised_eigenvalues(strength: float, slope: float, both: bool = False) -> np.ndarray:
    """-γ/2 ± sqrt(γ²/4 - f'(0)²): the Jacobian's eigenvalues with R1 (or R2) of weight γ, gpbench's
    (λ/2)·mean ||∇D||² with λ = γ (the paper's γ/2 convention); ``both``: R1 and R2 together, -γ ± sqrt(γ² - f'(0)²)."""
    damping = strength if both else strength / 2
    root = np.sqrt(complex(damping**2 - slope**2))
    return np.array([-damping + root, -damping - root])


class DiracGenerator(nn.Module):
    """G(z) = theta for every z."""

    def __init__(self, theta: float):
        super().__init__()
        self.theta = nn.Parameter(torch.tensor([[theta]], dtype=torch.float64))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.theta.expand(len(z), 1)


def dirac_critic(psi: float) -> nn.Linear:
    """D(x) = psi * x."""
    critic = nn.Linear(1, 1, bias=False).double()
    with torch.no_grad():
        critic.weight.fill_(psi)
    return critic


@dataclass
class DiracGame:
    """One game x penalty setting on the Dirac-GAN."""

    game: str
    penalty: dict
    clip: float | None = None
    batch: int = 2

    def __post_init__(self):
        self.loss = GanLoss(self.game, build_penalty(self.penalty))
        self.clipping = WeightClipping(self.clip) if self.clip else None
        self.generator, self.critic = DiracGenerator(0.0), dirac_critic(0.0)
        self.zeros = torch.zeros(self.batch, 1, dtype=torch.float64)     # z (unused by G) and the real data

    def field(self, theta: float, psi: float, step: int, players: tuple[int, ...] = (0, 1)) -> np.ndarray:
        """v = (-dL_G/dtheta, -dL_D/dpsi) at (theta, psi) and critic step ``step``, through gpbench's losses and
        autograd; only the ``players`` asked for (0 the generator, 1 the critic) are computed, the others 0."""
        generator, critic, z = self.generator, self.critic, self.zeros
        real = self.zeros.clone()            # R1 makes its real batch require grad
        with torch.no_grad():
            generator.theta.fill_(theta)
            critic.weight.fill_(psi)
        field = np.zeros(2)
        if 0 in players:
            g_total, _ = self.loss.generator_loss(critic, generator, generator(z), real, step)
            field[0] = -_gradient(g_total, generator.theta)
        if 1 in players:
            fake = generator(z)
            d_total, _ = self.loss.critic_loss(critic, generator, real, fake if self.loss.critic_needs_generator_graph
                                               else fake.detach(), step)
            field[1] = -_gradient(d_total, critic.weight)
        return field

    def jacobian(self, step: int, difference: float = DIFFERENCE) -> np.ndarray:
        """dv/d(theta, psi) at the equilibrium, averaged over the penalty's lazy period ending at ``step``."""
        every = self.loss.penalty.every
        columns = []
        for axis in range(2):
            offset = np.eye(2)[axis] * difference
            columns.append(np.mean([(self.field(*offset, s) - self.field(*-offset, s)) / (2 * difference)
                                    for s in range(step - every + 1, step + 1)], axis=0))
        return np.stack(columns, axis=1)

    def smooth_jacobian(self, step: int) -> np.ndarray | None:
        """The Jacobian where the field is differentiable at the equilibrium, else None (a penalty on |∇D| with a
        target norm has a kink at ∇D = 0: its finite differences grow as the step shrinks)."""
        fine, coarse = self.jacobian(step), self.jacobian(step, 10 * DIFFERENCE)
        return fine if np.allclose(fine, coarse, rtol=SMOOTH, atol=SMOOTH) else None

    def trajectory(self, alternating: bool, steps: int = STEPS, start=START) -> np.ndarray:
        """(theta, psi) after each step of gradient descent with step STEP: simultaneous (both from the same point)
        or alternating (the generator first, then the critic at the new theta, as gpbench's loop)."""
        point = np.array(start, dtype=np.float64)
        path = [point.copy()]
        for step in range(steps):
            if alternating:
                point[0] += STEP * self.field(*point, step, players=(0,))[0]
                point[1] += STEP * self.field(*point, step, players=(1,))[1]
            else:
                point += STEP * self.field(*point, step)
            if self.clipping:
                point[1] = min(max(point[1], -self.clip), self.clip)
            path.append(point.copy())
            if not np.isfinite(point).all():
                break
        return np.array(path)


def _gradient(loss: torch.Tensor, parameter: torch.Tensor) -> float:
    gradient = torch.autograd.grad(loss, parameter, allow_unused=True)[0]
    return 0.0 if gradient is None else float(gradient)


def verdict(path: np.ndarray) -> str:
    """"converges", "cycles", "stalls" or "diverges" from the distance to the equilibrium along a trajectory."""
    distance = np.linalg.norm(path, axis=1)
    if not np.isfinite(distance).all() or distance[-1] > DIVERGED * distance[0]:
        return "diverges"
    quarter = len(distance) // 4
    growth = distance[-quarter:].max() / max(distance[quarter:2 * quarter].max(), 1e-300)
    if distance[-1] < CONVERGED * distance[0] or growth < SHRINKING:
        return "converges"
    if growth > GROWING and distance[-1] > distance[0]:
        return "diverges"
    moved = np.linalg.norm(np.diff(path[-quarter:], axis=0), axis=1).sum()
    return "stalls" if moved < STALLED * distance[-1] else "cycles"


def _eigenvalue_text(values) -> str:
    def one(value: complex) -> str:
        real, imag = float(np.real(value)), float(np.imag(value))
        if abs(imag) < 1e-9:
            return f"{real:+.4g}"
        return (f"{real:+.4g}" if abs(real) >= 1e-9 else "") + f"{imag:+.4g}i"
    return ", ".join(one(value) for value in values)


def certify(game: str, setting: str) -> dict:
    """One row of the certificate: the Jacobian's eigenvalues at the equilibrium, both trajectories' verdicts and
    final distances, and the published or analytic value where one exists."""
    return certify_penalty(game, setting, *SETTINGS[setting])


def certify_penalty(game: str, setting: str, penalty: dict, clip: float | None = None) -> dict:
    """:func:`certify` for any ``build_penalty`` config (a kind of your own: `gpbench check-penalty`), named
    ``setting``."""
    dirac = DiracGame(game, penalty, clip)
    torch.manual_seed(0)
    at_rest = dirac.field(0.0, 0.0, STEPS - 1)
    jacobian = dirac.smooth_jacobian(STEPS - 1)
    eigenvalues = None if jacobian is None else np.linalg.eigvals(jacobian)
    simultaneous, alternating = dirac.trajectory(False), dirac.trajectory(True)
    reference = published(game, setting)
    return {"game": game, "penalty": setting, "field_at_equilibrium": float(np.abs(at_rest).max()),
            "eigenvalues": eigenvalues,
            "eigenvalues_text": ("— (the field is not differentiable at the equilibrium)" if eigenvalues is None
                                 else _eigenvalue_text(eigenvalues)),
            "max_real_part": None if eigenvalues is None else float(np.max(np.real(eigenvalues))),
            "simultaneous": verdict(simultaneous), "simultaneous_distance": float(np.linalg.norm(simultaneous[-1])),
            "alternating": verdict(alternating), "alternating_distance": float(np.linalg.norm(alternating[-1])),
            "published": reference[0] if reference else "", "source": reference[1] if reference else "",
            "paths": (simultaneous, alternating)}


def certificate(games=GAMES, settings=tuple(SETTINGS)) -> list[dict]:
    """Every game x penalty setting, certified."""
    return [certify(game, setting) for game in games for setting in settings]


def vector_field_grid(game: str, setting: str, extent: float = 1.5, points: int = 15) -> tuple[np.ndarray, ...]:
    """(theta, psi, v_theta, v_psi) on a grid around the equilibrium, for the figure's arrows."""
    penalty, clip = SETTINGS[setting]
    dirac = DiracGame(game, penalty, clip)
    axis = np.linspace(-extent, extent, points)
    theta, psi = np.meshgrid(axis, axis)
    field = np.array([[dirac.field(t, p, STEPS - 1) for t, p in zip(row_t, row_p)] for row_t, row_p in zip(theta, psi)])
    return theta, psi, field[..., 0], field[..., 1]
