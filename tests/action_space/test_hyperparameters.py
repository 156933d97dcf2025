"""hyperparameters.json: DRfC's defaults, the console's ranges, lossless round trip."""

from __future__ import annotations

import json
from importlib import resources

import pytest

from pitstop.action_space import (
    check_hyperparameters,
    default_hyperparameters,
    parse_hyperparameters,
)
from pitstop.action_space.hyperparameters import hyperparameter_warnings
from pitstop.errors import CheckFailed, InvalidInput


def test_defaults_are_drfcs_and_valid() -> None:
    doc = default_hyperparameters()
    assert doc == {
        "batch_size": 64,
        "beta_entropy": 0.01,
        "discount_factor": 0.99,
        "e_greedy_value": 0.05,
        "epsilon_steps": 10000,
        "exploration_type": "categorical",
        "loss_type": "huber",
        "lr": 0.0003,
        "num_episodes_between_training": 20,
        "num_epochs": 5,
        "stack_size": 1,
        "term_cond_avg_score": 350.0,
        "term_cond_max_episodes": 1000,
        "sac_alpha": 0.2,
    }
    assert check_hyperparameters(doc) == []


def test_sample_round_trips() -> None:
    text = (
        resources.files("pitstop.action_space")
        .joinpath("samples", "hyperparameters-drfc.json")
        .read_text()
    )
    doc = json.loads(text)
    doc["custom_key"] = [1]
    assert json.loads(parse_hyperparameters(json.dumps(doc), "h.json").to_json()) == doc


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("batch_size", 100, "batch_size: 100; the console allows 32, 64, 128, 256, 512"),
        ("batch_size", "64", "batch_size: expected a number, got '64'"),
        ("beta_entropy", 1.5, "beta_entropy: 1.5; the console allows 0 to 1"),
        ("discount_factor", -0.1, "discount_factor: -0.1; the console allows 0 to 1"),
        ("lr", 0.01, "lr: 0.01; the console allows 1e-08 to 0.001"),
        ("lr", 0, "lr: 0; the console allows 1e-08 to 0.001"),
        (
            "num_episodes_between_training",
            101,
            "num_episodes_between_training: 101; the console allows 1 to 100",
        ),
        ("num_epochs", 2, "num_epochs: 2; the console allows 3 to 10"),
        ("num_epochs", 4.5, "num_epochs: 4.5 is not a whole number"),
        (
            "exploration_type",
            "random",
            "exploration_type: 'random' is not one of 'categorical', 'e-greedy', 'additive_noise'",
        ),
        ("loss_type", "mse", "loss_type: 'mse' is not one of 'huber', 'mean squared error'"),
        ("stack_size", 0, "stack_size: 0 is below 1"),
        ("term_cond_avg_score", 0, "term_cond_avg_score: 0 must be above 0"),
        ("e_greedy_value", True, "e_greedy_value: expected a number, got True"),
    ],
)
def test_each_range_has_a_failing_example(key: str, value: object, expected: str) -> None:
    doc = default_hyperparameters()
    doc[key] = value
    assert check_hyperparameters(doc) == [expected]


def test_missing_keys_are_fine_unknown_keys_are_warnings() -> None:
    assert check_hyperparameters({"lr": 0.0001}) == []
    assert check_hyperparameters([]) == ["(document): expected a JSON object, got list"]
    warnings = hyperparameter_warnings({"learning_rate": 0.001, "lr": 0.001})
    assert len(warnings) == 1 and warnings[0].startswith("learning_rate: unknown key")


def test_parse_errors() -> None:
    with pytest.raises(InvalidInput, match=r"^h\.json: not JSON"):
        parse_hyperparameters("{", "h.json")
    with pytest.raises(CheckFailed, match=r"^h\.json: num_epochs: 20; the console allows 3 to 10$"):
        parse_hyperparameters('{"num_epochs": 20}', "h.json")


def test_generate_help_says_what_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    from pitstop.cli.main import main

    with pytest.raises(SystemExit):
        main(["hyperparameters", "generate", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "stop when the average reward reaches this (> 0;" in text
    assert main(["hyperparameters", "generate", "--term-cond-avg-score", "0"]) == 2
