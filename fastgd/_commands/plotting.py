"""Loss curves with matplotlib (an optional extra: ``pip install "fastgd[plot]"``)."""

import numpy as np


def plot_loss(result, ax=None):
    """Draw ``result``'s loss per epoch (training, and validation when recorded).

    Returns
    -------
    matplotlib.axes.Axes
    """
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise ImportError(f"Plotting needs matplotlib ({exc}): pip install "
                          '"fastgd[plot]"') from exc
    if ax is None:
        ax = plt.figure(figsize=(6, 4)).add_subplot()
    epochs = np.arange(1, result.n_epochs + 1)
    for history, label in ((result.loss_history, "training objective"),
                           (result.validation_loss_history, "validation loss")):
        if history is not None:
            ax.plot(epochs, np.reshape(history, (len(epochs), -1)).sum(axis=1), label=label)
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss (1/2 mean squared error)")
    ax.set_yscale("log")
    schedule = result.learning_rate
    params = ", ".join(f"{name}={value:.3g}" for name, value in vars(schedule).items())
    ax.set_title(f"fastgd fit: {result.n_epochs} epochs, {type(schedule).__name__}({params})")
    ax.legend()
    return ax
