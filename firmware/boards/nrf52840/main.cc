// Bare-metal nRF52840 (the Arduino Nano 33 BLE's chip), for Renode and for the board itself (the image
// starts at 0x10000, after the Arduino bootloader): the protocol on UARTE0 (EasyDMA, interrupt-driven
// receive restarted in software after each ENDRX), audio from the PDM microphone double-buffered by EasyDMA
// at 16 kHz or from the protocol's audio frames, the RGB LED, DWT cycle counts.
#include <cstddef>
#include <cstdint>

#include "app.h"
#include "nrf52840.h"

extern "C" {
extern uint32_t __stack_top;
void Reset_Handler();
void Default_Handler();
void UARTE0_IRQHandler();
void PDM_IRQHandler();
}

namespace {

// Nano 33 BLE wiring: Serial1 TX P1.03 / RX P1.10; PDM CLK P0.26 / DIN P0.25, microphone power P0.17;
// RGB LED P0.24 / P0.16 / P0.06 (active low).
constexpr uint32_t kTxPin = 32 + 3;
constexpr uint32_t kRxPin = 32 + 10;
constexpr uint32_t kPdmClkPin = 26;
constexpr uint32_t kPdmDinPin = 25;
constexpr uint32_t kMicPowerPin = 17;
constexpr uint32_t kLedPins[3] = {24, 16, 6};
constexpr uint32_t kBaud115200 = 0x01D7E000;
constexpr size_t kPdmSamples = 256;  // 16 ms per EasyDMA buffer

kws::App app;

// Receive: one byte per EasyDMA transfer into a ring the main loop drains.
uint8_t rx_byte;
uint8_t rx_ring[2048];  // a whole audio line can arrive faster than the main loop drains it
volatile uint32_t rx_head = 0;
volatile uint32_t rx_tail = 0;
uint8_t tx_buffer[256];  // EasyDMA reads RAM only

int16_t pdm_buffers[2][kPdmSamples];
int pdm_latched[2];  // buffers latched by STARTED and not yet ended, oldest first (interrupt only)
int pdm_latched_count = 0;

void UartWrite(const char* data, size_t length) {
  while (length > 0) {
    const size_t n = length < sizeof(tx_buffer) ? length : sizeof(tx_buffer);
    for (size_t i = 0; i < n; ++i) tx_buffer[i] = static_cast<uint8_t>(data[i]);
    nrf::UARTE0->EVENTS_ENDTX = 0;
    nrf::UARTE0->TXD_PTR = reinterpret_cast<uint32_t>(tx_buffer);
    nrf::UARTE0->TXD_MAXCNT = n;
    nrf::UARTE0->TASKS_STARTTX = 1;
    while (nrf::UARTE0->EVENTS_ENDTX == 0) {
    }
    nrf::UARTE0->EVENTS_ENDTX = 0;
    data += n;
    length -= n;
  }
}

uint32_t Cycles() { return nrf::DWT->CYCCNT; }

void ShowLabel(int index) {
  const int colour = index < 0 ? 0 : 1 + index % 7;
  for (int i = 0; i < 3; ++i) {
    if (colour & (1 << i)) {
      nrf::P0->OUTCLR = 1u << kLedPins[i];
    } else {
      nrf::P0->OUTSET = 1u << kLedPins[i];
    }
  }
}

void EnableIrq(int irq) { nrf::NVIC_ISER[irq / 32] = 1u << (irq % 32); }

void InitUart() {
  nrf::UARTE0->PSEL_TXD = kTxPin;
  nrf::UARTE0->PSEL_RXD = kRxPin;
  nrf::UARTE0->BAUDRATE = kBaud115200;
  nrf::UARTE0->CONFIG = 0;
  nrf::UARTE0->ENABLE = 8;
  nrf::UARTE0->EVENTS_ENDRX = 0;
  nrf::UARTE0->INTENSET = 1u << 4;  // ENDRX
  EnableIrq(nrf::kUarte0Irq);
  nrf::UARTE0->RXD_PTR = reinterpret_cast<uint32_t>(&rx_byte);
  nrf::UARTE0->RXD_MAXCNT = 1;
  nrf::UARTE0->TASKS_STARTRX = 1;
}

void InitPdm() {
  nrf::P0->DIRSET = 1u << kMicPowerPin;
  nrf::P0->OUTSET = 1u << kMicPowerPin;
  nrf::PDM->PSEL_CLK = kPdmClkPin;
  nrf::PDM->PSEL_DIN = kPdmDinPin;
  nrf::PDM->PDMCLKCTRL = 0x0A000000;  // 1.280 MHz, with RATIO 80: 16 kHz
  nrf::PDM->RATIO = 1;
  nrf::PDM->MODE = 1;  // mono, left edge
  nrf::PDM->GAINL = 0x28;
  nrf::PDM->GAINR = 0x28;
  nrf::PDM->SAMPLE_PTR = reinterpret_cast<uint32_t>(pdm_buffers[0]);
  nrf::PDM->SAMPLE_MAXCNT = kPdmSamples;
  nrf::PDM->INTENSET = (1u << 0) | (1u << 2);  // STARTED, END
  nrf::PDM->ENABLE = 1;
  EnableIrq(nrf::kPdmIrq);
  nrf::PDM->TASKS_START = 1;
}

}  // namespace

