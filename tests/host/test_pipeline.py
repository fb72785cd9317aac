"""End to end on small data: `kws pipeline`, `kws eval`, `kws export` and what they refuse."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from host import cli, convert, evaluate, export
from host.audio import write_wav
from host.util import KwsError


def test_pipeline_writes_a_complete_model(small_model: Path) -> None:
    names = {p.name for p in small_model.iterdir()}
    assert {
        "model.tflite",
        "model.keras",
        "model.json",
        "training_curve.png",
        "confusion_matrix.png",
        "streaming_det.png",
    } <= names
    meta = json.loads((small_model / "model.json").read_text())
    assert meta["labels"] == ["yes", "no", "_silence_", "_unknown_"]
    acc = meta["accuracy"]
    assert set(acc) == {"float", "int8", "tflm"} and acc["int8"] == acc["tflm"]
    assert acc["tflm"] > 0.5  # two keywords, silence and unknown: far above chance (0.25)
    m = meta["model"]
    data = (small_model / "model.tflite").read_bytes()
    assert m["size_bytes"] == len(data) and m["arena_bytes"] > 1000 and m["macs"] > 100_000
    assert set(m["ops"]) <= set(export.OP_RESOLVER)
    assert meta["streaming"]["keywords"] > 0 and "false_accepts_per_hour" in meta["streaming"]
    assert meta["features"]["channels"] == 40 and meta["training"]["data"]["clips"]["train"]
    assert not [p for p in small_model.parent.iterdir() if p.name.startswith(".")]  # no leftovers


def test_arena_is_the_smallest_that_fits(small_model: Path) -> None:
    data = (small_model / "model.tflite").read_bytes()
    arena = evaluate.arena_bytes(data)
    evaluate.tflm_interpreter(data, arena)
    with pytest.raises(RuntimeError):
        evaluate.tflm_interpreter(data, arena - 64)


def test_generated_cpp_compiles_and_holds_the_model(small_model: Path, tmp_path: Path) -> None:
    src = small_model / export.SOURCES_DIR
    header = (src / "kws_model.h").read_text()
    meta = json.loads((small_model / "model.json").read_text())
    assert f'kHash = "{meta["model"]["sha256"][:16]}"' in header
    assert f"kArenaBytes = {meta['model']['firmware_arena_bytes']};" in header
    ops = (src / "kws_model_ops.h").read_text()
    for op in meta["model"]["ops"]:
        assert f"resolver.{export.OP_RESOLVER[op]} != kTfLiteOk" in ops
    if not shutil.which("g++"):
        pytest.skip("g++ not installed")
    main = tmp_path / "main.cc"
    main.write_text(
        '#include "kws_model.h"\n#include <cstdio>\n#include <cstdint>\n'
        "int main() {\n"
        "  if (reinterpret_cast<uintptr_t>(kws::model::kModelData) % 16) return 2;\n"
        "  fwrite(kws::model::kModelData, 1, kws::model::kModelDataLen, stdout);\n"
        '  fprintf(stderr, "%s", kws::model::kLabels[kws::model::kLabelCount - 1]);\n'
        "  return kws::model::kFrames == 49 ? 0 : 3;\n}\n"
    )
    exe = tmp_path / "dump"
    subprocess.run(
        [
            "g++",
            "-std=c++17",
            "-Wall",
            "-Wextra",
            "-Werror",
            "-I",
            str(src),
            str(main),
            str(src / "kws_model.cc"),
            "-o",
            str(exe),
        ],
        check=True,
    )
    run = subprocess.run([str(exe)], capture_output=True, check=True)
    assert run.stdout == (small_model / "model.tflite").read_bytes()
    assert run.stderr == b"_unknown_"


def test_eval_and_export_commands(small_model: Path, synth_dir: Path, tmp_path: Path) -> None:
    report = tmp_path / "r.json"
    assert (
        cli.main(
            [
                "eval",
                "--model",
                str(small_model),
                "--data",
                str(synth_dir),
                "--split",
                "test",
                "--json",
                str(report),
                "--png",
                str(tmp_path / "cm.png"),
                "--quiet",
            ]
        )
        == 0
    )
    r = json.loads(report.read_text())
    assert set(r["accuracy"]) == {"float", "int8", "tflm"} and r["n"] > 10
    meta = json.loads((small_model / "model.json").read_text())
    assert r["accuracy"]["tflm"] == pytest.approx(meta["accuracy"]["tflm"])  # same held-out speakers
    assert sum(pc["n"] for pc in r["per_class"].values()) == r["n"]
    assert (tmp_path / "cm.png").read_bytes()[:4] == b"\x89PNG"
    assert cli.main(["export", "--model", str(small_model), "--out", str(tmp_path / "fw")]) == 0
    assert (tmp_path / "fw" / "kws_model.cc").read_text() == (small_model / "firmware" / "kws_model.cc").read_text()


def test_float_model_is_refused(small_model: Path, tmp_path: Path) -> None:
    import keras
    import tensorflow as tf

    model = keras.models.load_model(small_model / "model.keras")
    float_tflite = tf.lite.TFLiteConverter.from_keras_model(model).convert()
    bad = tmp_path / "float"
    shutil.copytree(small_model, bad)
    (bad / "model.tflite").write_bytes(float_tflite)
    with pytest.raises(KwsError, match="not fully int8"):
        export.load(bad)
    assert cli.main(["eval", "--model", str(bad), "--data", str(tmp_path)]) == 1


def test_unsupported_op_is_refused_before_writing(small_model: Path, tmp_path: Path) -> None:
    meta, data = export.load(small_model)
    facts = dict(meta["model"], ops=[*meta["model"]["ops"], "LSTM"])
    with pytest.raises(KwsError, match=r"cannot register: \['LSTM'\]"):
        export.metadata("x", meta["labels"], data, facts, convert.FEATURES, export.RecognizerConfig())


def test_export_is_atomic(small_model: Path, tmp_path: Path) -> None:
    meta, data = export.load(small_model)
    out = tmp_path / "m"

    def boom(_: Path) -> None:
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        export.export(out, meta, data, extra_files={"plot.png": boom})
    assert not out.exists() and not list(tmp_path.iterdir())
    export.export(out, meta, data)
    with pytest.raises(RuntimeError):  # a failed re-export keeps the previous folder intact
        export.export(out, meta, data, extra_files={"plot.png": boom})
    assert (out / "model.tflite").read_bytes() == data


def test_cli_bad_input_exits_non_zero(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    def pipeline(keywords: str, *data: str) -> int:
        extra = ["--data", *data, "--no-synthetic"] if data else []
        return cli.main(["pipeline", "--keywords", keywords, *extra, "--out", str(tmp_path / "m")])

    assert pipeline(",") == 1
    assert "keyword list is empty" in capsys.readouterr().err
    folder = str(tmp_path / "d")
    write_wav(tmp_path / "d" / "yes" / "a_nohash_0.wav", np.zeros(16000, np.int16))
    assert pipeline("yes,no", folder) == 1
    assert "no clips for ['no']" in capsys.readouterr().err
    assert pipeline("yes", folder) == 1
    assert "no `_unknown_` clips" in capsys.readouterr().err
    write_wav(tmp_path / "d" / "cat" / "c_nohash_0.wav", np.zeros(16000, np.int16))
    (tmp_path / "d" / "yes" / "b_nohash_0.wav").write_bytes(b"RIFF....garbage")
    assert pipeline("yes", folder) == 1
    assert "b_nohash_0.wav" in capsys.readouterr().err
    assert not (tmp_path / "m").exists()


def test_model_with_an_op_the_firmware_lacks_is_refused(small_model: Path, tmp_path: Path) -> None:
    import keras

    inp = keras.Input((49, 40, 1))
    x = keras.layers.Conv2D(4, 3, strides=4)(inp)
    x = keras.layers.LeakyReLU()(x)
    x = keras.layers.Conv2D(4, (int(x.shape[1]), int(x.shape[2])))(x)
    out = keras.layers.Softmax()(keras.layers.Flatten()(x))
    rng = np.random.default_rng(0)
    data = convert.to_int8(keras.Model(inp, out), rng.random((8, 49, 40, 1), np.float32) * 255 / 256)
    assert "LEAKY_RELU" in convert.inspect(data).ops
    bad = tmp_path / "leaky"
    shutil.copytree(small_model, bad)
    (bad / "model.tflite").write_bytes(data)
    assert cli.main(["export", "--model", str(bad), "--out", str(tmp_path / "fw")]) == 1
    assert not (tmp_path / "fw").exists()
    with pytest.raises(KwsError, match=r"cannot register: \['LEAKY_RELU'\]"):
        export.load(bad)


def test_eval_data_uses_only_the_given_folder(small_model: Path) -> None:
    meta = json.loads((small_model / "model.json").read_text())
    real = meta["real_speech_eval"]["real_eval"]
    assert real["n"] == 5 and real["data"]["folder"] == "real_eval"
    assert {k: v["n"] for k, v in real["per_class"].items() if v["n"]} == {"yes": 3, "_unknown_": 2}
    assert set(real["accuracy"]) == {"float", "int8", "tflm"}
    assert "/" not in json.dumps(meta["training"]["data"]["sources"])  # no machine paths in model.json


def test_arguments_are_checked_before_tensorflow_loads(tmp_path: Path) -> None:
    code = (
        "import sys; from host import cli; "
        f"rc = [cli.main(a) for a in (['pipeline', '--keywords', ' , '], ['pipeline', '--data', '{tmp_path}/no'], "
        f"['pipeline', '--eval-data', '{tmp_path}/none'])]; "
        "assert rc == [1, 1, 1], rc; assert 'tensorflow' not in sys.modules, 'tensorflow loaded'"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "keyword list is empty" in done.stderr and "does not exist" in done.stderr
