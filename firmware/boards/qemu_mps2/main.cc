// Emulated Cortex-M4 (QEMU mps2-an386): the portable core with CMSIS-NN kernels. The protocol goes out
// on the CMSDK UART0; audio comes compiled in (KWS_EMBED_WAV at build time: streamed, then the emulator
// exits) or in the protocol's audio frames over UART0.
//
// Receive is interrupt-driven into a ring, and the main loop sleeps (WFI) while the ring is empty. QEMU hands
// the guest one byte per pass of its main loop, and only while the CPU is not holding the device in a busy
// poll: polling the STATE register in a tight loop (as this board once did) starves QEMU's I/O thread on a
// loaded machine, so serial audio arrived ever slower (no byte was lost: a full RX register holds QEMU back).
// The ring is never overrun: when it is full the interrupt is masked and the byte stays in the register,
// which stops QEMU from delivering more until the main loop has made room.
#include <cstddef>
#include <cstdint>

#include "app.h"
#include "audio_data.h"

extern "C" {
size_t kws_heap_used();
size_t kws_stack_used();
void kws_uart0_rx_irq();
}

namespace {

struct CmsdkUart {
  volatile uint32_t data;
  volatile uint32_t state;      // bit 0: TX full, bit 1: RX full
  volatile uint32_t ctrl;       // bit 0: TX enable, bit 1: RX enable, bit 3: RX interrupt enable
  volatile uint32_t intstatus;  // bit 1: RX (write 1 to clear)
  volatile uint32_t bauddiv;
};
CmsdkUart* const kUart0 = reinterpret_cast<CmsdkUart*>(0x40004000);
constexpr uint32_t kRxFull = 1u << 1;
constexpr uint32_t kCtrlTxRx = 3u;
constexpr uint32_t kCtrlRxInterrupt = 1u << 3;
volatile uint32_t* const kNvicIser0 = reinterpret_cast<volatile uint32_t*>(0xE000E100);
constexpr uint32_t kUart0RxIrq = 0;  // mps2-an386: UART0 RX is IRQ 0

uint8_t rx_ring[2048];  // more than one audio line
volatile uint32_t rx_head = 0;  // written by the interrupt (and by the main loop with it masked)
volatile uint32_t rx_tail = 0;  // written by the main loop

void UartWrite(const char* data, size_t length) {
  for (size_t i = 0; i < length; ++i) {
    while (kUart0->state & 1u) {
    }
    kUart0->data = static_cast<uint8_t>(data[i]);
  }
}

// Moves received bytes into the ring while there is room; with none, masks the RX interrupt and leaves
// the byte in the register (QEMU then delivers nothing more). Interrupt context, or the main loop with
// interrupts disabled.
void PullReceived() {
  kUart0->intstatus = kRxFull;
  while (kUart0->state & kRxFull) {
    if (rx_head - rx_tail >= sizeof(rx_ring)) {
      kUart0->ctrl = kCtrlTxRx;
      return;
    }
    rx_ring[rx_head % sizeof(rx_ring)] = static_cast<uint8_t>(kUart0->data);
    rx_head = rx_head + 1;
  }
}

}  // namespace

extern "C" void kws_uart0_rx_irq() { PullReceived(); }

int main() {
  kUart0->bauddiv = 16;
  kUart0->ctrl = kCtrlTxRx;
  static kws::App app;
  kws::Board board;
  board.name = "qemu-mps2-an386";
  board.write = UartWrite;
  if (!app.Init(board)) return 2;
  if (kws::audio::kSamples > 0) {
    app.OnSerial("scores on\n", 10);  // every inference's scores, to compare with the host's TFLM golden
    constexpr size_t kChunk = 256;  // as a microphone DMA buffer would deliver it
    for (size_t pos = 0; pos < kws::audio::kSamples; pos += kChunk) {
      const size_t n = kws::audio::kSamples - pos < kChunk ? kws::audio::kSamples - pos : kChunk;
      app.Feed(kws::audio::kData + pos, n);
    }
    kws::protocol::JsonLine memory("memory");
    memory.Int("heap_used", static_cast<long long>(kws_heap_used()))
        .Int("stack_used", static_cast<long long>(kws_stack_used()))
        .Int("arena_used", static_cast<long long>(app.arena_used()));
    app.Send(memory);
    kws::protocol::JsonLine done("done");
    app.Send(done);
    return 0;
  }
  kUart0->ctrl = kCtrlTxRx | kCtrlRxInterrupt;
  *kNvicIser0 = 1u << kUart0RxIrq;
  for (;;) {
    __asm__ volatile("cpsid i" ::: "memory");
    // QEMU raises the RX interrupt only for a byte that arrives while it is enabled, so a byte that came
    // in while it was masked (the ring was full) or before start-up enabled it is taken here, after the
    // unmask; one that comes later is a pending interrupt.
    if (rx_head - rx_tail < sizeof(rx_ring)) kUart0->ctrl = kCtrlTxRx | kCtrlRxInterrupt;
    PullReceived();
    if (rx_tail == rx_head) __asm__ volatile("wfi" ::: "memory");  // a pending interrupt still wakes it
    __asm__ volatile("cpsie i" ::: "memory");
    while (rx_tail != rx_head) {
      char chunk[64];
      size_t n = 0;
      while (n < sizeof(chunk) && rx_tail != rx_head) {
        chunk[n++] = static_cast<char>(rx_ring[rx_tail % sizeof(rx_ring)]);
        rx_tail = rx_tail + 1;
      }
      app.OnSerial(chunk, n);
    }
  }
}
