#include "app.h"

#include <cstdio>

extern "C" {
// noinline + an empty asm statement keep each marker a real, distinct function the emulator can see.
__attribute__((noinline)) void kws_marker_frame_begin() { __asm__ volatile(""); }
__attribute__((noinline)) void kws_marker_frame_end() { __asm__ volatile(""); }
__attribute__((noinline)) void kws_marker_inference_begin() { __asm__ volatile(""); }
__attribute__((noinline)) void kws_marker_inference_end() { __asm__ volatile(""); }
}

namespace kws {

namespace {

constexpr int kTimingEvery = 25;  // inferences between timing lines (1 s at the default 40 ms hop)

bool IsKeyword(const char* label) { return label[0] != '_'; }

}  // namespace

bool App::Init(const Board& board) {
  board_ = board;
  bool keywords[model::kLabelCount];
  for (int i = 0; i < model::kLabelCount; ++i) keywords[i] = IsKeyword(model::kLabels[i]);
  RecognizerConfig config;
  config.average_window = static_cast<int64_t>(model::kAverageWindowMs) * model::kSampleRate / 1000;
  config.threshold = model::kDetectionThreshold;
  config.suppression = static_cast<int64_t>(model::kSuppressionMs) * model::kSampleRate / 1000;
  config.minimum_count = model::kMinimumCount;
  if (!recognizer_.Init(keywords, model::kLabelCount, config)) {
    Error("recognizer: too many labels");
    return false;
  }
  if (!features_.Init()) {
    Error("feature provider: frontend initialisation failed");
    return false;
  }
  if (const char* problem = runner_.Init()) {
    Error(problem);
    return false;
  }
  ready_ = true;
  SendHello();
  return true;
}

void App::SendHello() {
  char features[160];
  snprintf(features, sizeof(features),
           "{\"sample_rate\":%d,\"window_ms\":%d,\"stride_ms\":%d,\"channels\":%d,\"frames\":%d,"
           "\"inference_every_frames\":%d}",
           model::kSampleRate, model::kWindowMs, model::kStrideMs, model::kChannels, model::kFrames,
           model::kInferenceEveryFrames);
  protocol::JsonLine line("hello");
  line.Str("fw", kFirmwareVersion)
      .Int("protocol", protocol::kVersion)
      .Str("board", board_.name)
      .Str("model", model::kName)
      .Str("hash", model::kHash)
      .StrArray("labels", model::kLabels, model::kLabelCount)
      .Raw("features", features)
      .Int("threshold", recognizer_.config().threshold)
      .Int("arena_bytes", static_cast<long long>(model::kArenaBytes))
      .Int("arena_used", static_cast<long long>(runner_.arena_used()))
      .Bool("ready", ready_);
  Send(line);
}

void App::Reset() {
  audio_.Clear();
  features_.Reset();
  recognizer_.Reset();
  samples_ = 0;
  have_seq_ = false;
  if (board_.led != nullptr) board_.led(-1);
}

void App::Send(protocol::JsonLine& line) {
  size_t length = 0;
  const char* text = line.Finish(&length);
  if (board_.write != nullptr) board_.write(text, length);
}

void App::Error(const char* message) {
  protocol::JsonLine line("error");
  line.Str("msg", message);
  Send(line);
}

void App::OnSerial(const char* data, size_t length) {
  for (size_t i = 0; i < length; ++i) {
    switch (reader_.Push(data[i])) {
      case protocol::LineReader::Status::kLine:
        HandleLine(reader_.line(), reader_.length());
        break;
      case protocol::LineReader::Status::kOverflow:
        Error("line too long");
        break;
      case protocol::LineReader::Status::kPending:
        break;
    }
  }
}

void App::HandleLine(const char* line, size_t length) {
  const char* problem = nullptr;
  if (!protocol::ParseCommand(line, length, &command_, &problem)) {
    Error(problem);
    return;
  }
  switch (command_.type) {
    case protocol::CommandType::kInfo:
      SendHello();
      break;
    case protocol::CommandType::kReset: {
      Reset();
      protocol::JsonLine ack("ack");
      ack.Str("cmd", "reset");
      Send(ack);
      break;
    }
    case protocol::CommandType::kThreshold: {
      recognizer_.set_threshold(command_.value);
      protocol::JsonLine ack("ack");
      ack.Str("cmd", "threshold").Int("threshold", command_.value);
      Send(ack);
      break;
    }
    case protocol::CommandType::kScores: {
      send_scores_ = command_.value != 0;
      protocol::JsonLine ack("ack");
      ack.Str("cmd", "scores").Bool("on", send_scores_);
      Send(ack);
      break;
    }
    case protocol::CommandType::kAudio: {
      if (!ready_) {
        Error("audio: the firmware is not ready");
        break;
      }
      // The first frame mutes the microphone (PushAudio) and starts from a reset: one stream at a time.
      if (!serial_audio_.exchange(true, std::memory_order_acq_rel)) Reset();
      // The host sends the same seq again when it missed the acknowledgement: the frame is in already, so it
      // is acknowledged again (marked as a repeat), not queued twice.
      const bool repeat = have_seq_ && command_.seq == last_seq_;
      if (!repeat) {
        Feed(command_.audio, command_.samples);  // flow control: processed before it is acknowledged
        last_seq_ = command_.seq;
        have_seq_ = true;
      }
      protocol::JsonLine ack("ack");
      ack.Str("cmd", "audio").Int("seq", command_.seq).Int("time", static_cast<long long>(samples_));
      if (repeat) ack.Bool("repeat", true);
      Send(ack);
      break;
    }
  }
}

void App::Feed(const int16_t* samples, size_t n) {
  if (!ready_) return;  // nothing would drain the ring buffer
  while (n > 0) {
    const size_t room = audio_.Free();
    const size_t queued = audio_.Write(samples, n < room ? n : room);
    samples += queued;
    n -= queued;
    Poll();
  }
}

void App::Poll() {
  if (!ready_) return;
  int16_t chunk[model::kStrideSamples];
  size_t have = 0;
  size_t used = 0;
  for (;;) {
    if (used == have) {
      have = audio_.Read(chunk, model::kStrideSamples);
      used = 0;
      if (have == 0) break;
    }
    bool new_frame = false;
    const uint32_t start = Now();
    kws_marker_frame_begin();
    const size_t consumed = features_.Process(chunk + used, have - used, &new_frame);
    kws_marker_frame_end();
    used += consumed;
    samples_ += consumed;
    if (new_frame) {
      frame_cycles_ = Now() - start;
      // Inferences fall on the frame counts kFrames + k * kInferenceEveryFrames; a streaming model also
      // steps on the counts before (filling its state) and reports from the first full window on.
      const uint64_t frames = features_.frame_count();
      const bool on_grid = frames % model::kInferenceEveryFrames == model::kFrames % model::kInferenceEveryFrames;
      if (on_grid && (model::kStreaming || frames >= static_cast<uint64_t>(model::kFrames))) {
        OnFrame(frames >= static_cast<uint64_t>(model::kFrames));
      }
    }
  }
}

void App::OnFrame(bool report) {
  static_assert(!model::kStreaming || model::kInputFrames == model::kInferenceEveryFrames,
                "a streaming model steps by exactly the frames between inferences");
  const uint32_t start = Now();
  kws_marker_inference_begin();
  const bool ok = runner_.Invoke(features_.window() + (model::kFrames - model::kInputFrames) * model::kChannels,
                                 scores_);
  kws_marker_inference_end();
  inference_cycles_ = Now() - start;
  if (!ok) {
    Error("inference failed");
    return;
  }
  if (!report) return;
  // The time of a result: the end of the newest frame's window, in samples since reset.
  const int64_t time = static_cast<int64_t>(features_.frame_count() - 1) * model::kStrideSamples +
                       model::kWindowSamples;
  if (send_scores_) {
    protocol::JsonLine line("scores");
    line.Int("time", time).IntArray("scores", scores_, model::kLabelCount);
    Send(line);
  }
  Detection detection;
  recognizer_.Update(scores_, time, &detection);
  if (detection.index >= 0) {
    protocol::JsonLine line("detection");
    line.Str("label", model::kLabels[detection.index])
        .Int("index", detection.index)
        .Int("score", detection.score)
        .Int("time", detection.time);
    Send(line);
    if (board_.led != nullptr) board_.led(detection.index);
  }
  if (++inferences_ % kTimingEvery == 0 && board_.cycles != nullptr) {
    protocol::JsonLine line("timing");
    line.Int("feature_cycles", frame_cycles_).Int("inference_cycles", inference_cycles_);
    if (board_.cycles_per_us != 0) {
      line.Int("feature_us", frame_cycles_ / board_.cycles_per_us)
          .Int("inference_us", inference_cycles_ / board_.cycles_per_us);
    }
    Send(line);
  }
}

}  // namespace kws
