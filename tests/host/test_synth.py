"""Speech engines, voice and room augmentation, hard negatives: each deterministic for a seed."""

import numpy as np
import pytest

from host import augment, dataset, synth
from host.util import KwsError


def _engine_voices(name: str) -> tuple[synth.Voice, ...]:
    voices = synth.engines().get(name)
    if not voices:
        pytest.skip(f"{name} is not installed (apt-get install {name}; see README: speech engines)")
    return voices


@pytest.mark.parametrize("engine", synth.ENGINES)
def test_each_engine_speaks_every_voice_the_same_way_twice(engine: str) -> None:
    voices = _engine_voices(engine)
    picked = voices[:: max(1, len(voices) // 4)]
    first, second = synth.Synthesizer(1), synth.Synthesizer(1)
    try:
        for voice in picked:
            a = first.say("stop", voice, tempo=1.1, pitch=0.95)
            assert 0.15 * 16000 < len(a) < 1.2 * 16000, voice  # a word, trimmed, at 16 kHz
            assert np.abs(a).max() > 1000
            assert np.array_equal(a, second.say("stop", voice, tempo=1.1, pitch=0.95))
        timed = next(v for v in voices if "hts" not in v.name)  # HTS voices keep their own durations
        assert len(first.say("stop", timed, tempo=0.7)) > len(first.say("stop", timed, tempo=1.4))
    finally:
        first.close()
        second.close()


def test_voice_change_moves_pitch_and_duration() -> None:
    voice = synth.voices()[0]
    word = synth.Synthesizer(0).say("left", voice)
    longer = augment.change_voice(word, augment.VoiceChange(formants=1.1, pitch=1.3, duration=1.25))
    assert abs(len(longer) / len(word) - 1.25) < 0.05
    again = augment.change_voice(word, augment.VoiceChange(formants=1.1, pitch=1.3, duration=1.25))
    assert np.array_equal(longer, again)
    assert not augment.change_voice(np.zeros(4000), augment.VoiceChange(pitch=2.0)).any()


def test_rooms_microphones_and_mixing_are_deterministic() -> None:
    a = augment.room_impulse_responses(3, np.random.default_rng(4))
    b = augment.room_impulse_responses(3, np.random.default_rng(4))
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    assert all(r[0] == 1.0 and 0.05 * 16000 < len(r) <= 0.6 * 16000 for r in a)  # direct path first
    speech = np.random.default_rng(0).standard_normal(16000).astype(np.float32) * 3000
    wet = augment.reverberate(speech, a[0])
    assert len(wet) == len(speech) and np.isclose(np.abs(wet).max(), np.abs(speech).max())
    assert not np.allclose(wet, speech)
    c1 = augment.colour(speech, np.random.default_rng(9))
    assert np.array_equal(c1, augment.colour(speech, np.random.default_rng(9)))
    noise = np.random.default_rng(1).standard_normal(16000)
    mixed = augment.mix(speech, noise, 10.0)
    ratio = np.sqrt(np.mean(speech**2) / np.mean((mixed - speech) ** 2))
    assert 10 ** (9 / 20) < ratio < 10 ** (11 / 20)


def test_hard_negatives_sound_alike_but_are_never_homophones() -> None:
    engine = synth.Engine(0)
    negatives = dataset.hard_negatives(["no", "right", "go"], engine)
    assert {"now", "light", "though"} <= set(negatives)
    assert "know" not in negatives and "write" not in negatives and "wright" not in negatives
    assert not {"no", "right", "go"} & set(negatives)


def test_plan_uses_every_engine_and_splits_by_virtual_speaker() -> None:
    available = synth.engines()
    plan = dataset.plan_clips(["yes", "no"], 200, 0, available)
    spoken = [c for c in plan if c.speaker]
    assert {c.speaker.voice.engine for c in spoken} == set(available)
    assert sum(c.label == "_unknown_" for c in plan) == 400 and sum(c.label == "_silence_" for c in plan) == 200
    assert any(" " in c.text for c in plan if c.label == "_unknown_")  # short phrases
    assert any(c.before for c in spoken if c.label == "yes")  # words right after other speech
    for engine in set(available) - {"espeak"}:  # each Flite/Festival voice is many people across the splits
        ids = {c.speaker.id for c in spoken if c.speaker.voice.engine == engine}
        splits = {dataset.which_split(i) for i in ids}
        assert len(ids) > 20 and splits == set(dataset.SPLITS)


def test_unknown_engine_and_unspeakable_keyword_are_refused(tmp_path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(KwsError, match="unknown speech engine"):
        dataset.synthesize(["yes"], tmp_path / "x", per_word=2, engines=["sam"], progress=False)
    with pytest.raises(KwsError, match="no pronunciation"):
        dataset.check_speakable(["yes", "'"])
    assert not (tmp_path / "x").exists()
