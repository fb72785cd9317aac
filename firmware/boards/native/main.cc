// Native simulator: the portable core + TFLM reference kernels on the host.
//
//   kws_sim                      serial mode: protocol commands on stdin (a pipe or a pseudo-terminal),
//                                protocol lines on stdout
//   kws_sim --wav FILE [--scores] [--chunk N]
//                                stream a 16 kHz mono 16-bit WAV through the app, N samples at a time
//   kws_sim --pty [--wav FILE [--speed X]]
//                                serial mode on a new pseudo-terminal (its path is printed on stderr): a
//                                board on a serial port, for pyserial and the host tools; with --wav the
//                                file plays as a microphone would, at X × real time, once the host speaks
//   kws_sim --clips FILE...      for each clip from a fresh state: its int8 features and int8 scores
#include <fcntl.h>
#include <termios.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "app.h"

namespace {

int g_in = STDIN_FILENO;
int g_out = STDOUT_FILENO;

void WriteOut(const char* data, size_t length) {
  while (length > 0) {
    const ssize_t n = write(g_out, data, length);
    if (n <= 0) return;
    data += n;
    length -= static_cast<size_t>(n);
  }
}

uint32_t ReadLe(const unsigned char* p, int bytes) {
  uint32_t v = 0;
  for (int i = bytes - 1; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

// A clip shorter than kClipPadBelow gives the recognizer at most a few inferences (the first comes once a
// whole 1 s window is in), fewer than its minimum count: play it with a second of silence before and after,
// as a microphone would hear a word said in a quiet room. Times then count from the start of the padding.
constexpr size_t kClipPadBelow = 2 * kws::model::kSampleRate;
constexpr size_t kClipPad = kws::model::kSampleRate;

void PadClip(const char* path, std::vector<int16_t>* samples) {
  if (samples->size() >= kClipPadBelow) return;
  std::fprintf(stderr, "kws_sim: %s is a %.2f s clip: played with 1 s of silence before and after\n", path,
               static_cast<double>(samples->size()) / kws::model::kSampleRate);
  samples->insert(samples->begin(), kClipPad, 0);
  samples->insert(samples->end(), kClipPad, 0);
}

// Reads a 16 kHz mono 16-bit PCM WAV; on failure prints why and returns false.
bool ReadWav(const char* path, std::vector<int16_t>* samples) {
  FILE* f = std::fopen(path, "rb");
  if (f == nullptr) {
    std::fprintf(stderr, "kws_sim: %s: cannot open\n", path);
    return false;
  }
  std::vector<unsigned char> bytes;
  unsigned char buffer[65536];
  size_t n;
  while ((n = std::fread(buffer, 1, sizeof(buffer), f)) > 0) bytes.insert(bytes.end(), buffer, buffer + n);
  std::fclose(f);
  if (bytes.size() < 12 || std::memcmp(bytes.data(), "RIFF", 4) != 0 || std::memcmp(bytes.data() + 8, "WAVE", 4) != 0) {
    std::fprintf(stderr, "kws_sim: %s: not a WAV file\n", path);
    return false;
  }
  bool format_ok = false;
  for (size_t pos = 12; pos + 8 <= bytes.size();) {
    const uint32_t size = ReadLe(&bytes[pos + 4], 4);
    const size_t body = pos + 8;
    if (size > bytes.size() - body) {
      std::fprintf(stderr, "kws_sim: %s: truncated\n", path);
      return false;
    }
    if (std::memcmp(&bytes[pos], "fmt ", 4) == 0 && size >= 16) {
      format_ok = ReadLe(&bytes[body], 2) == 1 && ReadLe(&bytes[body + 2], 2) == 1 &&
                  ReadLe(&bytes[body + 4], 4) == static_cast<uint32_t>(kws::model::kSampleRate) &&
                  ReadLe(&bytes[body + 14], 2) == 16;
      if (!format_ok) {
        std::fprintf(stderr, "kws_sim: %s: expected 16-bit mono PCM at %d Hz\n", path, kws::model::kSampleRate);
        return false;
      }
    } else if (std::memcmp(&bytes[pos], "data", 4) == 0 && format_ok) {
      samples->resize(size / 2);
      for (size_t i = 0; i < samples->size(); ++i) {
        (*samples)[i] = static_cast<int16_t>(ReadLe(&bytes[body + 2 * i], 2));
      }
      return true;
    }
    pos = body + size + (size & 1);
  }
  std::fprintf(stderr, "kws_sim: %s: no audio data\n", path);
  return false;
}

int RunClips(int count, char** paths) {
  static kws::FeatureProvider features;
  static kws::ModelRunner runner;
  if (!features.Init()) return 2;
  if (const char* problem = runner.Init()) {
    std::fprintf(stderr, "kws_sim: %s\n", problem);
    return 2;
  }
  std::vector<int16_t> samples;
  int8_t scores[kws::model::kLabelCount];
  for (int i = 0; i < count; ++i) {
    if (!ReadWav(paths[i], &samples)) return 1;
    samples.resize(kws::model::kClipSamples, 0);  // pad or trim to one clip, as the host does
    features.Reset();
    bool new_frame = false;
    for (size_t used = 0; used < samples.size();) {
      used += features.Process(samples.data() + used, samples.size() - used, &new_frame);
    }
    if (!runner.InvokeWindow(features.window(), scores)) return 2;
    std::string line = "{\"type\":\"clip\",\"file\":\"" + std::string(paths[i]) + "\",\"features\":[";
    for (int k = 0; k < kws::FeatureProvider::kFrames * kws::FeatureProvider::kChannels; ++k) {
      line += (k ? "," : "") + std::to_string(features.window()[k]);
    }
    line += "],\"scores\":[";
    for (int k = 0; k < kws::model::kLabelCount; ++k) line += (k ? "," : "") + std::to_string(scores[k]);
    line += "]}\n";
    WriteOut(line.data(), line.size());
  }
  return 0;
}

}  // namespace

// A pseudo-terminal in raw mode; the simulator keeps both ends open, so a host can come and go.
bool OpenPty() {
  const int master = posix_openpt(O_RDWR | O_NOCTTY);
  if (master < 0 || grantpt(master) != 0 || unlockpt(master) != 0) return false;
  const char* name = ptsname(master);
  const int slave = name != nullptr ? open(name, O_RDWR | O_NOCTTY) : -1;
  termios raw;
  if (slave < 0 || tcgetattr(slave, &raw) != 0) return false;
  cfmakeraw(&raw);
  if (tcsetattr(slave, TCSANOW, &raw) != 0) return false;
  g_in = g_out = master;
  std::fprintf(stderr, "pty: %s\n", name);
  std::fflush(stderr);
  return true;
}

int main(int argc, char** argv) {
  const char* wav = nullptr;
  bool scores = false;
  bool pty = false;
  double speed = 1.0;
  size_t chunk = 160;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--clips") == 0) return RunClips(argc - i - 1, argv + i + 1);
    if (std::strcmp(argv[i], "--wav") == 0 && i + 1 < argc) {
      wav = argv[++i];
    } else if (std::strcmp(argv[i], "--speed") == 0 && i + 1 < argc) {
      speed = std::strtod(argv[++i], nullptr);
      if (!(speed > 0.0 && speed <= 1000.0)) speed = 1.0;
    } else if (std::strcmp(argv[i], "--pty") == 0) {
      pty = true;
    } else if (std::strcmp(argv[i], "--scores") == 0) {
      scores = true;
    } else if (std::strcmp(argv[i], "--chunk") == 0 && i + 1 < argc) {
      chunk = static_cast<size_t>(std::strtoul(argv[++i], nullptr, 10));
      if (chunk == 0 || chunk > 16000) chunk = 160;
    } else {
      std::fprintf(stderr,
                   "usage: kws_sim [--pty] [--wav FILE [--scores] [--chunk N] [--speed X]] | --clips FILE...\n");
      return 2;
    }
  }
  if (pty && !OpenPty()) {
    std::fprintf(stderr, "kws_sim: cannot create a pseudo-terminal\n");
    return 2;
  }
  static kws::App app;
  kws::Board board;
  board.name = "native";
  board.write = WriteOut;
  if (!app.Init(board)) return 2;
  char buffer[4096];
  if (wav != nullptr) {
    std::vector<int16_t> samples;
    if (!ReadWav(wav, &samples)) return 1;
    PadClip(wav, &samples);
    if (scores) app.OnSerial("scores on\n", 10);
    // On a pseudo-terminal the file plays like a microphone: paced at --speed × real time, from the host's
    // first command on (so a host that has just connected sees it all), with commands served meanwhile.
    if (pty) {
      const ssize_t n = read(g_in, buffer, sizeof(buffer));
      if (n > 0) app.OnSerial(buffer, static_cast<size_t>(n));
      fcntl(g_in, F_SETFL, fcntl(g_in, F_GETFL) | O_NONBLOCK);
    }
    for (size_t pos = 0; pos < samples.size();) {
      const size_t n = samples.size() - pos < chunk ? samples.size() - pos : chunk;
      app.Feed(samples.data() + pos, n);
      pos += n;
      if (pty) {
        const ssize_t got = read(g_in, buffer, sizeof(buffer));
        if (got > 0) app.OnSerial(buffer, static_cast<size_t>(got));
        usleep(static_cast<useconds_t>(1e6 * static_cast<double>(n) / kws::model::kSampleRate / speed));
      }
    }
    if (!pty) return 0;
    fcntl(g_in, F_SETFL, fcntl(g_in, F_GETFL) & ~O_NONBLOCK);
  }
  for (;;) {
    const ssize_t n = read(g_in, buffer, sizeof(buffer));
    if (n <= 0) return 0;
    app.OnSerial(buffer, static_cast<size_t>(n));
  }
}
