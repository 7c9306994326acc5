"""The specification's 59 JSON examples (copied verbatim from ocpi/ocpi at release-2.2.1-bugfixes)."""

import json
from pathlib import Path
from typing import Any

EXAMPLES = Path(__file__).resolve().parent / "data" / "ocpi_examples"


def load_example(name: str) -> Any:
    return json.loads((EXAMPLES / name).read_text())
