#include "model_runner.h"

#include <cstring>
#include <new>

#include "tensorflow/lite/schema/schema_generated.h"

namespace kws {

const char* ModelRunner::Init() {
  if (interpreter_ != nullptr) return nullptr;
  const tflite::Model* model = tflite::GetModel(model::kModelData);
  if (model->version() != TFLITE_SCHEMA_VERSION) return "model schema version mismatch";
  if (model::RegisterOps(resolver_) != kTfLiteOk) return "op registration failed";
  interpreter_ = new (interpreter_storage_) tflite::MicroInterpreter(model, resolver_, arena_, sizeof(arena_));
  if (interpreter_->AllocateTensors() != kTfLiteOk) {
    interpreter_ = nullptr;
    return "tensor arena too small";
  }
  const TfLiteTensor* in = interpreter_->input(0);
  const TfLiteTensor* out = interpreter_->output(0);
  if (in == nullptr || out == nullptr || in->type != kTfLiteInt8 || out->type != kTfLiteInt8 ||
      in->bytes != static_cast<size_t>(model::kFrames * model::kChannels) ||
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

}  // namespace kws
