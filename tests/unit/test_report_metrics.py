"""`hil report` on a reconstruction recipe's run folder (conv-autoencoder): metrics.json carries
`metric: mse` and no accuracy; the summary shows the MSE and its float32 twin."""

import json

from toolchain.report.html import write_report


def test_report_shows_mse_of_a_reconstruction_run(tmp_path):
    (tmp_path / "metrics.json").write_text(json.dumps({"recipe": "conv-autoencoder", "task": "reconstruction",
                                                       "metric": "mse", "mse": 0.01992, "float_mse": 0.0148,
                                                       "bops": 1.0e6, "sparsity": 0.0}))
    page = write_report(tmp_path).read_text()
    assert "<th>mse</th><td>0.01992</td>" in page
    assert "<th>float32 mse</th><td>0.0148</td>" in page
    assert "accuracy" not in page
