"""`--prune` specs: typed parsing, and bad input refused with one line (exit 2) before any training."""

import pytest

from tests.conftest import run_cli
from toolchain.compress.pruning import (ChannelMethod, ChannelSpec, Scope, UnstructuredSpec, check_spec,
                                        parse_prune_spec, pruned_count)
from toolchain.errors import UserError
from toolchain.zoo import load_recipe


def test_parse_unstructured_defaults_and_options():
    assert parse_prune_spec("unstructured:0.8") == UnstructuredSpec(0.8)
    spec = parse_prune_spec("unstructured:0.9,scope=layerwise,step=0.2,epochs=3,rewind=true")
    assert spec == UnstructuredSpec(0.9, Scope.LAYERWISE, 0.2, 3, True)
    assert parse_prune_spec(spec.text()) == spec  # the canonical text parses back


def test_parse_channels_methods():
    assert parse_prune_spec("channels:0.5") == ChannelSpec(0.5, ChannelMethod.GREEDY)
    assert parse_prune_spec("channels:0.5,method=oneshot").method is ChannelMethod.ONESHOT
    spec = parse_prune_spec("channels:0.25,method=weight,epochs=4,qepochs=2")
    assert spec == ChannelSpec(0.25, ChannelMethod.WEIGHT, 4, 2)
    assert parse_prune_spec(spec.text()) == spec


def test_zero_sparsity_is_allowed():
    assert parse_prune_spec("unstructured:0").sparsity == 0.0


@pytest.mark.parametrize("text,needle", [
    ("unstructured:1", "sparsity must be in [0, 1)"),
    ("channels:1.5", "sparsity must be in [0, 1)"),
    ("unstructured:-0.1", "sparsity must be in [0, 1)"),
    ("channels:half", "sparsity must be a number"),
    ("channels:0.5,method=random", "unknown channel-pruning method 'random'"),
    ("unstructured:0.5,scope=tiles", "unknown pruning scope 'tiles'"),
    ("unstructured:0.5,method=greedy", "unknown option 'method=greedy'"),
    ("filters:0.5", "expected KIND:SPARSITY"),
    ("0.5", "expected KIND:SPARSITY"),
    ("channels:0.5,epochs=0", "epochs must be >= 1"),
    ("unstructured:0.5,step=0", "step must be in (0, 1)"),
    ("unstructured:0.5,rewind=maybe", "rewind must be true or false"),
])
def test_bad_specs_are_user_errors(text, needle):
    with pytest.raises(UserError) as err:
        parse_prune_spec(text)
    assert needle in str(err.value) and "\n" not in str(err.value)


def test_pruned_count_rounds_half_up():
    assert [pruned_count(0.5, n) for n in (1, 2, 3, 64)] == [1, 1, 2, 32]
    assert pruned_count(0.0, 10) == 0 and pruned_count(0.99, 10) == 10


def test_a_layer_pruned_to_zero_channels_is_refused():
    recipe = load_recipe("digits-mlp")  # hidden widths 64 and 32
    check_spec(parse_prune_spec("channels:0.98"), recipe)  # 32 → 1 channel left: fine
    with pytest.raises(UserError, match="pruned to zero channels"):
        check_spec(parse_prune_spec("channels:0.99"), recipe)


def test_binary_weights_cannot_be_pruned():
    with pytest.raises(UserError, match="binary"):
        check_spec(parse_prune_spec("unstructured:0.5"), load_recipe("tfc-w1a1"))
    check_spec(parse_prune_spec("channels:0.5"), load_recipe("tfc-w1a1"))  # removal needs no zero weight


def _one_line_exit_2(proc, needle):
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = [l for l in proc.stderr.splitlines() if l.startswith("error:")]
    assert len(lines) == 1 and needle in lines[0], proc.stderr


@pytest.mark.parametrize("spec,needle", [("unstructured:1.0", "sparsity must be in [0, 1)"),
                                         ("channels:0.5,method=lottery", "unknown channel-pruning method"),
                                         ("channels:0.99", "pruned to zero channels")])
def test_cli_refuses_bad_prune_specs(tmp_path, spec, needle):
    proc = run_cli("train", "digits-mlp", "--out", str(tmp_path / "run"), "--prune", spec)
    _one_line_exit_2(proc, needle)
    assert not (tmp_path / "run").exists()
