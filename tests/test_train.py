import copy
import random

import numpy as np
import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from nbutils.train import accuracy, fit, set_seed


def classification_data(n=96, seed=0):
    generator = torch.Generator().manual_seed(seed)
    X = torch.randn(n, 4, generator=generator)
    y = (X[:, 0] + X[:, 1] > 0).long()
    return X, y


def small_classifier(seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Dropout(0.2), nn.Linear(8, 2))


# --------------------------------------------------------------------------- accuracy and set_seed

def test_accuracy_counts_argmax_matches():
    logits = torch.tensor([[2.0, 1.0], [0.0, 3.0], [1.0, 0.0], [0.0, 1.0]])
    assert accuracy(logits, torch.tensor([0, 1, 1, 1])) == pytest.approx(0.75)


def test_accuracy_on_sequences_ignores_padding():
    logits = torch.zeros(1, 3, 5)
    logits[0, 0, 2] = logits[0, 1, 4] = logits[0, 2, 1] = 1.0
    targets = torch.tensor([[2, 3, 0]])
    assert accuracy(logits, targets) == pytest.approx(1 / 3)
    assert accuracy(logits, targets, ignore_index=0) == pytest.approx(1 / 2)


@pytest.mark.parametrize("logits, targets, error, message", [
    (torch.zeros(4, 3), torch.zeros(5, dtype=torch.long), ValueError,
     r"logits must have targets' shape plus a class dimension, got logits \(4, 3\) and targets \(5,\)"),
    (torch.zeros(4), torch.zeros(4, dtype=torch.long), ValueError, "class dimension"),
])
def test_accuracy_bad_arguments(logits, targets, error, message):
    with pytest.raises(error, match=message):
        accuracy(logits, targets)


def test_set_seed_seeds_python_numpy_and_torch():
    set_seed(5)
    first = random.random(), np.random.rand(), torch.rand(1).item()
    set_seed(5)
    assert (random.random(), np.random.rand(), torch.rand(1).item()) == first


# --------------------------------------------------------------------------- fit

def run(model, train_loader, val_loader=None, lr=0.1, **kwargs):
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    return fit(model, nn.functional.cross_entropy, optimizer, train_loader, val_loader, **kwargs)


def test_fit_history_has_a_value_per_epoch_for_every_key():
    X, y = classification_data()
    model = small_classifier()
    history = run(model, DataLoader(TensorDataset(X, y), batch_size=16, shuffle=True), [(X, y)], epochs=4,
                  metrics={"accuracy": accuracy}, log_grad_norms=True)
    names = [name for name, _ in model.named_parameters()]
    assert set(history) == {"train_loss", "val_loss", "train_accuracy", "val_accuracy",
                            *(f"grad_norm/{name}" for name in names)}
    assert all(len(values) == 4 for values in history.values())
    assert history["train_loss"][-1] < history["train_loss"][0]
    assert all(0 <= a <= 1 for a in history["val_accuracy"])
    assert all(norm > 0 for norm in history["grad_norm/0.weight"])


def test_fit_val_loss_is_the_example_weighted_mean():
    X, y = classification_data(n=10)
    model = small_classifier().eval()
    history = run(model, [(X, y)], [(X[:7], y[:7]), (X[7:], y[7:])], lr=0.0, epochs=1)
    with torch.no_grad():
        assert history["val_loss"][0] == pytest.approx(nn.functional.cross_entropy(model(X), y).item(), rel=1e-6)
    assert not model.training  # left in the mode it had


def test_fit_same_seed_gives_identical_history():
    X, y = classification_data()
    model = small_classifier()
    twin = copy.deepcopy(model)
    loader = DataLoader(TensorDataset(X, y), batch_size=16, shuffle=True)  # shuffling and dropout draw randomness
    first = run(model, loader, [(X, y)], epochs=3, seed=7)
    second = run(twin, loader, [(X, y)], epochs=3, seed=7)
    assert first == second
    assert all(torch.equal(a, b) for a, b in zip(model.parameters(), twin.parameters(), strict=True))
    third = run(copy.deepcopy(twin), loader, [(X, y)], epochs=3, seed=8)
    assert third["train_loss"] != second["train_loss"]


def test_fit_accepts_tuple_inputs():
    class Sum(nn.Module):
        def __init__(self):
            super().__init__()
            self.linear = nn.Linear(4, 2)

        def forward(self, a, b):
            return self.linear(a + b)

    X, y = classification_data(n=16)
    history = run(Sum(), [((X, X), y)], epochs=2)
    assert len(history["train_loss"]) == 2


