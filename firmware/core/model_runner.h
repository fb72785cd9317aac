// Model runner: a TFLM MicroInterpreter over the exported model, with a MicroMutableOpResolver holding
// exactly the generated op registrations and one static arena of the exported size. int8 in, int8 out.
// A streaming model (kStreaming) takes the newest kInputFrames frames per inference and keeps its past in
// kResourceVariables TFLM resource variables, allocated in the same arena.
#pragma once

#include <cstddef>
#include <cstdint>

#include "kws_model.h"
#include "kws_model_ops.h"
#include "tensorflow/lite/micro/micro_interpreter.h"

namespace kws {

class ModelRunner {
 public:
  // Returns nullptr on success, or a static message saying what is wrong.
  const char* Init();
  // Runs one inference on kInputFrames × kChannels int8 features; writes kLabelCount int8 scores.
  bool Invoke(const int8_t* features, int8_t* scores);
  // Scores of one whole window (kFrames × kChannels): one inference, or a streaming model's steps over it
  // (zero frames in front to fill the first step, as the device's steps fall from reset).
  bool InvokeWindow(const int8_t* window, int8_t* scores);
  size_t arena_used() const { return interpreter_ != nullptr ? interpreter_->arena_used_bytes() : 0; }

 private:
  model::OpResolver resolver_;
  tflite::MicroInterpreter* interpreter_ = nullptr;
  alignas(tflite::MicroInterpreter) uint8_t interpreter_storage_[sizeof(tflite::MicroInterpreter)] = {};
  alignas(16) uint8_t arena_[model::kArenaBytes] = {};
};

}  // namespace kws
