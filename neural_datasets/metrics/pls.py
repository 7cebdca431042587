"""Partial least squares regression (PLS2, no scaling), exact and batched over many fits at once.

scikit-learn's ``PLSRegression`` finds each component's X weights by a power iteration
(NIPALS) that stops at ``tol``; upstream neural_harmonizer used ``tol=1e-4``, which stops
before convergence. Converged, the iteration gives the dominant left singular vector of the
deflated cross-covariance ``X'Y``; here it is computed directly (the eigenvector of the
small side of ``X'Y``, i.e. its SVD), so the answer is exact and
does not depend on a tolerance (``tol=None``). Passing ``tol`` runs the power iteration
instead, step for step as scikit-learn runs it, to reproduce unconverged numbers.

Everything is computed from moments: the centered Gram matrix ``X'X`` (features x features)
and cross-covariance ``X'Y`` (features x targets). Leave-one-out folds share almost all their
rows, so their moments are the total's minus the left-out part's: one pass over the data
serves every fold, and the fits run batched (a leading fold axis) in NumPy.

Algorithm (Dayal & MacGregor 1997, "Improved PLS algorithms", with scikit-learn's
regression deflation): for component ``k`` take ``w`` = the dominant left singular vector of
the deflated ``S = X'Y``; the rotation ``r = w - R (P'w)`` gives the scores ``t = X r``
without deflating ``X``; with ``tt = r'X'X r``, the X loadings are ``p = X'X r / tt``, the Y
loadings ``c = S0' r / tt``, and ``S <- S - tt p c'``. The coefficients are ``R C'``, equal to
scikit-learn's ``x_rotations_ @ y_loadings_.T`` (its ``coef_.T``).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np

DEFAULT_MAX_ITER = 500
"""scikit-learn's ``PLSRegression`` default ``max_iter``, used with a ``tol``."""


@dataclass(frozen=True)
class PLSFits:
    """Coefficients of one or more PLS fits (a leading fit axis).

    Attributes
    ----------
    coef
        ``(fits, features, targets)``: predictions are ``(X - x_mean) @ coef + y_mean``.
    x_mean, y_mean
        ``(fits, features)``, ``(fits, targets)``: the training means.
    x_weights
        ``(fits, features, components)``, sign-flipped as scikit-learn flips them.
    unconverged
        With a ``tol``: how many (fit, component) power iterations hit ``max_iter``.
    """

    coef: np.ndarray
    x_mean: np.ndarray
    y_mean: np.ndarray
    x_weights: np.ndarray
    unconverged: int = 0

    def predict(self, X: np.ndarray) -> np.ndarray:
        """``(fits, rows, targets)`` predictions for ``X`` of shape ``(fits, rows, features)``."""
        return np.matmul(X - self.x_mean[:, None, :], self.coef) + self.y_mean[:, None, :]


def fit_pls(
    X: np.ndarray,
    Y: np.ndarray,
    n_components: int = 25,
    *,
    tol: float | None = None,
    max_iter: int = DEFAULT_MAX_ITER,
) -> PLSFits:
    """One PLS2 regression of ``Y`` on ``X`` without scaling (a :class:`PLSFits` of one fit).

    Parameters
    ----------
    X, Y
        ``(rows, features)`` and ``(rows, targets)``.
    n_components
        Number of PLS components, at most ``min(rows, features)``.
    tol, max_iter
        ``None`` (default): exact components (SVD). A float: scikit-learn's power iteration
        with this tolerance and at most ``max_iter`` steps per component.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(50, 8))
    >>> Y = X @ rng.normal(size=(8, 3))
    >>> fits = fit_pls(X, Y, n_components=8)
    >>> bool(np.allclose(fits.predict(X[None])[0], Y))
    True
    """
    X = np.asarray(X, dtype=np.float64)
    Y = np.asarray(Y, dtype=np.float64)
    if X.ndim != 2 or Y.ndim != 2 or len(X) != len(Y):
        raise ValueError(
            f"X and Y must be (rows, features) and (rows, targets) with the same rows; "
            f"got {X.shape} and {Y.shape}"
        )
    _check_components(n_components, len(X), X.shape[1])
    x_mean, y_mean = X.mean(axis=0), Y.mean(axis=0)
    Xc, Yc = X - x_mean, Y - y_mean
    return pls_from_moments(
        (Xc.T @ Xc)[None],
        (Xc.T @ Yc)[None],
        (Yc.T @ Yc)[None],
        x_mean[None],
        y_mean[None],
        n_components,
        tol=tol,
        max_iter=max_iter,
    )


def _check_components(n_components: object, rows: int, features: int) -> None:
    bound = min(rows, features)
    if isinstance(n_components, bool) or not isinstance(n_components, (int, np.integer)):
        raise TypeError(f"n_components must be an int; got {type(n_components).__name__}")
    if not 1 <= n_components <= bound:
        raise ValueError(
            f"n_components must be between 1 and min(training rows, features) = {bound}; "
            f"got {n_components}"
        )


