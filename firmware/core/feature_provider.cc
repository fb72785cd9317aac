#include "feature_provider.h"

#include <cstring>


namespace kws {

int8_t FeatureProvider::ToInt8(uint16_t value) {
  int32_t q = (static_cast<int32_t>(value) * model::kValueScale + model::kValueDiv / 2) / model::kValueDiv - 128;
  if (q < -128) q = -128;
  if (q > 127) q = 127;
  return static_cast<int8_t>(q);
}

bool FeatureProvider::Init() {
  FrontendConfig config;
  FrontendFillConfigWithDefaults(&config);
  config.window.size_ms = model::kWindowMs;
  config.window.step_size_ms = model::kStrideMs;
  config.filterbank.num_channels = model::kChannels;
  config.filterbank.lower_band_limit = model::kLowerBandHz;
  config.filterbank.upper_band_limit = model::kUpperBandHz;
  config.noise_reduction.smoothing_bits = model::kSmoothingBits;
  config.noise_reduction.even_smoothing = model::kEvenSmoothing;
  config.noise_reduction.odd_smoothing = model::kOddSmoothing;
  config.noise_reduction.min_signal_remaining = model::kMinSignalRemaining;
  config.pcan_gain_control.enable_pcan = model::kEnablePcan ? 1 : 0;
  config.pcan_gain_control.strength = model::kPcanStrength;
  config.pcan_gain_control.offset = model::kPcanOffset;
  config.pcan_gain_control.gain_bits = model::kGainBits;
  config.log_scale.enable_log = model::kEnableLog ? 1 : 0;
  config.log_scale.scale_shift = model::kScaleShift;
  if (!ready_) {
    if (!tables_.Populate(config, model::kSampleRate, &state_)) return false;
    ready_ = true;
  }
  Reset();
  return true;
}

void FeatureProvider::Reset() {
  if (ready_) FrontendReset(&state_);
  std::memset(window_, -128, sizeof(window_));
  frames_ = 0;
}

size_t FeatureProvider::Process(const int16_t* samples, size_t n, bool* new_frame) {
  *new_frame = false;
  if (!ready_) return n;
  size_t consumed = 0;
  while (consumed < n) {
    size_t read = 0;
    const FrontendOutput out = FrontendProcessSamples(&state_, samples + consumed, n - consumed, &read);
    consumed += read;
    if (out.values != nullptr && out.size == static_cast<size_t>(kChannels)) {
      std::memmove(window_, window_ + kChannels, (kFrames - 1) * kChannels);
      int8_t* frame = window_ + (kFrames - 1) * kChannels;
      for (int c = 0; c < kChannels; ++c) frame[c] = ToInt8(out.values[c]);
      ++frames_;
      *new_frame = true;
      return consumed;
    }
    if (read == 0) break;  // cannot happen with a valid state; never spin
  }
  return consumed;
}

}  // namespace kws
