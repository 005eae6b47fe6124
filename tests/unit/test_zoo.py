import pytest

from toolchain.errors import UserError
from toolchain.zoo import load_recipe, recipe_names, with_overrides

REQUIRED = {"digits-mlp", "mnist-mlp", "tfc-w1a1", "digits-cnn", "jet-mlp", "cybsec-mlp", "cnv-w1a1"}


def test_zoo_has_the_required_recipes():
    assert REQUIRED <= set(recipe_names())


@pytest.mark.parametrize("name", sorted(REQUIRED))
def test_every_recipe_validates(name):
    recipe = load_recipe(name)
    assert recipe.name == name
    assert recipe.architecture.layers[-1].type == "dense"


def test_topologies_match_their_sources():
    tfc = load_recipe("mnist-mlp").architecture
    assert [l.units for l in tfc.layers] == [64, 64, 64, 10] and tfc.input_shape == [784]
    jet = load_recipe("jet-mlp").architecture
    assert [l.units for l in jet.layers] == [64, 32, 32, 5] and jet.input_shape == [16]
    cyb = load_recipe("cybsec-mlp")
    assert cyb.architecture.input_shape == [600] and cyb.quant.weight_bits == 2 and cyb.architecture.bipolar_output
    cnv = load_recipe("cnv-w1a1").architecture
    convs = [l.channels for l in cnv.layers if l.type == "conv"]
    assert convs == [64, 64, 128, 128, 256, 256]
    assert [l.units for l in cnv.layers if l.type == "dense"] == [512, 512, 10]


def test_unknown_recipe_names_the_known_ones():
    with pytest.raises(UserError, match="unknown recipe 'nope'.*digits-mlp"):
        load_recipe("nope")


@pytest.mark.parametrize("bits", [0, 9, 33, -1])
def test_bit_widths_outside_1_to_8_are_refused(bits):
    with pytest.raises(UserError, match=f"bit width {bits}"):
        with_overrides(load_recipe("digits-mlp"), weight_bits=bits)
    with pytest.raises(UserError, match=f"bit width {bits}"):
        with_overrides(load_recipe("digits-mlp"), act_bits=bits)


def test_recipe_file_errors_are_one_line(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\ndataset: {name: digits}\narchitecture: {input_shape: [4], layers: []}\n")
    with pytest.raises(UserError, match="last layer must be dense"):
        load_recipe(str(bad))
    with pytest.raises(UserError, match="not found"):
        load_recipe(str(tmp_path / "missing.yaml"))
    bad.write_text("quant: {weight_bits: 0}\n")
    with pytest.raises(UserError):
        load_recipe(str(bad))


def test_pixel_input_needs_a_pixel_data_set(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\ndataset: {name: digits}\narchitecture: {input_shape: [64], input_kind: uint8, "
                   "layers: [{type: dense, units: 10}]}\n")
    with pytest.raises(UserError, match="input_kind uint8 needs a data set of 8-bit pixels"):
        load_recipe(str(bad))
    assert load_recipe("tfc-w1a1").architecture.input_kind.value == "uint8"
    assert load_recipe("cnv-w1a1").architecture.input_kind.value == "uint8"
