"""The book's training loop: :func:`fit`, with a progress bar, metrics, clipping and early stopping.

Training loops are not the lesson of most chapters, so they share this one.
It is deterministic given a seed, and its progress bar is silent while the
book builds and the tests run (``NBUTILS_STATIC=1``), so stored notebook
outputs do not change from run to run.
"""
from __future__ import annotations

import os
import random
from collections.abc import Callable, Iterable, Iterator

import numpy as np
import torch
from tqdm.auto import tqdm

Metric = Callable[[torch.Tensor, torch.Tensor], float]


def set_seed(seed: int) -> None:
    """Seed Python's ``random``, NumPy's global generator and PyTorch's, so a run can be repeated."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def accuracy(logits: torch.Tensor, targets: torch.Tensor, ignore_index: int | None = None) -> float:
    """Fraction of positions where ``logits.argmax(-1)`` equals ``targets``.

    ``logits`` has shape (N, C) or (N, ..., C) and ``targets`` the same shape
    without the class dimension, e.g. (B, T, V) and (B, T) for sequences.
    Positions where ``targets == ignore_index`` (e.g. padding) are not counted.
    """
    if logits.ndim < 2 or logits.shape[:-1] != targets.shape:
        raise ValueError(f"logits must have targets' shape plus a class dimension, got logits "
                         f"{tuple(logits.shape)} and targets {tuple(targets.shape)}.")
    correct = logits.argmax(dim=-1) == targets
    if ignore_index is not None:
        counted = targets != ignore_index
        return float(correct[counted].float().mean()) if counted.any() else float("nan")
    return float(correct.float().mean())


def _show_progress(progress: bool | None) -> bool:
    """Progress bars are off under NBUTILS_STATIC=1 (book build, tests) whatever ``progress`` says."""
    if os.environ.get("NBUTILS_STATIC") == "1":
        return False
    return progress is not False


def _unpack(batch, name: str, epoch: int, index: int) -> tuple:
    if not isinstance(batch, (tuple, list)) or len(batch) != 2:
        what = f"a {type(batch).__name__} of {len(batch)} items" if isinstance(batch, (tuple, list)) \
            else f"a {type(batch).__name__}"
        raise TypeError(f"{name} must yield (inputs, targets) pairs, but batch {index} of epoch {epoch} is {what}. "
                        f"To train on whole tensors X, y pass [(X, y)] or DataLoader(TensorDataset(X, y), "
                        f"batch_size=...); several model inputs go in one tuple: ((x1, x2), targets).")
    return batch[0], batch[1]


def _forward(model: torch.nn.Module, inputs) -> torch.Tensor:
    return model(*inputs) if isinstance(inputs, (tuple, list)) else model(inputs)


def _count(targets) -> int:
    """Number of examples in a batch, the weight of its loss in the epoch's mean."""
    return len(targets) if isinstance(targets, torch.Tensor) and targets.ndim > 0 else 1


def _scalar_loss(loss_fn: Callable, outputs: torch.Tensor, targets) -> torch.Tensor:
    loss = loss_fn(outputs, targets)
    if not isinstance(loss, torch.Tensor) or loss.ndim != 0:
        shape = tuple(loss.shape) if isinstance(loss, torch.Tensor) else type(loss).__name__
        raise ValueError(f"loss_fn must return a scalar tensor (reduction='mean'), got {shape}.")
    return loss


class _RunningMeans:
    """Per-epoch means of the loss and metrics, weighted by batch size."""

    def __init__(self):
        self.sums: dict[str, float] = {}
        self.count = 0

    def add(self, values: dict[str, float], weight: int) -> None:
        for key, value in values.items():
            self.sums[key] = self.sums.get(key, 0.0) + value * weight
        self.count += weight

    def means(self, prefix: str) -> dict[str, float]:
        return {f"{prefix}_{key}": total / self.count for key, total in self.sums.items()}


def _batch_values(loss: torch.Tensor, outputs: torch.Tensor, targets, metrics: dict[str, Metric]) -> dict:
    outputs = outputs.detach()
    return {"loss": loss.item(), **{name: float(metric(outputs, targets)) for name, metric in metrics.items()}}


def _grad_norms(model: torch.nn.Module) -> dict[str, float]:
    return {f"grad_norm/{name}": (p.grad.norm().item() if p.grad is not None else 0.0)
            for name, p in model.named_parameters() if p.requires_grad}


def _train_epoch(model, loss_fn, optimizer, loader, metrics, clip_grad_norm, log_grad_norms, epoch) -> dict:
    model.train()
    running = _RunningMeans()
    norm_sums: dict[str, float] = {}
    n_batches = 0
    for index, batch in enumerate(loader):
        inputs, targets = _unpack(batch, "train_loader", epoch, index)
        optimizer.zero_grad()
        outputs = _forward(model, inputs)
        loss = _scalar_loss(loss_fn, outputs, targets)
        loss.backward()
        if log_grad_norms:
            for key, norm in _grad_norms(model).items():
                norm_sums[key] = norm_sums.get(key, 0.0) + norm
        if clip_grad_norm is not None:
            torch.nn.utils.clip_grad_norm_(model.parameters(), clip_grad_norm)
        optimizer.step()
        with torch.no_grad():
            running.add(_batch_values(loss, outputs, targets, metrics), _count(targets))
        n_batches += 1
    if n_batches == 0:
        raise ValueError(f"train_loader yielded no batches in epoch {epoch}.")
    return {**running.means("train"), **{key: total / n_batches for key, total in norm_sums.items()}}


