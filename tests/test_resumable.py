"""The shared epoch loop on a toy job (the real ones: tests/test_engine.py, test_generative.py,
test_reproducible.py)."""
from dataclasses import dataclass, field

import pytest
import torch
from torch import nn

from benchmark.training.resumable import check_curve, check_progress, is_number, train_epochs

EPOCHS = 4


@dataclass
class ToyProgress:
    epoch: int = 0
    losses: list[float] = field(default_factory=list)
    train_seconds: float = 0.0

    def check(self, epochs):
        check_progress(self, epochs)
        check_curve("losses", self.losses, self.epoch, is_number)


class ToyJob:
    """A linear model fitted to fresh random data each epoch: the result depends on the RNG."""

    def __init__(self):
        torch.manual_seed(0)
        self.model = nn.Linear(3, 1)
        self.optimizer = torch.optim.SGD(self.model.parameters(), lr=0.1, momentum=0.9)

    def parts(self):
        return {"model": self.model, "optimizer": self.optimizer}

    def run_epoch(self, progress):
        x = torch.randn(8, 3)
        loss = (self.model(x).squeeze(1) - x.sum(1)).pow(2).mean()
        self.optimizer.zero_grad()
        loss.backward()
        self.optimizer.step()
        progress.losses.append(loss.item())
        progress.epoch += 1


class Killed(Exception):
    pass


def kill_at(epoch_to_kill):
    def on_epoch(epoch, epochs):
        if epoch == epoch_to_kill:
            raise Killed
    return on_epoch


def train(job, identity, checkpoint, on_epoch=None):
    return train_epochs(job, identity, ToyProgress(), EPOCHS, job.run_epoch, checkpoint, 0.0, on_epoch)


def test_a_killed_job_resumes_to_the_uninterrupted_result_and_another_job_starts_afresh(tmp_path):
    whole = ToyJob()
    clean, resumed_from = train(whole, {"run": "a"}, tmp_path / "clean.pt")
    assert resumed_from == 0 and len(clean.losses) == EPOCHS
    last = torch.load(tmp_path / "clean.pt", weights_only=True)  # never written after the last epoch
    assert last["identity"] == {"run": "a"} and last["progress"]["epoch"] == EPOCHS - 1

    checkpoint = tmp_path / "a.pt"
    with pytest.raises(Killed):
        train(ToyJob(), {"run": "a"}, checkpoint, kill_at(2))
    assert checkpoint.exists()

    other, other_from = train(ToyJob(), {"run": "b"}, checkpoint)
    assert other_from == 0 and len(other.losses) == EPOCHS

    with pytest.raises(Killed):
        train(ToyJob(), {"run": "a"}, checkpoint, kill_at(2))
    job = ToyJob()
    torch.manual_seed(123)  # the checkpoint's RNG state, not this one, decides the rest
    resumed, resumed_from = train(job, {"run": "a"}, checkpoint)
    assert resumed_from == 2
    assert resumed.losses == clean.losses
    assert torch.equal(job.model.weight, whole.model.weight)
