"""Gradient penalties as pure functions of tensors and modules (docs/penalties.md).

Entry point: :func:`build_penalty` turns a config dict (gpbench form or a HyperGAN train-hook dict) into a
:class:`Penalty`, called as ``penalty(critic, real, fake, generator=None, step=0)``; ``penalty.evaluate(...)``
also returns the mean gradient norm at the penalty points. ``REGISTRY`` maps each kind to its class;
:func:`register_penalty` adds one from outside gpbench, :func:`load_penalty_modules` imports the modules that do.
"""

from gpbench.penalties.base import LOSS_TARGETS, NoPenalty, Penalty, PenaltyTerm
from gpbench.penalties.build import REGISTRY, build_penalty, register_penalty
from gpbench.penalties.flex import FlexPenalty
from gpbench.penalties.plugins import load_penalty_modules
from gpbench.penalties.kinds import R1, R2, Dragan, InputGradientPenalty, WganGP, WganLP, ZeroGP
from gpbench.penalties.schedules import Anneal, Constant, Decay, parse_schedule

__all__ = ["LOSS_TARGETS", "REGISTRY", "Anneal", "Constant", "Decay", "Dragan", "FlexPenalty", "InputGradientPenalty",
           "NoPenalty", "Penalty", "PenaltyTerm", "R1", "R2", "WganGP", "WganLP", "ZeroGP", "build_penalty",
           "load_penalty_modules", "parse_schedule", "register_penalty"]
