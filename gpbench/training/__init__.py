"""One training run: the method presets and run-config validation (``config``), the loop (``train.Trainer``) and
its collaborators (``reporter``, ``samples``, ``devcost``, ``checkpoints``), the step engines (``engine``), the
game losses (``losses``), optimizers and learning-rate schedule (``optim``, ``schedule``) and the run directory it
writes (``rundir``)."""

# A run config's keys that change speed or what is logged, never the results: they may differ when a run resumes
# (config.identity leaves them out), and a suite's cost file does not key on them (gpbench.suite.costfile). Here,
# in the package face, because the cost file reads them without importing torch.
RUNTIME_KEYS = ("threads", "log_every", "checkpoint_every", "sample_every", "snapshot_every", "dev_every",
                "dev_samples", "engine", "memory_format", "name")
