#include "model_runner.h"

#include <cstring>
#include <new>

#include "tensorflow/lite/micro/micro_allocator.h"
#include "tensorflow/lite/micro/micro_resource_variable.h"
#include "tensorflow/lite/schema/schema_generated.h"

namespace kws {

const char* ModelRunner::Init() {
  if (interpreter_ != nullptr) return nullptr;
  const tflite::Model* model = tflite::GetModel(model::kModelData);
  if (model->version() != TFLITE_SCHEMA_VERSION) return "model schema version mismatch";
  if (model::RegisterOps(resolver_) != kTfLiteOk) return "op registration failed";
  // The allocator lives at the arena's tail; resource variables (a streaming model's state) come from it.
  tflite::MicroAllocator* allocator = tflite::MicroAllocator::Create(arena_, sizeof(arena_));
  if (allocator == nullptr) return "tensor arena too small";
  tflite::MicroResourceVariables* variables = nullptr;
  if (model::kResourceVariables > 0) {
    variables = tflite::MicroResourceVariables::Create(allocator, model::kResourceVariables);
    if (variables == nullptr) return "tensor arena too small for the model's resource variables";
  }
  interpreter_ = new (interpreter_storage_) tflite::MicroInterpreter(model, resolver_, allocator, variables);
  if (interpreter_->AllocateTensors() != kTfLiteOk) {
    interpreter_ = nullptr;
    return "tensor arena too small";
  }
  const TfLiteTensor* in = interpreter_->input(0);
  const TfLiteTensor* out = interpreter_->output(0);
  if (in == nullptr || out == nullptr || in->type != kTfLiteInt8 || out->type != kTfLiteInt8 ||
      in->bytes != static_cast<size_t>(model::kInputFrames * model::kChannels) ||
      out->bytes != static_cast<size_t>(model::kLabelCount)) {
    interpreter_ = nullptr;
    return "model input/output does not match the feature and label configuration";
  }
  if (in->params.zero_point != model::kInputZeroPoint || in->params.scale != model::kInputScale) {
    interpreter_ = nullptr;
    return "model input quantization does not match the feature mapping";
  }
  return nullptr;
}

bool ModelRunner::Invoke(const int8_t* features, int8_t* scores) {
  if (interpreter_ == nullptr) return false;
  TfLiteTensor* in = interpreter_->input(0);
  std::memcpy(in->data.int8, features, in->bytes);
  if (interpreter_->Invoke() != kTfLiteOk) return false;
  const TfLiteTensor* out = interpreter_->output(0);
  std::memcpy(scores, out->data.int8, out->bytes);
  return true;
}

bool ModelRunner::InvokeWindow(const int8_t* window, int8_t* scores) {
  if (!model::kStreaming) return Invoke(window, scores);
  constexpr int kPad = (model::kInputFrames - model::kFrames % model::kInputFrames) % model::kInputFrames;
  int8_t step[model::kInputFrames * model::kChannels];
  for (int first = -kPad; first < model::kFrames; first += model::kInputFrames) {
    for (int f = 0; f < model::kInputFrames; ++f) {
      int8_t* dst = step + f * model::kChannels;
      if (first + f < 0) {
        std::memset(dst, 0, model::kChannels);
      } else {
        std::memcpy(dst, window + (first + f) * model::kChannels, model::kChannels);
      }
    }
    if (!Invoke(step, scores)) return false;
  }
  return true;
}

}  // namespace kws