extern "C" {

#define H(f) reinterpret_cast<const void*>(f)
#define D H(Default_Handler)
// Exceptions 0..15, then interrupts 0..47: UARTE0 is interrupt 2, PDM interrupt 29; the rest is a fault.
__attribute__((used, section(".vectors"))) const void* const kVectors[16 + 48] = {
    &__stack_top, H(Reset_Handler), D, D,
    D, D, D, nullptr,
    nullptr, nullptr, nullptr, D,
    D, nullptr, D, D,
    D, D, H(UARTE0_IRQHandler), D,
    D, D, D, D,
    D, D, D, D,
    D, D, D, D,
    D, D, D, D,
    D, D, D, D,
    D, D, D, D,
    D, H(PDM_IRQHandler), D, D,
    D, D, D, D,
    D, D, D, D,
    D, D, D, D,
    D, D, D, D,
};
#undef D
#undef H

void UARTE0_IRQHandler() {
  if (nrf::UARTE0->EVENTS_ENDRX) {
    if (rx_head - rx_tail < sizeof(rx_ring)) {  // a full ring drops the byte; the protocol's CRC notices
      rx_ring[rx_head % sizeof(rx_ring)] = rx_byte;
      rx_head = rx_head + 1;
    }
    // Restart reception in software (Renode 1.15's UARTE ignores the ENDRX->STARTRX shortcut), once before
    // clearing ENDRX and once after. Renode's model writes a character that arrives while ENDRX is clear to
    // the transfer's next address, past a spent buffer, until STARTRX rewinds it: restarting first closes
    // that window, and the second STARTRX takes a character left waiting while ENDRX was still set.
    nrf::UARTE0->TASKS_STARTRX = 1;
    nrf::UARTE0->EVENTS_ENDRX = 0;
    nrf::UARTE0->TASKS_STARTRX = 1;
  }
}

void PDM_IRQHandler() {
  // STARTED: the buffer SAMPLE_PTR names is latched for filling; queue the other one. END: the oldest latched
  // buffer is full. On the chip END(n) and STARTED(n+1) are often pending together; Renode's model raises
  // STARTED(n) and END(n) together. Handling STARTED first against the queue of latched buffers suits both.
  if (nrf::PDM->EVENTS_STARTED) {
    nrf::PDM->EVENTS_STARTED = 0;
    const int latched = nrf::PDM->SAMPLE_PTR == reinterpret_cast<uint32_t>(pdm_buffers[1]) ? 1 : 0;
    if (pdm_latched_count < 2) pdm_latched[pdm_latched_count++] = latched;
    nrf::PDM->SAMPLE_PTR = reinterpret_cast<uint32_t>(pdm_buffers[latched ^ 1]);
  }
  if (nrf::PDM->EVENTS_END) {
    nrf::PDM->EVENTS_END = 0;
    if (pdm_latched_count > 0) {
      app.PushAudio(pdm_buffers[pdm_latched[0]], kPdmSamples);
      pdm_latched[0] = pdm_latched[1];
      --pdm_latched_count;
    }
  }
}

void kws_board_exit(int) {}

void kws_board_fault() {
  *reinterpret_cast<volatile uint32_t*>(0xE000ED0C) = 0x05FA0004;  // AIRCR: SYSRESETREQ
}
}

int main() {
  *nrf::VTOR = reinterpret_cast<uint32_t>(kVectors);
  nrf::CLOCK->EVENTS_HFCLKSTARTED = 0;
  nrf::CLOCK->TASKS_HFCLKSTART = 1;
  for (int i = 0; i < 100000 && nrf::CLOCK->EVENTS_HFCLKSTARTED == 0; ++i) {
  }
  *nrf::DEMCR |= 1u << 24;  // TRCENA
  nrf::DWT->CYCCNT = 0;
  nrf::DWT->CTRL |= 1u;
  for (uint32_t pin : kLedPins) nrf::P0->DIRSET = 1u << pin;
  ShowLabel(-1);
  InitUart();

  kws::Board board;
  board.name = "nrf52840";
  board.write = UartWrite;
  board.cycles = Cycles;
  board.cycles_per_us = 64;
  board.led = ShowLabel;
  if (!app.Init(board)) {
    for (;;) {
    }
  }
  InitPdm();
  for (;;) {
    while (rx_tail != rx_head) {
      const char c = static_cast<char>(rx_ring[rx_tail % sizeof(rx_ring)]);
      rx_tail = rx_tail + 1;
      app.OnSerial(&c, 1);
    }
    app.Poll();
  }
}
