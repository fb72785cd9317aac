// Emulated Cortex-M4 (QEMU mps2-an386): the portable core with CMSIS-NN kernels. The protocol goes out
// on the CMSDK UART0; audio comes compiled in (KWS_EMBED_WAV at build time: streamed, then the emulator
// exits) or in the protocol's audio frames over UART0.
#include <cstddef>
#include <cstdint>

#include "app.h"
#include "audio_data.h"

extern "C" {
size_t kws_heap_used();
size_t kws_stack_used();
}

namespace {

struct CmsdkUart {
  volatile uint32_t data;
  volatile uint32_t state;  // bit 0: TX full, bit 1: RX full
  volatile uint32_t ctrl;   // bit 0: TX enable, bit 1: RX enable
  volatile uint32_t intstatus;
  volatile uint32_t bauddiv;
};
CmsdkUart* const kUart0 = reinterpret_cast<CmsdkUart*>(0x40004000);

void UartWrite(const char* data, size_t length) {
  for (size_t i = 0; i < length; ++i) {
    while (kUart0->state & 1u) {
    }
    kUart0->data = static_cast<uint8_t>(data[i]);
  }
}

}  // namespace

int main() {
  kUart0->bauddiv = 16;
  kUart0->ctrl = 3u;
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
  for (;;) {
    if (kUart0->state & 2u) {
      const char c = static_cast<char>(kUart0->data & 0xFFu);
      app.OnSerial(&c, 1);
    }
  }
}
