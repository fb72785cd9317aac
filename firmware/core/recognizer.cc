#include "recognizer.h"

namespace kws {

bool Recognizer::Init(const bool* is_keyword, size_t label_count, const RecognizerConfig& config) {
  if (label_count == 0 || label_count > kMaxLabels) return false;
  labels_ = label_count;
  for (size_t i = 0; i < kMaxLabels; ++i) is_keyword_[i] = i < label_count && is_keyword[i];
  config_ = config;
  Reset();
  return true;
}

void Recognizer::Reset() {
  first_ = 0;
  count_ = 0;
  detected_before_ = false;
  last_detection_ = 0;
}

bool Recognizer::Update(const int8_t* scores, int64_t time, Detection* detection) {
  *detection = Detection{};
  if (count_ > 0 && time <= history_[(first_ + count_ - 1) % kMaxHistory].time) return false;
  if (count_ == kMaxHistory) {  // the oldest result makes room, as the host's bounded deque does
    first_ = (first_ + 1) % kMaxHistory;
    --count_;
  }
  Result& r = history_[(first_ + count_) % kMaxHistory];
  r.time = time;
  for (size_t i = 0; i < labels_; ++i) r.scores[i] = static_cast<uint8_t>(static_cast<int32_t>(scores[i]) + 128);
  ++count_;
  while (count_ > 0 && history_[first_].time <= time - config_.average_window) {
    first_ = (first_ + 1) % kMaxHistory;
    --count_;
  }
  if (count_ < static_cast<size_t>(config_.minimum_count)) return true;

  int32_t best = -1;
  int32_t top = 0;
  for (size_t label = 0; label < labels_; ++label) {
    int32_t sum = 0;
    for (size_t k = 0; k < count_; ++k) sum += history_[(first_ + k) % kMaxHistory].scores[label];
    const int32_t average = sum / static_cast<int32_t>(count_);
    if (average > best) {  // strictly greater: the lowest index wins ties, like numpy.argmax
      best = average;
      top = static_cast<int32_t>(label);
    }
  }
  if (!is_keyword_[top] || best < config_.threshold) return true;
  if (detected_before_ && time - last_detection_ < config_.suppression) return true;
  detected_before_ = true;
  last_detection_ = time;
  detection->index = top;
  detection->score = best;
  detection->time = time;
  return true;
}

}  // namespace kws
