// The recognizer: posterior smoothing of int8 scores into detections. The same integer algorithm as
// host/recognizer.py (the host's streaming evaluation): scores shifted to 0..255, averaged over the
// results of the last `average_window` samples; the top label is detected when it is a keyword, its
// average reaches the threshold, at least `minimum_count` results are in the window, and the last
// detection is at least `suppression` samples ago. Time is counted in audio samples, never wall-clock.
#pragma once

#include <cstddef>
#include <cstdint>

namespace kws {

struct RecognizerConfig {
  int64_t average_window = 8000;  // samples
  int32_t threshold = 180;        // 0..255
  int64_t suppression = 16000;    // samples
  int32_t minimum_count = 3;
};

struct Detection {
  int32_t index = -1;
  int32_t score = 0;  // average score 0..255
  int64_t time = 0;   // samples since the stream started
};

class Recognizer {
 public:
  static constexpr size_t kMaxHistory = 32;  // same as host/recognizer.py MAX_HISTORY
  static constexpr size_t kMaxLabels = 32;

  // `is_keyword[i]` says whether label i can be detected (false for _silence_ and _unknown_).
  bool Init(const bool* is_keyword, size_t label_count, const RecognizerConfig& config);
  void Reset();
  void set_threshold(int32_t threshold) { config_.threshold = threshold; }
  const RecognizerConfig& config() const { return config_; }

  // Adds one inference's int8 scores at `time`. Returns false (and changes nothing) if `time` does not
  // increase. Sets `*detection` (index -1 when none) on success.
  bool Update(const int8_t* scores, int64_t time, Detection* detection);

 private:
  struct Result {
    int64_t time;
    uint8_t scores[kMaxLabels];
  };
  Result history_[kMaxHistory] = {};
  size_t first_ = 0;
  size_t count_ = 0;
  bool is_keyword_[kMaxLabels] = {};
  size_t labels_ = 0;
  RecognizerConfig config_;
  bool detected_before_ = false;
  int64_t last_detection_ = 0;
};

}  // namespace kws
