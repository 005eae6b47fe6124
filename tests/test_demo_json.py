"""`hil demo --json`: the summary of the main job validates against its schema and says what ran."""

import json

import pytest
from typer.testing import CliRunner

from toolchain.cli import app


@pytest.mark.slow
def test_demo_json_validates(tmp_path):
    import jsonschema

    from toolchain.schemas import schema

    result = CliRunner().invoke(app, ["demo", "--out", str(tmp_path / "demo"), "--json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    jsonschema.validate(summary, schema("demo"))
    assert summary["mismatches"] == {"export": 0, "lower": 0, "emulate": 0}
    assert (tmp_path / "demo" / "report.html").exists()
