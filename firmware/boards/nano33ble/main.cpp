// Arduino Nano 33 BLE / BLE Sense (nRF52840, mbed core): the board layer around the portable core.
// Audio: the PDM microphone on the Sense (KWS_PDM), or the protocol's audio frames on the plain board.
// Protocol: USB CDC `Serial`, mirrored on `Serial1` (UART0, what an emulator sees). The RGB LED shows the
// detected keyword; DWT cycle counts time the features and inferences.
// The core (and TFLM's headers through it) and <chrono> before Arduino.h, whose abs() macro breaks std::abs
// and C++17's std::chrono::abs (which the mbed headers Arduino.h includes would pull in after it).
#include <chrono>

#include "app.h"

// The Arduino and mbed headers are not warning-clean under the project's flags (-Wshadow): they are the
// framework's code, not ours, so their warnings are off inside these includes only.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wshadow"
#pragma GCC diagnostic ignored "-Wextra"
#include <Arduino.h>
#include <cmsis_os2.h>
#include <mbed_stats.h>
#if KWS_PDM
#include <PDM.h>
#endif
#pragma GCC diagnostic pop

namespace {

kws::App app;
unsigned long led_off_at = 0;

void WriteBoth(const char* data, size_t length) {
  Serial.write(reinterpret_cast<const uint8_t*>(data), length);
  Serial1.write(reinterpret_cast<const uint8_t*>(data), length);
}

uint32_t Cycles() { return DWT->CYCCNT; }

// Active-low RGB LED: one colour per keyword (cycling through 7 combinations), off for -1.
void ShowLabel(int index) {
  const int colour = index < 0 ? 0 : 1 + index % 7;
  digitalWrite(LEDR, (colour & 1) ? LOW : HIGH);
  digitalWrite(LEDG, (colour & 2) ? LOW : HIGH);
  digitalWrite(LEDB, (colour & 4) ? LOW : HIGH);
  led_off_at = index < 0 ? 0 : millis() + 1000;
}

#if KWS_PDM
constexpr int kSettleSamples = 8000;  // the microphone's first 0.5 s is not usable
volatile int settle = kSettleSamples;
int16_t pdm_buffer[256];

void OnPdm() {  // interrupt context: copy into the core's lock-free ring buffer only
  const int bytes = PDM.available();
  int n = PDM.read(pdm_buffer, bytes > static_cast<int>(sizeof(pdm_buffer)) ? sizeof(pdm_buffer) : bytes) / 2;
  const int16_t* samples = pdm_buffer;
  if (settle > 0) {  // exactly kSettleSamples are dropped, whatever the read sizes
    const int skip = n < settle ? n : settle;
    settle -= skip;
    samples += skip;
    n -= skip;
  }
  if (n > 0) app.PushAudio(samples, static_cast<size_t>(n));
}
#endif

// Memory under mbed OS, every few seconds: the heap's high-water mark and what mbed reserved for it, the main
// thread's (setup/loop) stack high-water mark and size (RTX watermarks; MBED_ALL_STATS_ENABLED in the core).
constexpr unsigned long kMemoryEveryMs = 5000;
unsigned long memory_at = kMemoryEveryMs;

void SendMemory() {
  mbed_stats_heap_t heap;
  mbed_stats_heap_get(&heap);
  mbed_stats_stack_t stacks[8];
  const size_t count = mbed_stats_stack_get_each(stacks, sizeof(stacks) / sizeof(stacks[0]));
  const uint32_t self = reinterpret_cast<uint32_t>(osThreadGetId());
  uint32_t stack_used = 0;
  uint32_t stack_size = 0;
  for (size_t i = 0; i < count; ++i) {
    if (stacks[i].thread_id == self) {
      stack_used = stacks[i].max_size;
      stack_size = stacks[i].reserved_size;
    }
  }
  kws::protocol::JsonLine line("memory");
  line.Int("heap_used", heap.max_size)
      .Int("heap_reserved", heap.reserved_size)
      .Int("stack_used", stack_used)
      .Int("stack_size", stack_size)
      .Int("arena_used", static_cast<long long>(app.arena_used()));
  app.Send(line);
}

}  // namespace

void setup() {
  Serial.begin(115200);
  Serial1.begin(115200);
  pinMode(LEDR, OUTPUT);
  pinMode(LEDG, OUTPUT);
  pinMode(LEDB, OUTPUT);
  ShowLabel(-1);
  CoreDebug->DEMCR |= CoreDebug_DEMCR_TRCENA_Msk;
  DWT->CYCCNT = 0;
  DWT->CTRL |= DWT_CTRL_CYCCNTENA_Msk;

  kws::Board board;
#if KWS_PDM
  board.name = "nano33ble-sense";
#else
  board.name = "nano33ble";
#endif
  board.write = WriteBoth;
  board.cycles = Cycles;
  board.cycles_per_us = SystemCoreClock / 1000000;
  board.led = ShowLabel;
  app.Init(board);
#if KWS_PDM
  PDM.onReceive(OnPdm);
  if (!PDM.begin(1, kws::model::kSampleRate)) app.Error("PDM microphone failed to start");
#endif
}

static void Drain(Stream& port) {
  char buffer[64];
  while (port.available() > 0) {
    const size_t n = port.readBytes(buffer, min(port.available(), static_cast<int>(sizeof(buffer))));
    app.OnSerial(buffer, n);
  }
}

void loop() {
  Drain(Serial);
  Drain(Serial1);
  app.Poll();
  if (led_off_at != 0 && static_cast<long>(millis() - led_off_at) >= 0) ShowLabel(-1);
  if (static_cast<long>(millis() - memory_at) >= 0) {
    memory_at += kMemoryEveryMs;
    SendMemory();
  }
}
