"""The paper's experiments beyond the training runs: Figure 1's fixed-generator critics (``figure1``) and Figure
4b's overfitting curves (``figure4``), each with its claims."""
