// Unit tests of the portable core on the host: ring buffer, recognizer, protocol parser (with fuzzed
// input), feature slicing. A failed check prints its line and the run exits non-zero (ctest).
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "app.h"
#include "audio_buffer.h"
#include "feature_provider.h"
#include "protocol.h"
#include "recognizer.h"

namespace {

int g_failures = 0;
int g_checks = 0;

#define CHECK(cond)                                                    \
  do {                                                                 \
    ++g_checks;                                                        \
    if (!(cond)) {                                                     \
      ++g_failures;                                                    \
      std::fprintf(stderr, "%s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #cond); \
    }                                                                  \
  } while (0)

void TestAudioBuffer() {
  static kws::AudioBuffer buffer;
  std::vector<int16_t> in(kws::AudioBuffer::kCapacity + 100);
  for (size_t i = 0; i < in.size(); ++i) in[i] = static_cast<int16_t>(i * 7);
  CHECK(buffer.Write(in.data(), 100) == 100);
  CHECK(buffer.Available() == 100);
  int16_t out[64];
  CHECK(buffer.Read(out, 64) == 64 && out[0] == 0 && out[63] == static_cast<int16_t>(63 * 7));
  // Fill past capacity: the excess is refused and counted, nothing is overwritten.
  const size_t written = buffer.Write(in.data() + 100, in.size() - 100);
  CHECK(written == kws::AudioBuffer::kCapacity - 36);
  CHECK(buffer.overrun_samples() == in.size() - 100 - written);
  CHECK(buffer.Free() == 0);
  // Reading across the wrap keeps order.
  std::vector<int16_t> all(kws::AudioBuffer::kCapacity);
  CHECK(buffer.Read(all.data(), all.size()) == kws::AudioBuffer::kCapacity);
  bool ordered = true;
  for (size_t i = 0; i < all.size(); ++i) ordered = ordered && all[i] == in[64 + i];
  CHECK(ordered);
  CHECK(buffer.Read(out, 1) == 0);
  buffer.Write(in.data(), 10);
  buffer.Clear();
  CHECK(buffer.Available() == 0);
}

void Scores(int8_t* s, int top, int value) {
  for (int i = 0; i < 4; ++i) s[i] = -128;
  s[top] = static_cast<int8_t>(value);
}

void TestRecognizer() {
  const bool keywords[4] = {true, true, false, false};  // yes, no, _silence_, _unknown_
  kws::RecognizerConfig config;  // 8000-sample window, threshold 180, suppression 16000, minimum 3
  kws::Recognizer rec;
  CHECK(rec.Init(keywords, 4, config));
  int8_t s[4];
  kws::Detection d;
  std::vector<int64_t> times;
  for (int i = 0; i < 40; ++i) {
    Scores(s, 0, 127);
    CHECK(rec.Update(s, i * 640, &d));
    if (d.index >= 0) times.push_back(d.time);
  }
  CHECK(!times.empty() && times[0] == 2 * 640);  // the third result
  CHECK(times.size() >= 2 && times[1] - times[0] >= 16000);
  // Below threshold (179 after the +128 shift) never fires; 180 does.
  rec.Reset();
  bool fired = false;
  for (int i = 0; i < 10; ++i) {
    Scores(s, 1, 179 - 128);
    rec.Update(s, i * 640, &d);
    fired = fired || d.index >= 0;
  }
  CHECK(!fired);
  rec.Reset();
  for (int i = 0; i < 10 && !fired; ++i) {
    Scores(s, 1, 180 - 128);
    rec.Update(s, i * 640, &d);
    fired = d.index == 1;
  }
  CHECK(fired);
  // Silence and unknown are never detected; time must increase.
  rec.Reset();
  for (int i = 0; i < 10; ++i) {
    Scores(s, 2 + (i % 2), 127);
    rec.Update(s, i * 640, &d);
    CHECK(d.index < 0);
  }
  CHECK(!rec.Update(s, 9 * 640, &d));
  // Ties go to the lowest index, like numpy.argmax on the host.
  rec.Reset();
  int8_t tie[4] = {100, 100, -128, -128};
  for (int i = 0; i < 3; ++i) rec.Update(tie, i * 640, &d);
  CHECK(d.index == 0);
  CHECK(!rec.Init(keywords, kws::Recognizer::kMaxLabels + 1, config));
}

std::string AudioLine(uint32_t seq, const std::vector<int16_t>& samples, int crc_delta = 0) {
  std::vector<uint8_t> bytes;
  for (int16_t v : samples) {
    bytes.push_back(static_cast<uint8_t>(v & 0xFF));
    bytes.push_back(static_cast<uint8_t>((static_cast<uint16_t>(v) >> 8) & 0xFF));
  }
  static const char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string b64;
  for (size_t i = 0; i < bytes.size(); i += 3) {
    uint32_t v = static_cast<uint32_t>(bytes[i]) << 16;
    if (i + 1 < bytes.size()) v |= static_cast<uint32_t>(bytes[i + 1]) << 8;
    if (i + 2 < bytes.size()) v |= bytes[i + 2];
    b64 += kAlphabet[(v >> 18) & 63];
    b64 += kAlphabet[(v >> 12) & 63];
    b64 += i + 1 < bytes.size() ? kAlphabet[(v >> 6) & 63] : '=';
    b64 += i + 2 < bytes.size() ? kAlphabet[v & 63] : '=';
  }
  char head[64];
  std::snprintf(head, sizeof(head), "audio %u %zu %08x ", seq, samples.size(),
                kws::protocol::Crc32(bytes.data(), bytes.size()) + static_cast<uint32_t>(crc_delta));
  return head + b64;
}

void TestProtocol() {
  using kws::protocol::CommandType;
  static kws::protocol::Command cmd;
  const char* error = nullptr;
  auto parse = [&](const std::string& s) { return kws::protocol::ParseCommand(s.data(), s.size(), &cmd, &error); };
  CHECK(kws::protocol::Crc32(reinterpret_cast<const uint8_t*>("123456789"), 9) == 0xCBF43926u);
  CHECK(parse("info") && cmd.type == CommandType::kInfo);
  CHECK(parse("  reset  ") && cmd.type == CommandType::kReset);
  CHECK(parse("threshold 200") && cmd.type == CommandType::kThreshold && cmd.value == 200);
  CHECK(!parse("threshold 256") && !parse("threshold -1") && !parse("threshold") && !parse("threshold 2x"));
  CHECK(parse("scores on") && cmd.value == 1 && parse("scores off") && cmd.value == 0 && !parse("scores maybe"));
  CHECK(!parse("") && !parse("bogus") && !parse("info now") && !parse("reset 1 2 3 4 5"));
  std::vector<int16_t> samples = {0, 1, -1, 32767, -32768, 1234, -4321};
  CHECK(parse(AudioLine(7, samples)) && cmd.type == CommandType::kAudio && cmd.seq == 7 && cmd.samples == 7);
  CHECK(std::memcmp(cmd.audio, samples.data(), samples.size() * 2) == 0);
  CHECK(!parse(AudioLine(7, samples, 1)) && std::strcmp(error, "audio: crc mismatch") == 0);
  std::string wrong_count = AudioLine(8, samples);
  wrong_count.replace(wrong_count.find(" 7 "), 3, " 6 ");
  CHECK(!parse(wrong_count));
  std::string truncated = AudioLine(9, samples);
  CHECK(!parse(truncated.substr(0, truncated.size() - 4)));
  CHECK(!parse(AudioLine(10, std::vector<int16_t>(kws::protocol::kMaxFrameSamples + 1, 5))));
  CHECK(parse(AudioLine(11, std::vector<int16_t>(kws::protocol::kMaxFrameSamples, 5))));
  uint8_t out[8];
  CHECK(kws::protocol::Base64Decode("AAE=", 4, out, sizeof(out)) == 2 && out[1] == 1);
  CHECK(kws::protocol::Base64Decode("A=E=", 4, out, sizeof(out)) < 0);
  CHECK(kws::protocol::Base64Decode("AAAAAAAAAAAA", 12, out, sizeof(out)) < 0);  // over capacity

  // The line reader: over-long lines are dropped whole and reported once; the next line is intact.
  static kws::protocol::LineReader reader;
  std::string big(kws::protocol::kMaxLine + 50, 'x');
  int overflows = 0;
  for (char c : big + "\n") overflows += reader.Push(c) == kws::protocol::LineReader::Status::kOverflow;
  CHECK(overflows == 1);
  std::vector<std::string> lines;  // CR, LF and CRLF each end a line; empty lines are skipped
  for (char c : std::string("info\r\nreset\rscores on\n\n")) {
    if (reader.Push(c) == kws::protocol::LineReader::Status::kLine) lines.emplace_back(reader.line());
  }
  CHECK((lines == std::vector<std::string>{"info", "reset", "scores on"}));

  // JSON output escapes and never emits a broken object.
  kws::protocol::JsonLine line("t");
  size_t length = 0;
  line.Str("k", "a\"b\\c\n");
  CHECK(std::string(line.Finish(&length)) == "{\"type\":\"t\",\"k\":\"a\\\"b\\\\c\\u000a\"}\n");
  kws::protocol::JsonLine huge("t");
  for (int i = 0; i < 100; ++i) huge.Str("key", "a long value to overflow the line buffer");
  CHECK(std::string(huge.Finish(&length)).find("output line too long") != std::string::npos);

  // Fuzz: random bytes, random mutations of valid lines. Never crashes; never accepts a corrupted frame.
  std::mt19937 rng(1234);
  const std::string valid = AudioLine(3, samples);
  int accepted_mutants = 0;
  for (int i = 0; i < 20000; ++i) {
    std::string s;
    if (i % 2 == 0) {
      const size_t n = rng() % 200;
      for (size_t k = 0; k < n; ++k) s += static_cast<char>(rng() % 256);
    } else {
      s = valid;
      const int edits = 1 + static_cast<int>(rng() % 3);
      for (int e = 0; e < edits; ++e) s[rng() % s.size()] = static_cast<char>(rng() % 256);
    }
    if (parse(s) && cmd.type == CommandType::kAudio && s != valid) {
      accepted_mutants += std::memcmp(cmd.audio, samples.data(), samples.size() * 2) != 0;
    }
    for (char c : s) reader.Push(c);
  }
  CHECK(accepted_mutants == 0);  // a frame whose samples changed is always caught (CRC or length)
}

void TestFeatureSlicing() {
  static kws::FeatureProvider whole;
  static kws::FeatureProvider pieces;
  CHECK(whole.Init() && pieces.Init());
  std::mt19937 rng(7);
  std::vector<int16_t> audio(kws::model::kClipSamples * 2);
  for (size_t i = 0; i < audio.size(); ++i) {
    audio[i] = static_cast<int16_t>((static_cast<int>(rng() % 4000) - 2000) + 3000 * ((i / 400) % 2));
  }
  std::vector<int8_t> frames_whole;
  std::vector<int8_t> frames_pieces;
  bool new_frame = false;
  for (size_t used = 0; used < audio.size();) {
    used += whole.Process(audio.data() + used, audio.size() - used, &new_frame);
    if (new_frame) frames_whole.insert(frames_whole.end(), whole.latest(), whole.latest() + kws::model::kChannels);
  }
  // The same samples in odd-sized pieces give the same frames: only new 20 ms slices are computed.
  for (size_t pos = 0; pos < audio.size();) {
    const size_t n = std::min<size_t>(1 + rng() % 700, audio.size() - pos);
    for (size_t used = 0; used < n;) {
      used += pieces.Process(audio.data() + pos + used, n - used, &new_frame);
      if (new_frame) frames_pieces.insert(frames_pieces.end(), pieces.latest(), pieces.latest() + kws::model::kChannels);
    }
    pos += n;
  }
  const size_t expected = 1 + (audio.size() - kws::model::kWindowSamples) / kws::model::kStrideSamples;
  CHECK(whole.frame_count() == expected && pieces.frame_count() == expected);
  CHECK(frames_whole == frames_pieces);
  // The window holds the last kFrames frames, oldest first.
  CHECK(std::memcmp(whole.window(), frames_whole.data() + (expected - kws::model::kFrames) * kws::model::kChannels,
                    kws::model::kFrames * kws::model::kChannels) == 0);
  // micro_speech's mapping at its edges.
  CHECK(kws::FeatureProvider::ToInt8(0) == -128 && kws::FeatureProvider::ToInt8(65535) == 127);
  CHECK(kws::FeatureProvider::ToInt8(333) == 0);  // (333 * 256 + 333) / 666 - 128 = 0
  whole.Reset();
  CHECK(whole.frame_count() == 0 && whole.window()[0] == -128);
}

std::string g_output;
void Capture(const char* data, size_t length) { g_output.append(data, length); }

void TestAppAudioSources() {
  kws::Board board;
  board.write = Capture;
  static kws::App ready;
  CHECK(ready.Init(board));
  static kws::App not_ready;  // as after a failed Init
  const int16_t silence[512] = {};
  const std::string frame = "audio 0 512 " + [&] {
    char crc[9];
    std::snprintf(crc, sizeof(crc), "%08x",
                  static_cast<unsigned>(kws::protocol::Crc32(reinterpret_cast<const uint8_t*>(silence), sizeof(silence))));
    return std::string(crc) + " " + std::string(sizeof(silence) / 3 * 4, 'A') + "AA==\n";  // base64 of 1,024 zero bytes
  }();
  // Not initialised (it has no output either): five frames, more than the ring buffer holds, return instead
  // of waiting for room that never comes.
  for (int i = 0; i < 5; ++i) not_ready.OnSerial(frame.data(), frame.size());
  // Ready: the microphone path takes samples until the host sends audio frames; the first frame starts from
  // a reset (time 512, not 768) and the microphone is muted from then on.
  int16_t samples[256] = {};
  CHECK(ready.PushAudio(samples, 256) == 256);
  g_output.clear();
  ready.OnSerial(frame.data(), frame.size());
  CHECK(g_output.find("\"cmd\":\"audio\",\"seq\":0,\"time\":512") != std::string::npos);
  CHECK(ready.PushAudio(samples, 256) == 0);
  // A retransmission (the host missed the ack): acknowledged again as a repeat, the audio not queued twice;
  // the next seq is queued; after a reset the same seq starts a new stream.
  g_output.clear();
  ready.OnSerial(frame.data(), frame.size());
  CHECK(g_output == "{\"type\":\"ack\",\"cmd\":\"audio\",\"seq\":0,\"time\":512,\"repeat\":true}\n");
  std::string next = frame;
  next[6] = '1';
  g_output.clear();
  ready.OnSerial(next.data(), next.size());
  CHECK(g_output.find("\"seq\":1,\"time\":1024}") != std::string::npos);
  ready.OnSerial("reset\n", 6);
  g_output.clear();
  ready.OnSerial(next.data(), next.size());
  CHECK(g_output.find("\"seq\":1,\"time\":512}") != std::string::npos);
}

}  // namespace

int main() {
  TestAudioBuffer();
  TestRecognizer();
  TestProtocol();
  TestFeatureSlicing();
  TestAppAudioSources();
  std::printf("%d passed, %d failed\n", g_checks - g_failures, g_failures);
  return g_failures == 0 ? 0 : 1;
}
