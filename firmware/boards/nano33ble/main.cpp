// Arduino Nano 33 BLE / BLE Sense (nRF52840, mbed core): the board layer around the portable core.
// Audio: the PDM microphone on the Sense (KWS_PDM), or the protocol's audio frames on the plain board.
// Protocol: USB CDC `Serial`, mirrored on `Serial1` (UART0, what an emulator sees). The RGB LED shows the
// detected keyword; DWT cycle counts time the features and inferences.
#include <Arduino.h>

#include "app.h"

#if KWS_PDM
#include <PDM.h>
#endif

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
  const int n = PDM.read(pdm_buffer, bytes > static_cast<int>(sizeof(pdm_buffer)) ? sizeof(pdm_buffer) : bytes) / 2;
  if (settle > 0) {
    settle -= n;
    return;
  }
  app.PushAudio(pdm_buffer, static_cast<size_t>(n));
}
#endif

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
}
