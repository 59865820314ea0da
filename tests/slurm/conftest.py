"""The SLURM fixtures live in `tests/slurm/fixtures.py`, a plugin registered for
the whole test tree by `tests/conftest.py` (`slurm_cluster`, `slurm_workdir`,
`fractal_user_host`)."""
