"""One training run: the method presets and run-config validation (``config``), the loop (``train.Trainer``) and
its collaborators (``reporter``, ``samples``, ``devcost``, ``checkpoints``), the step engines (``engine``), the
game losses (``losses``), optimizers and learning-rate schedule (``optim``, ``schedule``), random-stream seeds
(``seeds``) and the run directory it writes (``rundir``)."""
