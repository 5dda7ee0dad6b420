"""`ops` sits on top: no other app imports it (only config's settings and URLs do)."""

import pytest

from tests.engine.test_layout import imports_in


@pytest.mark.parametrize("app", ["accounts", "api", "bulk", "engine", "momentum", "quotes"])
def test_no_app_imports_ops(app):
    assert imports_in(app, "ops") == []
