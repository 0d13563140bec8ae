"""Properties every registered transform must have, run over REGISTRY x each spec's examples."""

from __future__ import annotations

import json
import pickle

import numpy as np
import pytest

from augcli.errors import RecipeError
from augcli.registry import REGISTRY
from augcli.render import render
from tests.conftest import KIND_IDS, KINDS, make_image, sample_ops, with_partners

# Single-image recipe transforms; combining ones (inputs > 1, made by balance) and the ones augcli records
# itself (decoded_at) have their own tests.
SINGLE = sorted(name for name, spec in REGISTRY.items() if spec.cls.inputs == 1 and not spec.cls.planned)
CASES = [(name, i, example) for name in SINGLE for i, example in enumerate(REGISTRY[name].cls.examples)]
CASE_IDS = [f"{name}-{i}" for name, i, _ in CASES]


def test_every_transform_has_examples() -> None:
    missing = sorted(name for name, spec in REGISTRY.items() if not spec.cls.examples)
    assert missing == []


@pytest.mark.parametrize(("name", "index", "example"), CASES, ids=CASE_IDS)
@pytest.mark.parametrize(("dtype", "channels"), KINDS, ids=KIND_IDS)
def test_kind_preserved_and_input_untouched(name: str, index: int, example: dict, dtype: type, channels: int) -> None:
    image = make_image(dtype, channels)
    before = image.copy()
    ops = sample_ops(name, example, image.shape, seed=3)
    out = render(image, ops, with_partners(image))
    assert out.dtype == image.dtype
    assert out.ndim == 3 and out.shape[2] == channels
    assert np.array_equal(image, before)
    assert out.flags["C_CONTIGUOUS"]


@pytest.mark.parametrize(("name", "index", "example"), CASES, ids=CASE_IDS)
def test_same_seed_same_output_and_replay(name: str, index: int, example: dict) -> None:
    image = make_image(np.uint8, 3)
    ops_a = sample_ops(name, example, image.shape, seed=11)
    ops_b = sample_ops(name, example, image.shape, seed=11)
    assert ops_a == ops_b
    replayed = json.loads(json.dumps(ops_a))
    assert replayed == ops_a  # params are plain JSON values
    sources = with_partners(image)
    assert np.array_equal(render(image, ops_a, sources), render(image, replayed, sources))


@pytest.mark.parametrize(("name", "index", "example"), CASES, ids=CASE_IDS)
@pytest.mark.parametrize(("dtype", "channels"), [(np.uint8, 1), (np.uint16, 4)], ids=["u8x1", "u16x4"])
def test_sampled_ops_carry_what_the_declaration_says(name: str, index: int, example: dict, dtype: type,
                                                     channels: int) -> None:
    """What ``sample`` records is what ``carries`` declares (a replay checks ops against it), nested ops too."""
    image = make_image(dtype, channels, 24, 40)
    for seed in range(4):
        pending = json.loads(json.dumps(sample_ops(name, example, image.shape, seed)))
        while pending:
            op = pending.pop()
            pending.extend(REGISTRY[op["name"]].check_op(op["params"], op["name"]))


def test_an_op_missing_a_parameter_or_with_an_unknown_one_is_refused() -> None:
    spec = REGISTRY["gaussian_noise"]
    with pytest.raises(RecipeError, match=r"op: expected parameters std, per_channel, seed, got per_channel, sd, "
                                          r"seed \(missing: std; unknown: sd\)"):
        spec.check_op({"sd": 3.0, "per_channel": True, "seed": 1}, "op")
    with pytest.raises(RecipeError, match=r"op\.seed: expected integer in \[0, 9223372036854775807\], got -1"):
        spec.check_op({"std": 3.0, "per_channel": True, "seed": -1}, "op")


RANDOM = [name for name in SINGLE if not REGISTRY[name].cls.deterministic]


@pytest.mark.parametrize("name", RANDOM)
def test_other_seed_other_output(name: str) -> None:
    """A random transform's first example (its defaults, usually) varies with the seed."""
    example = REGISTRY[name].cls.examples[0]
    image = make_image(np.uint8, 3, 48, 64)
    outputs = {render(image, sample_ops(name, example, image.shape, seed), with_partners(image)).tobytes()
               for seed in range(6)}
    assert len(outputs) > 1


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_spec_pickles_and_rejects_bad_params(name: str) -> None:
    spec = REGISTRY[name]
    transform = spec.build({}, name) if not spec.cls.examples[0] else spec.build(spec.cls.examples[0], name)
    assert pickle.loads(pickle.dumps(transform)) == transform
    with pytest.raises(RecipeError, match=rf"{name}\.no_such_param"):
        spec.build({"no_such_param": 1}, name)
    for pname in spec.params:
        with pytest.raises(RecipeError, match=rf"{name}\.{pname}: expected"):
            spec.build({pname: {"not": "valid"}}, name)


# Geometric and distortion transforms move alpha with the image; policies and custom may contain geometric steps.
# Multi-image steps take alpha from their partners too (tests/transforms/test_mix.py checks it).
ALPHA_KEPT = [name for name in SINGLE if REGISTRY[name].family not in ("geometric", "distort", "policies", "custom")
              and REGISTRY[name].mix is None]


@pytest.mark.parametrize("name", ALPHA_KEPT)
@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_non_geometric_transforms_leave_alpha_alone(name: str, dtype: type) -> None:
    image = make_image(dtype, 4)
    for seed, example in enumerate(REGISTRY[name].cls.examples):
        out = render(image, sample_ops(name, example, image.shape, seed), with_partners(image))
        assert np.array_equal(out[:, :, 3], image[:, :, 3])