def test_early_stopping_restores_the_best_weights():
    # Training pulls w towards 2, the validation data wants 1: val loss falls, then rises.
    x = torch.linspace(-1, 1, 32).unsqueeze(1)
    model = nn.Linear(1, 1, bias=False)
    nn.init.zeros_(model.weight)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.3)
    history = fit(model, nn.functional.mse_loss, optimizer, [(x, 2 * x)], [(x, x)], epochs=50,
                  early_stopping_patience=3)
    best = history["best_epoch"]
    assert len(history["val_loss"]) == best + 3 < 50
    assert history["val_loss"][best - 1] == min(history["val_loss"])
    with torch.no_grad():
        assert nn.functional.mse_loss(model(x), x).item() == pytest.approx(history["val_loss"][best - 1])
    assert history["val_loss"][-1] > history["val_loss"][best - 1]


class RecordingSGD(torch.optim.SGD):
    """SGD that records the total gradient norm it is asked to step with."""

    def __init__(self, params, lr):
        super().__init__(params, lr=lr)
        self.step_norms = []

    def step(self, closure=None):
        grads = [p.grad for group in self.param_groups for p in group["params"] if p.grad is not None]
        self.step_norms.append(torch.linalg.vector_norm(torch.stack([g.norm() for g in grads])).item())
        return super().step(closure)


def test_gradient_clipping_bounds_the_norm():
    X, y = classification_data()
    y_big = 100 * X.sum(1, keepdim=True)
    loader = [(X[i:i + 16], y_big[i:i + 16]) for i in range(0, 96, 16)]
    model = nn.Linear(4, 1)
    twin = copy.deepcopy(model)
    clipped = RecordingSGD(model.parameters(), lr=1e-4)
    history = fit(model, nn.functional.mse_loss, clipped, loader, epochs=2, clip_grad_norm=0.5, log_grad_norms=True)
    assert len(clipped.step_norms) == 12 and max(clipped.step_norms) <= 0.5 + 1e-5
    assert min(history["grad_norm/weight"]) > 0.5  # logged before clipping
    unclipped = RecordingSGD(twin.parameters(), lr=1e-4)
    fit(twin, nn.functional.mse_loss, unclipped, loader, epochs=2)
    assert min(unclipped.step_norms) > 0.5


def test_progress_bar_silent_under_nbutils_static(monkeypatch, capfd):
    X, y = classification_data(n=16)
    monkeypatch.setenv("NBUTILS_STATIC", "1")
    run(small_classifier(), [(X, y)], epochs=2, progress=True)
    assert capfd.readouterr().err == ""
    monkeypatch.delenv("NBUTILS_STATIC")
    run(small_classifier(), [(X, y)], epochs=2, progress=False)
    assert capfd.readouterr().err == ""
    run(small_classifier(), [(X, y)], [(X, y)], epochs=2)
    shown = capfd.readouterr().err
    assert "epochs" in shown and "train_loss" in shown and "val_loss" in shown


def generator_of_batches():
    X, y = classification_data(n=8)
    yield X, y


@pytest.mark.parametrize("kwargs, error, message", [
    ({"train_loader": generator_of_batches()}, TypeError, "train_loader is a one-pass iterator"),
    ({"train_loader": classification_data(n=8)[0]}, TypeError,
     r"train_loader must yield \(inputs, targets\) pairs, but batch 0 of epoch 1 is a Tensor"),
    ({"train_loader": [classification_data(n=8)[0]]}, TypeError,
     r"train_loader must yield \(inputs, targets\) pairs, but batch 0 of epoch 1 is a Tensor"),
    ({"train_loader": [(1, 2, 3)]}, TypeError, "batch 0 of epoch 1 is a tuple of 3 items"),
    ({"train_loader": []}, ValueError, "train_loader yielded no batches in epoch 1"),
    ({"val_loader": []}, ValueError, "val_loader yielded no batches in epoch 1"),
    ({"early_stopping_patience": 2}, ValueError, "early stopping watches the validation loss: pass a val_loader"),
    ({"loss_fn": lambda out, y: nn.functional.cross_entropy(out, y, reduction="none")}, ValueError,
     r"loss_fn must return a scalar tensor \(reduction='mean'\), got \(8,\)"),
])
def test_fit_bad_arguments(kwargs, error, message):
    model = small_classifier()
    arguments = {"model": model, "loss_fn": nn.functional.cross_entropy,
                 "optimizer": torch.optim.SGD(model.parameters(), lr=0.1),
                 "train_loader": [classification_data(n=8)], **kwargs}
    with pytest.raises(error, match=message):
        fit(**arguments)


def test_plot_history_draws_a_history_with_early_stopping():
    from nbutils.plot import plot_history

    ax = plot_history({"train_loss": [1.0, 0.5], "val_loss": [1.1, 0.7], "best_epoch": 2})
    assert len(ax.get_lines()) == 2
