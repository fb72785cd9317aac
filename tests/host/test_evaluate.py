import numpy as np

from host import evaluate


def test_confusion_counts() -> None:
    cm = evaluate.confusion(np.array([0, 1, 1, 2]), np.array([0, 1, 2, 2]), 3)
    assert cm.tolist() == [[1, 0, 0], [0, 1, 0], [0, 1, 1]]
