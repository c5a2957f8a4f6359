import pytest
import torch

from benchmark.orchestration.store import Store
from benchmark.orchestration.worker import JobOptions, execute
from benchmark.training.engine import classification_metrics
from helpers import run_task
from methods import METHODS

TASK = run_task("baseline")


def run(store: Store, tmp_path, **kwargs):
    execute(TASK, store, tmp_path, **kwargs)
    return store.load_record(TASK.id).to_json()


def test_metrics_by_hand():
    logits = torch.tensor([[9.0, 1, 0, 0, 0, 0], [0, 9, 1, 0, 0, 0], [0, 9, 1, 0, 0, 0], [1, 2, 3, 4, 5, 9]])
    y = torch.tensor([0, 1, 2, 0])
    m = classification_metrics(logits, y)
    assert m["accuracy"] == pytest.approx(50.0)
    # class 0: 1 of 2, class 1: 1 of 1, class 2: 0 of 1
    assert m["balanced_accuracy"] == pytest.approx(100 * (0.5 + 1 + 0) / 3)
    # top-5 misses only the last sample (class 0 is its 6th)
    assert m["top5_accuracy"] == pytest.approx(75.0)


def test_quick_run_learns_digits_and_writes_a_full_record(tmp_path):
    store = Store(tmp_path / "r")
    record = run(store, tmp_path)
    assert record["metrics"]["accuracy"] > 40  # chance is 10 %
    assert set(record["metrics"]) == {"accuracy", "balanced_accuracy", "top5_accuracy"}
    assert len(record["curve"]["train_loss"]) == record["recipe"]["epochs"]
    assert record["curve"]["train_loss"][-1] < record["curve"]["train_loss"][0]
    assert not store.checkpoint_path(TASK.id).exists()


class Killed(Exception):
    pass


def test_interrupted_run_resumes_to_the_uninterrupted_result(tmp_path):
    clean = run(Store(tmp_path / "clean"), tmp_path)
    store = Store(tmp_path / "killed")

    def kill_at_epoch_5(epoch, epochs):
        if epoch == 5:
            raise Killed

    with pytest.raises(Killed):
        execute(TASK, store, tmp_path, options=JobOptions(checkpoint_every_s=0), on_epoch=kill_at_epoch_5)
    assert store.checkpoint_path(TASK.id).exists() and store.load_record(TASK.id) is None
    resumed = run(store, tmp_path, options=JobOptions(checkpoint_every_s=0))
    assert resumed["timing"]["resumed_from_epoch"] == 5  # an epoch is checkpointed before it is reported
    assert resumed["metrics"] == clean["metrics"]
    assert resumed["curve"] == clean["curve"]


def test_a_finished_run_is_not_trained_again(tmp_path):
    store = Store(tmp_path / "r")
    first = run(store, tmp_path)
    mtime = store.record_path(TASK.id).stat().st_mtime_ns
    assert run(store, tmp_path) == first
    assert store.record_path(TASK.id).stat().st_mtime_ns == mtime


def test_a_corrupt_record_does_not_count_as_done(tmp_path):
    store = Store(tmp_path / "r")
    path = store.record_path(TASK.id)
    path.parent.mkdir(parents=True)
    path.write_text('{"run_id": "')
    assert not store.is_done(TASK.id)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("p_gen", [0.0, 1.0])
def test_training_steps_issue_no_host_device_sync(tmp_path, p_gen):
    """Every method's step, real and generated batches, under CUDA's sync debug mode set to error."""
    from benchmark.output.perf import Bench

    device = torch.device("cuda")
    bench = Bench("cifair10", "quick", device, False, tmp_path)
    for method in METHODS:
        task = bench.task(method, {})
        if "p_gen" in task.hparams:
            task = bench.task(method, {"p_gen": p_gen})
        trainer = task.trainer(bench.images, bench.labels, device, bench.inputs(task))
        order = trainer.epoch_order()
        trainer.step(order[:10])  # first step: lazy initialisations may sync
        torch.cuda.synchronize()
        torch.cuda.set_sync_debug_mode("error")
        try:
            for i in range(10, 40, 10):
                trainer.step(order[i:i + 10])
        finally:
            torch.cuda.set_sync_debug_mode("default")
