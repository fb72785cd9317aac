// Renode 1.15's nRF52840 UARTE (UART.NRF52840_UART, easyDMA) with three things of the real peripheral that
// mbed OS's serial driver (the Arduino core's Serial1) depends on and the model lacks:
// - the ENDRX -> STARTRX shortcut (SHORTS bit 5): mbed arms a 1-byte DMA buffer and relies on the shortcut to
//   restart reception into the next one; without it reception stops after the first byte;
// - RXD.AMOUNT as the count of the finished transfer (the model counts the running one, which a restart
//   zeroes before the interrupt handler reads it);
// - characters arrive at the line's pace (10 bits per character at the set baud rate), not all at once, so
//   the interrupt handler re-arms its buffers between them as it does on the chip.
// Loaded with `include @nrf52840_uarte.cs` before the platform, which then names UART.NRF52840_UARTE
// (host/emulate.py's local_platform does both). Register offsets: nRF52840 Product Specification, UARTE.
using System.Collections.Generic;
using Antmicro.Renode.Core;
using Antmicro.Renode.Peripherals.Bus;
using Antmicro.Renode.Time;

namespace Antmicro.Renode.Peripherals.UART
{
    public class NRF52840_UARTE : NRF52840_UART, IDoubleWordPeripheral
    {
        public NRF52840_UARTE(IMachine machine, bool easyDMA = true) : base(machine, easyDMA)
        {
            this.machine = machine;
        }

        public new uint ReadDoubleWord(long offset)
        {
            lock(line)
            {
                if(offset == Shorts)
                {
                    return shorts;
                }
                if(offset == RxdAmount)
                {
                    return finishedAmount;
                }
                return base.ReadDoubleWord(offset);
            }
        }

        public new void WriteDoubleWord(long offset, uint value)
        {
            lock(line)
            {
                if(offset == Shorts)
                {
                    shorts = value;
                    return;
                }
                var ended = EndRx;
                base.WriteDoubleWord(offset, value);
                if(!ended && EndRx)  // STOPRX ends the transfer
                {
                    finishedAmount = base.ReadDoubleWord(RxdAmount);
                }
            }
        }

        public override void WriteChar(byte value)
        {
            lock(line)
            {
                line.Enqueue(value);
                if(!pacing)
                {
                    pacing = true;
                    machine.ScheduleAction(CharacterTime, _ => Deliver());
                }
            }
        }

        public override void Reset()
        {
            lock(line)
            {
                base.Reset();
                line.Clear();
                shorts = 0;
                finishedAmount = 0;
            }
        }

        // One character off the line into the peripheral; an ended transfer holds it (the peripheral's FIFO)
        // until the handler clears ENDRX or the shortcut restarts reception.
        private void Deliver()
        {
            lock(line)
            {
                if(!EndRx && line.Count > 0)
                {
                    base.WriteChar(line.Dequeue());
                    if(EndRx)
                    {
                        finishedAmount = base.ReadDoubleWord(RxdAmount);
                        if((shorts & EndRxStartRx) != 0)
                        {
                            base.WriteDoubleWord(TasksStartRx, 1);
                        }
                    }
                }
                pacing = line.Count > 0;
                if(pacing)
                {
                    machine.ScheduleAction(CharacterTime, _ => Deliver());
                }
            }
        }

        private bool EndRx => base.ReadDoubleWord(EventsEndRx) != 0;

        private TimeInterval CharacterTime => TimeInterval.FromMicroseconds(10000000UL / (BaudRate == 0 ? 115200 : BaudRate));

        private readonly IMachine machine;
        private readonly Queue<byte> line = new Queue<byte>();
        private bool pacing;
        private uint shorts;
        private uint finishedAmount;

        private const long TasksStartRx = 0x000;
        private const long EventsEndRx = 0x110;
        private const long Shorts = 0x200;
        private const long RxdAmount = 0x53C;
        private const uint EndRxStartRx = 1u << 5;
    }
}
