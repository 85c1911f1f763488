"""Reading finished runs: a run directory read once (``runresult``), its evaluation (``evaluate``), its health
checks (``diagnose``) and Figure 4b's overfitting gap (``overfitting``)."""
