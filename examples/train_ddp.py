"""
train_ddp.py — logistic regression trained by N workers at once with
torch.distributed (gloo backend, CPU), on a training dataset of the
feature store.

Every worker reads the training split through the REST API with its
trial token, keeps its own shard of the rows (every world_size-th row
from its rank), and trains a torch.nn.Linear wrapped in
DistributedDataParallel: after every backward pass the workers' gradients
are averaged with all-reduce, so all workers hold the same weights at
every step even though each one only sees its shard. Each worker saves
its final weights to the run's folder ($OAST_LOGDIR/weights_rank<k>.npy);
rank 0's return value is the run's result.

The server gives every worker RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR
and MASTER_PORT, which init_process_group("gloo") reads (env://), so no
torchrun is involved. Launch it from Python:

    from oast import experiment
    import train_ddp
    experiment.distributed(train_ddp.train, workers=2, strategy="allreduce", project="demo",
                           params={"view": "clicks", "td_version": 1}, optimization_key="accuracy")

or from the shell, where the parameters come from $OAST_PARAMS:

    oast exp run demo --workers 2 --strategy allreduce --metric accuracy -- python3 ./train_ddp.py
"""

import json
import os


def train(view="clicks", view_version=1, td_version=1, epochs=200, lr=0.5, rank=0, world_size=1):
    import numpy as np
    import torch
    import torch.distributed as dist

    import oast
    from oast import featureview

    project = oast.connect().projects.get(os.environ["OAST_PROJECT"])
    X, y = featureview.get_training_data(project, view, view_version, td_version, split="train")
    X = torch.tensor(np.asarray(X, dtype=np.float32))
    y = torch.tensor(np.asarray(y, dtype=np.float32))
    Xs, ys = X[rank::world_size], y[rank::world_size]

    dist.init_process_group("gloo")
    torch.manual_seed(rank)  # on purpose: DDP starts every worker from rank 0's weights
    model = torch.nn.parallel.DistributedDataParallel(torch.nn.Linear(X.shape[1], 1))
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    loss_fn = torch.nn.BCEWithLogitsLoss()
    for _ in range(epochs):
        opt.zero_grad()
        loss = loss_fn(model(Xs).squeeze(1), ys)
        loss.backward()  # the gradients are averaged over the workers here
        opt.step()
    with torch.no_grad():
        accuracy = ((model.module(X).squeeze(1) > 0).float() == y).float().mean().item()
    weights = torch.cat([p.detach().flatten() for p in model.module.parameters()]).numpy()
    np.save(os.path.join(os.environ.get("OAST_LOGDIR", "."), "weights_rank%d.npy" % rank), weights)
    print("rank %d of %d: %d rows, loss %.4f, accuracy %.4f" % (rank, world_size, len(ys), loss.item(), accuracy))
    dist.destroy_process_group()
    return {"accuracy": accuracy, "loss": loss.item(), "rows": len(ys)}


if __name__ == "__main__":
    # Run as a command (oast exp run --workers N -- python3 train_ddp.py): the same
    # function with the parameters of $OAST_PARAMS; rank 0 reports the result.
    from oast import experiment

    info = experiment.worker_info() or {"rank": 0, "world_size": 1}
    params = json.loads(os.environ.get("OAST_PARAMS") or "{}")
    out = train(rank=info["rank"], world_size=info["world_size"], **params)
    if info["rank"] == 0:
        experiment.Reporter().final(out["accuracy"], out)
