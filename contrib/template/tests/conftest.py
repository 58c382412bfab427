"""Lets the template's tests run from a checkout without installing it; a copied plugin
that is installed (pip install -e .) does not need this file."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent.parent / "src"))
