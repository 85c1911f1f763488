"""Suites: which runs a suite config holds and their cluster resources (``pipeline``), their cost measured and
projected (``cost``; the torch-free cost file, ``costfile``), and the rehearsal's synthetic data (``rehearsal``)."""
