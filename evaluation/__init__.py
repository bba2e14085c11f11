"""Evaluation: metrics (``metrics``), test sets and scoring
(``evaluation``), the ablation report (``ablation_report``)."""