def _evaluate(model, loss_fn, loader, metrics, epoch) -> dict:
    model.eval()
    running = _RunningMeans()
    with torch.no_grad():
        for index, batch in enumerate(loader):
            inputs, targets = _unpack(batch, "val_loader", epoch, index)
            outputs = _forward(model, inputs)
            running.add(_batch_values(_scalar_loss(loss_fn, outputs, targets), outputs, targets, metrics),
                        _count(targets))
    if running.count == 0:
        raise ValueError(f"val_loader yielded no batches in epoch {epoch}.")
    return running.means("val")


def _check_fit_arguments(train_loader, val_loader, early_stopping_patience) -> None:
    """Refuse what would train wrongly without an error: a one-pass loader, early stopping with nothing to watch."""
    for name, loader in (("train_loader", train_loader), ("val_loader", val_loader)):
        if isinstance(loader, Iterator):
            raise TypeError(f"{name} is a one-pass iterator (e.g. a generator), so it would be empty after the "
                            "first epoch: pass a list, e.g. list(...), or a DataLoader.")
    if early_stopping_patience is not None and val_loader is None:
        raise ValueError("early stopping watches the validation loss: pass a val_loader.")


def fit(model: torch.nn.Module, loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
        optimizer: torch.optim.Optimizer, train_loader: Iterable, val_loader: Iterable | None = None,
        epochs: int = 10, metrics: dict[str, Metric] | None = None, clip_grad_norm: float | None = None,
        log_grad_norms: bool = False, early_stopping_patience: int | None = None, seed: int | None = 0,
        progress: bool | None = None) -> dict:
    """Train ``model`` for ``epochs`` epochs and return its history: per-epoch lists of losses and metrics.

    Loaders: any re-iterable of ``(inputs, targets)`` batches, such as a
    ``torch.utils.data.DataLoader`` or a list of tuples; ``[(X, y)]`` trains on
    whole tensors as one batch. ``inputs`` is a tensor (``model(inputs)``) or a
    tuple of them (``model(*inputs)``). A generator is refused: it would be
    empty after the first epoch.

    Each epoch trains on every batch of ``train_loader`` (``model.train()``),
    then evaluates on ``val_loader`` (``model.eval()``, no gradients).
    ``loss_fn(outputs, targets)`` must return a scalar; ``metrics`` maps a name
    to ``f(outputs, targets) -> float`` such as :func:`accuracy`.

    The history holds, for each epoch:

    - ``train_loss`` and ``train_<metric>``: means over the epoch's batches,
      weighted by batch size, measured as the model trains (as Keras reports them);
    - ``val_loss`` and ``val_<metric>`` when ``val_loader`` is given;
    - ``grad_norm/<parameter name>`` when ``log_grad_norms``: the mean over
      batches of each parameter's gradient L2 norm, before clipping.

    ``clip_grad_norm`` rescales the gradient of all parameters together so its
    L2 norm is at most that value. ``early_stopping_patience`` stops after that
    many epochs without a lower ``val_loss``, restores the weights of the best
    epoch and records it as ``history['best_epoch']`` (1-based).

    With ``seed`` not None, Python's, NumPy's and PyTorch's generators are
    seeded first (see :func:`set_seed`), so the same model state, data and
    seed give the same history. The progress bar over epochs shows the latest
    losses; ``progress=False`` or ``NBUTILS_STATIC=1`` hides it. The model is
    left in the train/eval mode it had before.
    """
    metrics = {} if metrics is None else metrics
    _check_fit_arguments(train_loader, val_loader, early_stopping_patience)
    if seed is not None:
        set_seed(seed)
    was_training = model.training
    history: dict = {}
    best_val_loss, best_state, epochs_without_improvement = float("inf"), None, 0
    bar = tqdm(range(1, epochs + 1), desc="epochs", unit="epoch", disable=not _show_progress(progress))
    for epoch in bar:
        values = _train_epoch(model, loss_fn, optimizer, train_loader, metrics, clip_grad_norm, log_grad_norms,
                              epoch)
        if val_loader is not None:
            values.update(_evaluate(model, loss_fn, val_loader, metrics, epoch))
        for key, value in values.items():
            history.setdefault(key, []).append(value)
        bar.set_postfix({key: f"{values[key]:.4g}" for key in ("train_loss", "val_loss") if key in values})
        if early_stopping_patience is None:
            continue
        if values["val_loss"] < best_val_loss:
            best_val_loss, epochs_without_improvement = values["val_loss"], 0
            best_state = {key: tensor.detach().clone() for key, tensor in model.state_dict().items()}
            history["best_epoch"] = epoch
        else:
            epochs_without_improvement += 1
            if epochs_without_improvement >= early_stopping_patience:
                break
    bar.close()
    if best_state is not None:
        model.load_state_dict(best_state)
    model.train(was_training)
    return history
