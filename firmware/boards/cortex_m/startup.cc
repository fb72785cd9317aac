// Start-up shared by the bare-metal Cortex-M4 boards: .data/.bss set-up, FPU on, static constructors,
// main(); newlib's heap (start-up only) and system calls; heap and stack high-water marks. A board supplies
// its vector table (section .vectors), kws_board_exit() and kws_board_fault().
#include <cstddef>
#include <cstdint>

extern "C" {
extern uint32_t __data_load, __data_start, __data_end, __bss_start, __bss_end, __stack_bottom, __stack_top;
extern uint8_t __heap_start, __heap_end;
extern void (*__preinit_array_start[])(), (*__preinit_array_end[])();
extern void (*__init_array_start[])(), (*__init_array_end[])();
int main();
void kws_board_exit(int code);
void kws_board_fault();

constexpr uint32_t kStackPaint = 0xA5A5A5A5u;

void Reset_Handler() {
  // Paint the stack below the current frame so its high-water mark can be measured.
  uint32_t* sp;
  __asm__ volatile("mov %0, sp" : "=r"(sp));
  for (uint32_t* p = &__stack_bottom; p < sp - 16; ++p) *p = kStackPaint;
  uint32_t* src = &__data_load;
  for (uint32_t* dst = &__data_start; dst < &__data_end;) *dst++ = *src++;
  for (uint32_t* dst = &__bss_start; dst < &__bss_end;) *dst++ = 0;
  volatile uint32_t* cpacr = reinterpret_cast<volatile uint32_t*>(0xE000ED88);
  *cpacr |= 0xFu << 20;  // CP10 and CP11: the FPU
  __asm__ volatile("dsb\n isb");
  for (auto f = __preinit_array_start; f < __preinit_array_end; ++f) (*f)();
  for (auto f = __init_array_start; f < __init_array_end; ++f) (*f)();
  kws_board_exit(main());
  for (;;) {
  }
}

// Faults and unexpected interrupts: the board decides (exit the emulator, reset, ...), never a silent hang.
void Default_Handler() {
  kws_board_fault();
  for (;;) {
  }
}

// newlib's heap, bounded by the linker script; used only at start-up (the frontend's tables).
static uint8_t* heap_brk = &__heap_start;

void* _sbrk(ptrdiff_t increment) {
  if (increment < 0 || heap_brk + increment > &__heap_end) return reinterpret_cast<void*>(-1);
  uint8_t* previous = heap_brk;
  heap_brk += increment;
  return previous;
}

size_t kws_heap_used() { return static_cast<size_t>(heap_brk - &__heap_start); }

size_t kws_stack_used() {
  const uint32_t* p = &__stack_bottom;
  while (p < &__stack_top && *p == kStackPaint) ++p;
  return static_cast<size_t>(reinterpret_cast<const uint8_t*>(&__stack_top) - reinterpret_cast<const uint8_t*>(p));
}

// Minimal system calls for newlib (no files; output goes through the UART explicitly).
int _write(int, const char*, int n) { return n; }
int _read(int, char*, int) { return 0; }
int _close(int) { return -1; }
int _lseek(int, int, int) { return 0; }
int _fstat(int, void*) { return 0; }
int _isatty(int) { return 1; }
int _kill(int, int) { return -1; }
int _getpid() { return 1; }
void _exit(int code) {
  kws_board_exit(code);
  for (;;) {
  }
}
}
