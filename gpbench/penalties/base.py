"""The penalty interface the training loop asks (docs/architecture.md, "The penalty-trainer contract").

A :class:`Penalty` tells the loop which losses it goes on (``on_critic_loss``, ``on_generator_loss``),
whether the critic step's fake batch must stay attached to G's graph (``needs_generator_graph``), whether it
differentiates the critic twice (``needs_double_backward``) and how to prepare the batches before the loss's
forward pass (``prepare``: R1/R2 reuse it). ``evaluate`` returns the value and the gradient norm it measured;
nothing is left on the object for the loop to read.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import nn

from gpbench.penalties.schedules import Constant, Schedule

LOSS_TARGETS = ("d_loss", "g_loss", "both")


@dataclass(frozen=True)
class PenaltyTerm:
    """``value``: the differentiable penalty, lambda and the lazy-regularization factor applied.
    ``gradient_norm``: the detached mean gradient norm at the penalty points, None when nothing was evaluated
    (a tensor, so reading it costs no host sync until a logger asks)."""

    value: torch.Tensor
    gradient_norm: torch.Tensor | None = None


class Penalty:
    """A gradient penalty. ``penalty(critic, real, fake, generator=None, step=0)`` is its value;
    :meth:`evaluate` gives the value and the gradient norm.

    ``loss`` says which loss it is added to ("d_loss", "g_loss" or "both"); ``every`` = k applies it only on
    steps with step % k == 0, scaled by k (lazy regularization, StyleGAN2); ``fraction`` < 1 evaluates it on
    the first ceil(fraction * B) samples only. Subclasses set the class attributes (they feed
    ``gpbench penalties`` and the docs) and implement :meth:`term`.
    """

    kind: ClassVar[str] = "none"
    evaluated_at: ClassVar[str] = "-"
    formula: ClassVar[str] = "0"
    default_lambda: ClassVar[float] = 0.0
    default_loss: ClassVar[str] = "d_loss"
    options: ClassVar[tuple[str, ...]] = ()          # config keys beyond kind, lambda, every, loss, fraction
    # The gradient norm the penalty pulls toward (None: none, or zero-centred) and whether it only pushes norms
    # down to it (a norm below the target costs nothing); ``gpbench diagnose`` judges the penalty's grip by them.
    target_norm: ClassVar[float | None] = None
    one_sided: ClassVar[bool] = False

    def __init__(self, strength: Schedule, loss: str, every: int = 1, fraction: float = 1.0):
        self.strength = strength
        self.loss = loss
        self.every = every
        self.fraction = fraction

    @classmethod
    def from_options(cls, options: dict, **common) -> "Penalty":
        """Build from the validated common settings and this kind's own ``options`` (validated here)."""
        return cls(**common)

    # --- what the loop asks ---------------------------------------------------------------------------

    @property
    def on_critic_loss(self) -> bool:
        return self.loss in ("d_loss", "both")

    @property
    def on_generator_loss(self) -> bool:
        return self.loss in ("g_loss", "both")

    @property
    def needs_generator_graph(self) -> bool:
        """Whether the critic step must keep its fake batch attached to G's graph."""
        return False

    @property
    def needs_double_backward(self) -> bool:
        return self.on_critic_loss or self.on_generator_loss

    def prepare(self, real: torch.Tensor, fake: torch.Tensor, step: int) -> tuple[torch.Tensor, torch.Tensor]:
        """The batches the loss's forward pass should use at ``step`` (R1/R2 make theirs require grad)."""
        return real, fake

    # --- values ---------------------------------------------------------------------------------------

    def lambda_at(self, step: int) -> float:
        return self.strength(step)

    def applies_at(self, step: int) -> bool:
        return step % self.every == 0

    def values_at(self, step: int) -> dict[str, float]:
        """Every schedule's value at ``step`` ("lambda", and flex's "flex[0]", "flex[1]")."""
        return {name: schedule(step) for name, schedule in self.schedules().items()}

    def evaluate(self, critic: nn.Module, real: torch.Tensor, fake: torch.Tensor, generator: nn.Module | None = None,
                 step: int = 0, real_scores: torch.Tensor | None = None, fake_scores: torch.Tensor | None = None,
                 values: dict | None = None) -> PenaltyTerm:
        """The penalty at ``step``. ``real_scores`` / ``fake_scores``: the critic's outputs on ``real`` / ``fake``
        from the loss's forward pass, which R1/R2 differentiate when :meth:`prepare` made them require grad.
        ``values``: the schedules' values (default :meth:`values_at`); a captured step passes device scalars
        for the scheduled ones, so one graph serves every step (a device lambda of 0 is applied, times 0)."""
        values = self.values_at(step) if values is None else values
        strength = values["lambda"]
        if not self.applies_at(step) or (not torch.is_tensor(strength) and strength == 0.0):
            return PenaltyTerm(real.new_zeros(()))
        if self.fraction < 1.0:
            count = max(1, math.ceil(self.fraction * len(real)))
            real, fake, real_scores, fake_scores = real[:count], fake[:count], None, None
        value, gradient_norm = self.term(critic, real, fake, generator, values, real_scores, fake_scores)
        return PenaltyTerm((strength * self.every) * value, gradient_norm)

    def __call__(self, critic: nn.Module, real: torch.Tensor, fake: torch.Tensor, generator: nn.Module | None = None,
                 step: int = 0, real_scores: torch.Tensor | None = None,
                 fake_scores: torch.Tensor | None = None) -> torch.Tensor:
        return self.evaluate(critic, real, fake, generator, step, real_scores, fake_scores).value

    def term(self, critic, real, fake, generator, values, real_scores, fake_scores
             ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(the penalty without lambda and the lazy factor, the detached mean gradient norm); ``values``: the
        schedules' values at this step."""
        return real.new_zeros(()), None

    # --- reporting ------------------------------------------------------------------------------------

    def schedules(self) -> dict[str, Schedule]:
        return {"lambda": self.strength}

    def schedule_values(self, step: int) -> dict[str, float]:
        """Scheduled values that a schedule string asked to log under ``metric=NAME``."""
        return {schedule.metric: schedule(step) for schedule in self.schedules().values() if schedule.metric}

    def settings(self) -> dict:
        """Every resolved setting, defaults included (what the flex table shows per row)."""
        return {"kind": self.kind, "lambda": _describe(self.strength), "loss": self.loss, "every": self.every,
                "fraction": self.fraction}

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in self.settings().items())})"


def _describe(schedule: Schedule):
    """A constant as its number, a schedule as itself."""
    return schedule.value if isinstance(schedule, Constant) else schedule


class NoPenalty(Penalty):
    kind = "none"

    @property
    def on_critic_loss(self) -> bool:
        return False

    @property
    def on_generator_loss(self) -> bool:
        return False

    def settings(self) -> dict:
        return {"kind": self.kind}
