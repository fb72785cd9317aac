// The streaming keyword-spotting loop, independent of any board: audio in (ring buffer), incremental
// features, an inference every kInferenceEveryFrames frames once a full window exists, the recognizer,
// and the serial protocol. A board supplies a Board (output, cycle counter, LED) and calls PushAudio /
// OnSerial / Poll.
#pragma once

#include <cstddef>
#include <cstdint>

#include "audio_buffer.h"
#include "feature_provider.h"
#include "kws_model.h"
#include "model_runner.h"
#include "protocol.h"
#include "recognizer.h"

// Empty functions around the measured work, for instruction counting in emulators (QEMU plugin, Renode).
extern "C" {
void kws_marker_frame_begin();
void kws_marker_frame_end();
void kws_marker_inference_begin();
void kws_marker_inference_end();
}

namespace kws {

constexpr const char* kFirmwareVersion = "0.1.0";

struct Board {
  const char* name = "unknown";
  void (*write)(const char* data, size_t length) = nullptr;  // serial output (every port the board has)
  uint32_t (*cycles)() = nullptr;                            // free-running cycle counter, or nullptr
  uint32_t cycles_per_us = 0;                                // 0: report cycles only
  void (*led)(int label_index) = nullptr;                    // show a detection (-1: off), or nullptr
};

class App {
 public:
  // Initialises everything and sends the hello line. Returns false (after an error line) on failure.
  bool Init(const Board& board);
  // Queues microphone / file samples; returns how many fit (the rest are counted as overrun).
  size_t PushAudio(const int16_t* samples, size_t n) { return audio_.Write(samples, n); }
  // Feeds received serial bytes; complete lines are executed.
  void OnSerial(const char* data, size_t length);
  // Processes all queued audio. Returns the number of inferences run.
  int Poll();

  void SendHello();
  void Reset();
  uint64_t samples_processed() const { return samples_; }
  size_t arena_used() const { return runner_.arena_used(); }
  // Per-frame feature and per-inference cycle counts of the last measurement (0 without a counter).
  uint32_t last_frame_cycles() const { return frame_cycles_; }
  uint32_t last_inference_cycles() const { return inference_cycles_; }

 private:
  void HandleLine(const char* line, size_t length);
  void OnFrame();
  void Send(protocol::JsonLine& line);
  void Error(const char* message);
  uint32_t Now() const { return board_.cycles != nullptr ? board_.cycles() : 0; }

  Board board_;
  AudioBuffer audio_;
  FeatureProvider features_;
  ModelRunner runner_;
  Recognizer recognizer_;
  protocol::LineReader reader_;
  protocol::Command command_;
  int8_t scores_[model::kLabelCount] = {};
  bool send_scores_ = false;
  bool ready_ = false;
  uint64_t samples_ = 0;  // since reset, fed to the feature provider
  uint32_t frame_cycles_ = 0;
  uint32_t inference_cycles_ = 0;
  uint32_t inferences_ = 0;
};

}  // namespace kws
