"""The understanding engine's libraries (scikit-learn, SciPy: about 140 MiB of RSS) load only
where the engine is built, not in every process that imports the app: ``run.py worker`` and
``run.py check``, an export, the desk benchmark's fresh process (issue 14's export memory
target). Each check runs in a fresh interpreter, since this test process may have loaded them
already."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
HEAVY = ("sklearn", "scipy")


def _loaded_after(statement: str) -> list[str]:
    probe = (f"import sys\n{statement}\n"
             f"print(','.join(m for m in {HEAVY!r} if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True,
                          text=True, timeout=120, check=True)
    return [m for m in done.stdout.strip().split(",") if m]


@pytest.mark.parametrize("statement", [
    "import web.app",
    "import run",
    "import clips.worker",
    "import web.desk_export",
    "import clips.answers",
    "from moderation.understander import Understander; Understander()",
    "import moderation.understanding",
])
def test_importing_the_app_does_not_load_the_engine_libraries(statement: str) -> None:
    assert _loaded_after(statement) == []


def test_fitting_the_engine_s_model_does_load_them() -> None:
    # The probe sees them when they are loaded: the checks above can fail.
    assert _loaded_after("from moderation.understanding.ngram import NgramModel\n"
                         "NgramModel(['a', 'b'], ['驾照到期', '车牌怎么选'], ['a', 'b'])"
                         ) == list(HEAVY)
