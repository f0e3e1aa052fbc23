"""The downstream evaluation suite: real geographic tasks, probes, splits, and a report.

Needs the ``eval`` extra (scikit-learn, h5py, pyshp, shapely, matplotlib, pillow, pyarrow).
"""

from satclip.evaluation.suite import evaluate, markdown, run, write_outputs
from satclip.evaluation.tasks import Task, list_tasks, load_task

__all__ = [
    "Task",
    "evaluate",
    "list_tasks",
    "load_task",
    "markdown",
    "run",
    "write_outputs",
]