def pls_from_moments(
    gram: np.ndarray,
    cross: np.ndarray,
    y_gram: np.ndarray,
    x_mean: np.ndarray,
    y_mean: np.ndarray,
    n_components: int,
    *,
    tol: float | None = None,
    max_iter: int = DEFAULT_MAX_ITER,
) -> PLSFits:
    """PLS fits from centered moments, batched over a leading fit axis.

    Parameters
    ----------
    gram, cross, y_gram
        ``(fits, features, features)`` ``X'X``, ``(fits, features, targets)`` ``X'Y`` and
        ``(fits, targets, targets)`` ``Y'Y``, all of centered data (``y_gram`` serves the
        power iteration's choice of starting column, as scikit-learn picks it).
    x_mean, y_mean
        The training means, kept for :meth:`PLSFits.predict`.
    n_components, tol, max_iter
        As for :func:`fit_pls`.
    """
    fits, features, targets = cross.shape
    eps = np.finfo(np.float64).eps
    S = cross.copy()
    D = y_gram.copy()
    W = np.zeros((fits, features, n_components))
    R = np.zeros_like(W)
    P = np.zeros_like(W)
    Q = np.zeros((fits, targets, n_components))
    # A component whose scores vanish (X or Y explained to round-off) contributes nothing.
    tiny = 1e-12 * np.maximum(np.trace(gram, axis1=1, axis2=2), np.finfo(np.float64).tiny)
    unconverged = 0
    with _one_blas_thread():
        for k in range(n_components):
            if tol is None:
                w = _dominant_left_singular_vector(S)
            else:
                w, missed = _power_iteration(S, D, tol, max_iter, eps)
                unconverged += missed
            # scikit-learn's sign convention: the largest |weight| is positive.
            biggest = np.take_along_axis(w, np.abs(w).argmax(axis=1)[:, None], axis=1)
            w = w * np.where(biggest < 0, -1.0, 1.0)
            r = w - _matvec(R[:, :, :k], _matvec(P[:, :, :k].transpose(0, 2, 1), w))
            Cr = _matvec(gram, r)
            tt = np.einsum("fp,fp->f", r, Cr)
            alive = tt > tiny
            safe_tt = np.where(alive, tt, 1.0)
            keep = alive[:, None].astype(np.float64)
            p = Cr / safe_tt[:, None] * keep
            c = _matvec(cross.transpose(0, 2, 1), r) / safe_tt[:, None] * keep
            S -= safe_tt[:, None, None] * p[:, :, None] * c[:, None, :]
            D -= safe_tt[:, None, None] * c[:, :, None] * c[:, None, :]
            W[:, :, k], R[:, :, k], P[:, :, k], Q[:, :, k] = w, r * keep, p, c
    coef = np.matmul(R, Q.transpose(0, 2, 1))
    return PLSFits(coef, x_mean, y_mean, W, unconverged)


def _matvec(A: np.ndarray, x: np.ndarray) -> np.ndarray:
    """``A @ x`` per fit: ``(fits, m, n)`` times ``(fits, n)``."""
    return np.matmul(A, x[:, :, None])[:, :, 0]


@contextmanager
def _one_blas_thread() -> Iterator[None]:
    """Run small BLAS/LAPACK calls on one thread (when threadpoolctl, a scikit-learn
    dependency, is installed).

    The component loop makes hundreds of calls on matrices of a few hundred rows; with
    several OpenBLAS threads on busy cores each call spins waiting for its threads, and
    the loop ran ~7x slower on a shared 2-core machine (16 s instead of 2.4 s a layer).
    """
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        yield
        return
    with threadpool_limits(limits=1, user_api="blas"):
        yield


def _dominant_left_singular_vector(S: np.ndarray) -> np.ndarray:
    """Unit ``w`` maximising ``|S'w|`` per fit, from the eigenproblem on the smaller side of ``S``.

    ``eigh`` of the small ``S'S`` (targets x targets) gives the right singular vector ``v``;
    ``w = S v / |S v|``. Batched LAPACK SVD of tall matrices runs ~10x slower here.
    """
    if S.shape[2] < S.shape[1]:
        v = np.linalg.eigh(np.matmul(S.transpose(0, 2, 1), S))[1][:, :, -1]
        w = _matvec(S, v)
    else:
        w = np.linalg.eigh(np.matmul(S, S.transpose(0, 2, 1)))[1][:, :, -1]
    norm = np.linalg.norm(w, axis=1, keepdims=True)
    return w / np.where(norm > 0, norm, 1.0)


def _power_iteration(
    S: np.ndarray, D: np.ndarray, tol: float, max_iter: int, eps: float
) -> tuple[np.ndarray, int]:
    """scikit-learn's NIPALS weights, in moment form, for every fit at once.

    Its loop (``_get_first_singular_vectors_power_method``, mode A) starts from the first
    column of the residual Y that is not zero, alternates ``w ~ X'y_score``,
    ``y_score ~ Y Y'X w``; only the direction of ``w`` matters, so each step is
    ``w <- normalise(S S' w)``, stopping once ``|w_new - w|^2 < tol``, after ``max_iter``
    steps, or after one step when Y has one column. Returns the weights and how many fits
    hit ``max_iter``.
    """
    fits, _, targets = S.shape
    # Residual columns below 10 eps everywhere are zeroed (scikit-learn); start at the first other.
    nonzero = np.diagonal(D, axis1=1, axis2=2) > (10 * eps) ** 2
    start = np.where(nonzero.any(axis=1), nonzero.argmax(axis=1), 0)
    w = np.take_along_axis(S, start[:, None, None], axis=2)[:, :, 0]
    w = w / (np.linalg.norm(w, axis=1, keepdims=True) + eps)
    if targets == 1:
        return w, 0
    active = np.ones(fits, dtype=bool)
    for _ in range(max_iter - 1):
        new = _matvec(S, _matvec(S.transpose(0, 2, 1), w))
        new /= np.linalg.norm(new, axis=1, keepdims=True) + eps
        converged = ((new - w) ** 2).sum(axis=1) < tol
        w = np.where(active[:, None], new, w)
        active &= ~converged
        if not active.any():
            break
    return w, int(active.sum())
