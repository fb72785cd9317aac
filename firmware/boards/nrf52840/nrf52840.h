// The few nRF52840 registers this board layer uses (nRF52840 Product Specification v1.7), as plain
// volatile structs at their fixed addresses. Only the fields used are named; the rest is padding.
#pragma once

#include <cstddef>
#include <cstdint>

namespace nrf {

using reg = volatile uint32_t;

struct Clock {  // 0x40000000
  reg TASKS_HFCLKSTART;  // 0x000
  reg TASKS_HFCLKSTOP;
  reg TASKS_LFCLKSTART;  // 0x008
  reg pad0[61];
  reg EVENTS_HFCLKSTARTED;  // 0x100
  reg EVENTS_LFCLKSTARTED;  // 0x104
  reg pad1[260];
  reg LFCLKSRC;  // 0x518
};

struct Uarte {  // UARTE0 0x40002000
  reg TASKS_STARTRX;  // 0x000
  reg TASKS_STOPRX;
  reg TASKS_STARTTX;  // 0x008
  reg TASKS_STOPTX;
  reg pad0[7];
  reg TASKS_FLUSHRX;  // 0x02C
  reg pad1[52];
  reg EVENTS_CTS;  // 0x100
  reg EVENTS_NCTS;
  reg EVENTS_RXDRDY;
  reg pad2;
  reg EVENTS_ENDRX;  // 0x110
  reg pad3[2];
  reg EVENTS_TXDRDY;
  reg EVENTS_ENDTX;  // 0x120
  reg EVENTS_ERROR;
  reg pad4[7];
  reg EVENTS_RXTO;  // 0x144
  reg pad5;
  reg EVENTS_RXSTARTED;  // 0x14C
  reg EVENTS_TXSTARTED;
  reg pad6;
  reg EVENTS_TXSTOPPED;  // 0x158
  reg pad7[41];
  reg SHORTS;  // 0x200
  reg pad8[63];
  reg INTEN;  // 0x300
  reg INTENSET;
  reg INTENCLR;
  reg pad9[93];
  reg ERRORSRC;  // 0x480
  reg pad10[31];
  reg ENABLE;  // 0x500
  reg pad11;
  reg PSEL_RTS;  // 0x508
  reg PSEL_TXD;
  reg PSEL_CTS;
  reg PSEL_RXD;  // 0x514
  reg pad12[3];
  reg BAUDRATE;  // 0x524
  reg pad13[3];
  reg RXD_PTR;  // 0x534
  reg RXD_MAXCNT;
  reg RXD_AMOUNT;
  reg pad14;
  reg TXD_PTR;  // 0x544
  reg TXD_MAXCNT;
  reg TXD_AMOUNT;
  reg pad15[7];
  reg CONFIG;  // 0x56C
};

struct Pdm {  // 0x4001D000
  reg TASKS_START;  // 0x000
  reg TASKS_STOP;
  reg pad0[62];
  reg EVENTS_STARTED;  // 0x100
  reg EVENTS_STOPPED;
  reg EVENTS_END;  // 0x108
  reg pad1[125];
  reg INTEN;  // 0x300
  reg INTENSET;
  reg INTENCLR;
  reg pad2[125];
  reg ENABLE;  // 0x500
  reg PDMCLKCTRL;
  reg MODE;
  reg pad3[3];
  reg GAINL;  // 0x518
  reg GAINR;
  reg RATIO;  // 0x520
  reg pad4[7];
  reg PSEL_CLK;  // 0x540
  reg PSEL_DIN;
  reg pad5[6];
  reg SAMPLE_PTR;  // 0x560
  reg SAMPLE_MAXCNT;
};

struct Gpio {  // P0 0x50000000
  reg pad0[321];
  reg OUT;  // 0x504
  reg OUTSET;
  reg OUTCLR;
  reg IN;
  reg DIR;  // 0x514
  reg DIRSET;
  reg DIRCLR;
};

struct Dwt {  // 0xE0001000
  reg CTRL;
  reg CYCCNT;
};

inline Clock* const CLOCK = reinterpret_cast<Clock*>(0x40000000);
inline Uarte* const UARTE0 = reinterpret_cast<Uarte*>(0x40002000);
inline Pdm* const PDM = reinterpret_cast<Pdm*>(0x4001D000);
inline Gpio* const P0 = reinterpret_cast<Gpio*>(0x50000000);
inline Dwt* const DWT = reinterpret_cast<Dwt*>(0xE0001000);
inline reg* const DEMCR = reinterpret_cast<reg*>(0xE000EDFC);
inline reg* const NVIC_ISER = reinterpret_cast<reg*>(0xE000E100);
inline reg* const VTOR = reinterpret_cast<reg*>(0xE000ED08);
inline reg* const CPACR = reinterpret_cast<reg*>(0xE000ED88);

constexpr int kUarte0Irq = 2;
constexpr int kPdmIrq = 29;

static_assert(offsetof(Uarte, EVENTS_ENDRX) == 0x110, "UARTE layout");
static_assert(offsetof(Uarte, EVENTS_ENDTX) == 0x120, "UARTE layout");
static_assert(offsetof(Uarte, EVENTS_RXSTARTED) == 0x14C, "UARTE layout");
static_assert(offsetof(Uarte, SHORTS) == 0x200, "UARTE layout");
static_assert(offsetof(Uarte, INTENSET) == 0x304, "UARTE layout");
static_assert(offsetof(Uarte, ENABLE) == 0x500, "UARTE layout");
static_assert(offsetof(Uarte, PSEL_RXD) == 0x514, "UARTE layout");
static_assert(offsetof(Uarte, BAUDRATE) == 0x524, "UARTE layout");
static_assert(offsetof(Uarte, RXD_PTR) == 0x534, "UARTE layout");
static_assert(offsetof(Uarte, TXD_PTR) == 0x544, "UARTE layout");
static_assert(offsetof(Uarte, CONFIG) == 0x56C, "UARTE layout");
static_assert(offsetof(Pdm, EVENTS_END) == 0x108, "PDM layout");
static_assert(offsetof(Pdm, INTENSET) == 0x304, "PDM layout");
static_assert(offsetof(Pdm, ENABLE) == 0x500, "PDM layout");
static_assert(offsetof(Pdm, GAINL) == 0x518, "PDM layout");
static_assert(offsetof(Pdm, RATIO) == 0x520, "PDM layout");
static_assert(offsetof(Pdm, PSEL_CLK) == 0x540, "PDM layout");
static_assert(offsetof(Pdm, SAMPLE_PTR) == 0x560, "PDM layout");
static_assert(offsetof(Clock, EVENTS_HFCLKSTARTED) == 0x100, "CLOCK layout");
static_assert(offsetof(Clock, LFCLKSRC) == 0x518, "CLOCK layout");
static_assert(offsetof(Gpio, OUT) == 0x504, "GPIO layout");
static_assert(offsetof(Gpio, DIRSET) == 0x518, "GPIO layout");

}  // namespace nrf
