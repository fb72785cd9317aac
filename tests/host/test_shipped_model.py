"""The shipped model: its recorded figures, and that they hold when measured again here."""

import json
from pathlib import Path

import pytest

from host import cli, export
from tests.conftest import ROOT

DEFAULT = ROOT / "models" / "default"


def test_recorded_accuracy_meets_the_target() -> None:
    meta = json.loads((DEFAULT / "model.json").read_text())
    assert meta["labels"] == [
        "yes",
        "no",
        "up",
        "down",
        "left",
        "right",
        "on",
        "off",
        "stop",
        "go",
        "_silence_",
        "_unknown_",
    ]
    acc = meta["accuracy"]
    assert acc["tflm"] >= 0.85 and acc["int8"] == acc["tflm"]
    assert acc["float"] - acc["int8"] <= 0.005
    assert meta["evaluation"]["speakers"].startswith("held out")
    export.load(DEFAULT)  # int8, registrable ops, labels match outputs


def test_shipped_accuracy_reproduces_on_held_out_speakers(shared_data: Path, tmp_path: Path) -> None:
    meta = json.loads((DEFAULT / "model.json").read_text())
    out = tmp_path / "eval.json"
    assert (
        cli.main(
            [
                "eval",
                "--model",
                str(DEFAULT),
                "--data",
                str(shared_data),
                "--split",
                "test",
                "--json",
                str(out),
                "--quiet",
            ]
        )
        == 0
    )
    r = json.loads(out.read_text())
    real = meta["evaluation"]["real_speech"]
    assert r["n"] == real["n"]
    assert r["accuracy"]["tflm"] == pytest.approx(real["accuracy"]["tflm"])


def test_shipped_streaming_model_gives_the_whole_window_models_scores(held_out_speech) -> None:
    """On real held-out clips, the streaming int8 model (what the board runs, step by step) and the same
    trained model converted whole-window agree on the top label and their scores are close."""
    import keras

    from host import convert, evaluate, features, streaming

    meta = json.loads((DEFAULT / "model.json").read_text())
    if not streaming.is_streaming(meta["model"]["input"]["shape"]):
        pytest.skip("the shipped model is a whole-window model")
    clips, _, _ = held_out_speech
    q = features.batch_int8_features(clips)
    model = keras.models.load_model(DEFAULT / "model.keras")
    whole = convert.to_int8(model, features.model_input(q))
    r = streaming.compare(evaluate.run_int8((DEFAULT / "model.tflite").read_bytes(), q), evaluate.run_int8(whole, q))
    # The two quantize the stored columns with their own calibrated ranges. Scores (1/256 steps) agree within
    # a LSB on average; where two labels are close the softmax amplifies a one-step change of a state value,
    # so single scores can move by tens of LSB, and the top label changes on 1-3 % of clips.
    assert r["windows"] == len(clips) and r["top_label_agreement"] >= 0.97, r
    assert r["mean_abs_diff"] <= 1.5 and r["max_abs_diff"] <= 64, r
