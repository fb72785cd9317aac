// The streaming keyword-spotting loop, independent of any board: audio in (ring buffer), incremental
// features, an inference every kInferenceEveryFrames frames once a full window exists (a streaming model
// steps from reset on), the recognizer, and the serial protocol. A board supplies a Board (output, cycle
// counter, LED) and calls PushAudio / OnSerial / Poll.
#pragma once

#include <atomic>
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
  // Queues microphone samples (interrupt context); returns how many fit (the rest are counted as overrun).
  // Muted for good once the host has sent audio frames, so that one stream never interleaves with another.
  size_t PushAudio(const int16_t* samples, size_t n) {
    return serial_audio_.load(std::memory_order_acquire) ? 0 : audio_.Write(samples, n);
  }
  // Queues samples from the main loop, processing queued audio whenever the ring buffer is full.
  void Feed(const int16_t* samples, size_t n);
  // Feeds received serial bytes; complete lines are executed.
  void OnSerial(const char* data, size_t length);
  // Processes all queued audio.
  void Poll();

  void SendHello();
  void Reset();
  // Sends a protocol line, or an error line, on the board's output.
  void Send(protocol::JsonLine& line);
  void Error(const char* message);
  size_t arena_used() const { return runner_.arena_used(); }

 private:
  void HandleLine(const char* line, size_t length);
  void OnFrame(bool report);
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
  std::atomic<bool> serial_audio_{false};  // set by the main loop, read by the microphone's interrupt
  uint64_t samples_ = 0;  // since reset, fed to the feature provider
  uint32_t last_seq_ = 0;  // the last audio frame queued since reset (a repeat of it is not queued again)
  bool have_seq_ = false;
  uint32_t frame_cycles_ = 0;
  uint32_t inference_cycles_ = 0;
  uint32_t inferences_ = 0;
};

}  // namespace kws
