// QEMU mps2-an386: the vector table; leaving main() or a fault ends the emulation through semihosting.
#include <cstdint>

extern "C" {
extern uint32_t __stack_top;
void Reset_Handler();
void Default_Handler();
void kws_uart0_rx_irq();

// The 16 system exceptions, then IRQ 0 (UART0 RX; serial audio is interrupt-driven, main.cc).
__attribute__((used, section(".vectors"))) const void* const kVectors[17] = {
    &__stack_top, reinterpret_cast<const void*>(Reset_Handler),
    reinterpret_cast<const void*>(Default_Handler), reinterpret_cast<const void*>(Default_Handler),
    reinterpret_cast<const void*>(Default_Handler), reinterpret_cast<const void*>(Default_Handler),
    reinterpret_cast<const void*>(Default_Handler), nullptr, nullptr, nullptr, nullptr,
    reinterpret_cast<const void*>(Default_Handler), reinterpret_cast<const void*>(Default_Handler), nullptr,
    reinterpret_cast<const void*>(Default_Handler), reinterpret_cast<const void*>(Default_Handler),
    reinterpret_cast<const void*>(kws_uart0_rx_irq)};

// ARM semihosting SYS_EXIT_EXTENDED (QEMU: -semihosting-config enable=on,target=native).
void kws_board_exit(int code) {
  uint32_t block[2] = {0x20026u, static_cast<uint32_t>(code)};  // ADP_Stopped_ApplicationExit, status
  register uint32_t r0 __asm__("r0") = 0x20;                    // SYS_EXIT_EXTENDED
  register uint32_t* r1 __asm__("r1") = block;
  __asm__ volatile("bkpt 0xab" : : "r"(r0), "r"(r1) : "memory");
}

void kws_board_fault() { kws_board_exit(3); }
}
