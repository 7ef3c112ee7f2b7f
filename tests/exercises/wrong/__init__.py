"""Plausible wrong answers to each exercise: what a learner might write
first. One module per notebook (``nbNN.py``), each with a ``WRONG_ANSWERS``
dict: the nbgrader ``grade_id`` of an exercise's solution cell → {what the
answer gets wrong: the code}. The code replaces what lies between the
solution's ``BEGIN SOLUTION`` and ``END SOLUTION`` lines, and the check must
then print ❌ and fail the cell, within its time limit. They live here, not
in the notebooks: the learner never sees them.
"""

import importlib
import pkgutil

WRONG_ANSWERS = {}
for module in pkgutil.iter_modules(__path__):
    WRONG_ANSWERS.update(importlib.import_module(f"{__name__}.{module.name}").WRONG_ANSWERS)
