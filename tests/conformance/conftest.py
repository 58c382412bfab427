"""The broken fakes are the template's connector with one defect each; the template is
not installed in the workspace's venv by setup.sh, so its source is put on the path."""

import sys
from pathlib import Path

_TEMPLATE = Path(__file__).resolve().parents[2] / "contrib" / "template" / "src"
if str(_TEMPLATE) not in sys.path:
    sys.path.insert(0, str(_TEMPLATE))
