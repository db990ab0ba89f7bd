"""Weighted, L2-penalised logistic regression by Newton's method, for the offline fits.

A few lines of numpy: scikit-learn would add a large dependency to the production image for
fits of one to three features done offline (evidence sufficiency, fusion curves).
"""

from __future__ import annotations

import numpy as np

L2_PENALTY = 1e-2
NEWTON_STEPS = 50


def logistic_regression(features: np.ndarray, labels: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Coefficients per feature column; the last one is the intercept."""
    design = np.hstack([features, np.ones((len(features), 1))])
    penalty = np.diag([L2_PENALTY] * features.shape[1] + [0.0])
    coefficients = np.zeros(design.shape[1])
    for _ in range(NEWTON_STEPS):
        predicted = 1.0 / (1.0 + np.exp(-np.clip(design @ coefficients, -60, 60)))
        gradient = design.T @ (weights * (predicted - labels)) + penalty @ coefficients
        hessian = (design * (weights * predicted * (1 - predicted))[:, None]).T @ design + penalty
        coefficients -= np.linalg.solve(hessian, gradient)
    return coefficients
