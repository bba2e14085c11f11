"""Evaluate a checkpoint folder on a test set: images + metrics.json + metrics.md.

    python scripts/evaluate.py --params params/default --rough
    python scripts/evaluate.py --name faces --test_set paired --dataroot data/test
    python scripts/evaluate.py --params checkpoints/ablations_tiny/full \\
        --preset tiny+ablations/no_projection --rough --hand my_sketches/

``python scripts/evaluate.py --help`` lists every option; the work is done by
``evaluation/run.py``.
"""

import sys

from util.entry import require_dependencies

require_dependencies()

from evaluation.run import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
