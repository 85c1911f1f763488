"""What changes from one generator iteration to the next: the learning rate (the ResNet preset's linear
decay to 0) and the number of critic steps (Arjovsky's warm-up: 100 critic steps for the first 25 generator
iterations and every 500th; Gulrajani's scripts do not use it)."""

from __future__ import annotations

from dataclasses import dataclass

LR_DECAYS = ("none", "linear")
ARJOVSKY_WARMUP_ITERATIONS, ARJOVSKY_WARMUP_EVERY, ARJOVSKY_WARMUP_STEPS = 25, 500, 100


@dataclass(frozen=True)
class TrainingSchedule:
    iterations: int
    n_critic: int
    lr_decay: str = "none"
    critic_warmup: bool = False

    @classmethod
    def from_config(cls, config: dict) -> "TrainingSchedule":
        return cls(config["iterations"], config["n_critic"], config["lr_decay"], config["critic_warmup"])

    def critic_steps(self, iteration: int) -> int:
        if self.critic_warmup and (iteration < ARJOVSKY_WARMUP_ITERATIONS or iteration % ARJOVSKY_WARMUP_EVERY == 0):
            return ARJOVSKY_WARMUP_STEPS
        return self.n_critic

    def lr_factor(self, iteration: int) -> float:
        """What the base learning rates are multiplied by at ``iteration``."""
        return max(0.0, 1.0 - iteration / self.iterations) if self.lr_decay == "linear" else 1.0
