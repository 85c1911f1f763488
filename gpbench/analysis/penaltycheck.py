"""The behaviour checks every penalty kind should pass (`gpbench check-penalty KIND`, docs/penalties.md, "Your own
penalty"): each a pure function of a built penalty returning (passed, what it measured). Every check calls the
penalty as the training loop does: ``prepare`` the batches, score them, ``evaluate`` with the scores.

- finite at a zero input gradient (a constant critic: sqrt's derivative at 0 is where NaNs come from);
- the closed form: on a linear critic D(x) = w.x + b every input gradient is w, so a per-sample penalty takes
  the same value on the batch and on the batch repeated twice (a norm over the batch axis grows by sqrt 2),
  reports |w| as its input-gradient norm, and for a kind that shapes squared norms (``InputGradientPenalty``)
  equals lambda * shape(|w|^2);
- its value trains the critic: back-propagated, it reaches the critic's parameters (a gradient taken without
  ``create_graph=True`` does not);
- finite under bfloat16 autocast (the ``amp: bf16`` runs), value and parameter gradients;
- and, for information, its Dirac-GAN certificate under the WGAN and non-saturating games (docs/dirac.md).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from gpbench.penalties import InputGradientPenalty, NoPenalty, Penalty

FEATURES = 4
BATCH = 8
WEIGHTS = (1.0, 2.0, -2.0, 0.0)                     # w of the closed-form critic
LENGTH = 3.0                                        # |w|
OUTPUT_SCALE = 10.0                                 # the MLP critic's gradients well above every target norm
TOLERANCE = 1e-4                                    # relative, float32


@dataclass(frozen=True)
class CheckResult:
    name: str
    passed: bool | None                             # None: for information, not judged
    detail: str

    @property
    def line(self) -> str:
        mark = {True: "PASS", False: "FAIL", None: "INFO"}[self.passed]
        return f"{mark}  {self.name}: {self.detail}"


def linear_critic(weights) -> nn.Linear:
    critic = nn.Linear(FEATURES, 1)
    with torch.no_grad():
        critic.weight.copy_(torch.tensor([weights], dtype=torch.float32))
        critic.bias.fill_(0.5)
    return critic


def mlp_critic() -> nn.Module:
    """A tanh MLP whose input gradients (norm about 5) sit above every target norm, so one-sided kinds act."""
    torch.manual_seed(0)
    critic = nn.Sequential(nn.Linear(FEATURES, 16), nn.Tanh(), nn.Linear(16, 1))
    with torch.no_grad():
        critic[2].weight.mul_(OUTPUT_SCALE)
    return critic


def batches(repeat: int = 1) -> tuple[nn.Module, torch.Tensor, torch.Tensor]:
    """(a linear generator, a real batch, its noise) drawn from a fixed seed; the batch ``repeat`` times over."""
    generator = torch.Generator().manual_seed(1)
    real, z = torch.randn(BATCH, FEATURES, generator=generator), torch.randn(BATCH, FEATURES, generator=generator)
    torch.manual_seed(1)
    return nn.Linear(FEATURES, FEATURES), real.repeat(repeat, 1), z.repeat(repeat, 1)


def penalty_term(penalty: Penalty, critic: nn.Module, step: int = 0, repeat: int = 1):
    """The penalty's term as the loop computes it: fake = G(z), detached unless the penalty needs G's graph."""
    generator, real, z = batches(repeat)
    fake = generator(z)
    if not (penalty.needs_generator_graph or penalty.on_generator_loss):
        fake = fake.detach()
    real, fake = penalty.prepare(real, fake, step)
    return penalty.evaluate(critic, real, fake, generator, step, real_scores=critic(real), fake_scores=critic(fake))


def _finite(tensors) -> bool:
    return all(tensor is None or bool(torch.isfinite(tensor).all()) for tensor in tensors)


def _parameter_gradients(value: torch.Tensor, critic: nn.Module) -> list[torch.Tensor | None]:
    parameters = list(critic.parameters())
    return list(torch.autograd.grad(value, parameters, allow_unused=True)) if value.requires_grad else \
        [None] * len(parameters)


def check_zero_gradient(penalty: Penalty) -> CheckResult:
    critic = linear_critic((0.0,) * FEATURES)
    term = penalty_term(penalty, critic)
    gradients = _parameter_gradients(term.value, critic)
    passed = _finite([term.value, term.gradient_norm, *gradients])
    return CheckResult("finite at a zero input gradient", passed,
                       f"value {term.value.item():.6g}, critic parameter gradients "
                       + ("finite" if _finite(gradients) else "NOT finite (a norm's derivative at 0?)"))


def check_closed_form(penalty: Penalty) -> CheckResult:
    once, twice = (penalty_term(penalty, linear_critic(WEIGHTS), repeat=repeat) for repeat in (1, 2))
    value, doubled = once.value.item(), twice.value.item()
    problems = []
    if not _finite([once.value, twice.value]):
        problems.append("not finite")
    elif not math.isclose(value, doubled, rel_tol=TOLERANCE, abs_tol=1e-6):
        problems.append(f"{value:.6g} on the batch but {doubled:.6g} on it repeated twice: not a mean over "
                        "per-sample terms (a norm over the batch axis?)")
    if getattr(penalty, "wrt", "inputs") == "inputs" and once.gradient_norm is not None \
            and not math.isclose(once.gradient_norm.item(), LENGTH, rel_tol=TOLERANCE):
        problems.append(f"reports input-gradient norm {once.gradient_norm.item():.6g}, expected |w| = {LENGTH:g}")
    expected = closed_form_value(penalty)
    if expected is not None and not math.isclose(value, expected, rel_tol=TOLERANCE, abs_tol=1e-6):
        problems.append(f"value {value:.6g}, expected lambda * shape(|w|^2) = {expected:.6g}")
    detail = (f"value {value:.6g} on D(x) = w.x + b, |w| = {LENGTH:g}, the same on the batch repeated twice"
              + (" and = lambda * shape(|w|^2)" if expected is not None else ""))
    return CheckResult("closed form on a linear critic", not problems, "; ".join(problems) or detail)


def closed_form_value(penalty: Penalty) -> float | None:
    """lambda * shape(|w|^2) for a kind that shapes squared input-gradient norms the standard way, else None."""
    if not isinstance(penalty, InputGradientPenalty) or type(penalty).term is not InputGradientPenalty.term:
        return None
    if not penalty.applies_at(0):
        return None
    shaped = penalty.shape(torch.tensor([LENGTH ** 2])).mean().item()
    return penalty.lambda_at(0) * penalty.every * shaped


def check_trains_critic(penalty: Penalty) -> CheckResult:
    if isinstance(penalty, NoPenalty):
        return CheckResult("reaches the critic's parameters", None, "no penalty: nothing to reach")
    critic = mlp_critic()
    term = penalty_term(penalty, critic)
    gradients = _parameter_gradients(term.value, critic)
    reached = [g for g in gradients if g is not None and bool(g.abs().sum() > 0)]
    passed = bool(reached) and _finite(gradients)
    return CheckResult("reaches the critic's parameters", passed,
                       f"{len(reached)} of {len(gradients)} parameter tensors get a non-zero gradient" if passed else
                       "no gradient reaches the critic's parameters (is the input gradient taken with "
                       "create_graph=True?)" if not reached else "parameter gradients are not finite")


def check_bf16(penalty: Penalty) -> CheckResult:
    critic = mlp_critic()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        term = penalty_term(penalty, critic)
    gradients = _parameter_gradients(term.value, critic)
    passed = _finite([term.value, *gradients])
    return CheckResult("finite under bf16 autocast", passed, f"value {term.value.float().item():.6g}, parameter "
                       f"gradients {'finite' if _finite(gradients) else 'NOT finite'}")


def dirac_info(config: dict) -> list[CheckResult]:
    from gpbench.experiments.dirac import certify_penalty

    results = []
    for game in ("wgan", "ns"):
        row = certify_penalty(game, config.get("kind", "?"), config)
        results.append(CheckResult(f"Dirac-GAN, {game} game", None,
                                   f"eigenvalues {row['eigenvalues_text']}; simultaneous {row['simultaneous']}, "
                                   f"alternating {row['alternating']} (docs/dirac.md)"))
    return results


CHECKS = (check_zero_gradient, check_closed_form, check_trains_critic, check_bf16)


def check_penalty(config: dict, penalty: Penalty) -> list[CheckResult]:
    """Every check on ``penalty`` (built from ``config``), then its Dirac-GAN certificate."""
    results = []
    for check in CHECKS:
        try:
            results.append(check(penalty))
        except Exception as error:          # a kind of the user's that raises fails the check, said in one line
            results.append(CheckResult(check.__name__.removeprefix("check_").replace("_", " "), False,
                                       f"raised {type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}"))
    return results + dirac_info(config)
