"""Dependencies run one way: engine → bulk → quotes → momentum (docs/architecture.md)."""

import re

import pytest

from tests.harness import ROOT


def imports_in(app: str, names: str) -> list[str]:
    pattern = re.compile(rf"(from|import) ({names})\b")
    found = []
    for path in sorted((ROOT / app).rglob("*.py")):
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if pattern.search(line):
                found.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    return found


@pytest.mark.parametrize(
    ("app", "forbidden"),
    [("quotes", "bulk|engine"), ("momentum", "bulk|engine|quotes"), ("bulk", "engine")],
)
def test_an_app_never_imports_the_layers_above_it(app, forbidden):
    assert imports_in(app, forbidden) == []
