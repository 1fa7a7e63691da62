#!/usr/bin/env python3
"""Modbus/TCP conformance of an icsrange generator PLC, checked with pymodbus (an independent
implementation). Usage: modbus_conformance.py HOST OTHER_HOST... [--port 502]

HOST is the PLC of a unit that is not the reference machine (case9: gen 2 at 127.x.0.2); the
OTHER_HOSTs are the PLCs of the other units, whose output must rise when HOST's breaker opens.
Every function code the device implements is exercised, with its exceptions. Exits 1 on the
first failed check, printing what was expected and what came back.
"""
import argparse
import struct
import sys
import time

from pymodbus.client import ModbusTcpClient
from pymodbus.pdu import ExceptionResponse
from pymodbus.pdu.register_message import ReadInputRegistersRequest


class UncheckedReadInputRegisters(ReadInputRegistersRequest):
    """pymodbus refuses to send a count above 125; the server must refuse it too (03)."""

    def encode(self) -> bytes:
        return struct.pack(">HH", self.address, self.count)


def check(name, ok, detail=""):
    print(("ok   " if ok else "FAIL ") + name + (f": {detail}" if detail else ""), flush=True)
    if not ok:
        sys.exit(1)


def wait(pred, seconds=5.0):
    """Polls `pred` until it holds: a breaker moves after its operating time, and the grid
    steps in real time, so a status changes shortly after the command, not with its echo."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(0.02)
    return False


def signed(v):
    return v - 65536 if v >= 32768 else v


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("host")
    ap.add_argument("others", nargs="*")
    ap.add_argument("--port", type=int, default=502)
    a = ap.parse_args()

    c = ModbusTcpClient(a.host, port=a.port, timeout=2, retries=0)
    check("connect", c.connect())

    rr = c.read_input_registers(0, count=5, device_id=1)
    check("FC04 read input registers", not rr.isError() and len(rr.registers) == 5, str(rr))
    p, q, f, v, pm = rr.registers
    check("P is the unit's dispatch (163 MW in case9)", abs(signed(p) - 1630) <= 1, f"{signed(p) / 10} MW")
    check("frequency 50.00 Hz", abs(f - 5000) <= 2, f"{f / 100} Hz")
    check("terminal voltage in 0.9..1.1 p.u.", 900 <= v <= 1100, f"{v / 1000} p.u.")

    rr = c.read_holding_registers(0, count=1, device_id=1)
    check("FC03 read holding registers", not rr.isError() and abs(signed(rr.registers[0]) - 1630) <= 1, str(rr))
    rr = c.read_coils(0, count=2, device_id=1)
    check("FC01 read coils", not rr.isError() and rr.bits[:2] == [True, True], str(rr))
    rr = c.read_discrete_inputs(0, count=3, device_id=1)
    check("FC02 read discrete inputs", not rr.isError() and rr.bits[:3] == [True, True, True], str(rr))

    rr = c.write_register(0, 1500, device_id=1)
    check("FC06 write single register", not rr.isError() and rr.registers == [1500], str(rr))
    rr = c.read_holding_registers(0, count=1, device_id=1)
    check("set point reads back", rr.registers == [1500], str(rr))
    rr = c.write_registers(0, [1600], device_id=1)
    check("FC16 write multiple registers", not rr.isError() and rr.count == 1, str(rr))
    rr = c.readwrite_registers(read_address=0, read_count=1, write_address=0, values=[1630], device_id=1)
    check("FC23 read/write multiple registers (write first)", not rr.isError() and rr.registers == [1630], str(rr))
    rr = c.write_coils(1, [True], device_id=1)
    check("FC15 write multiple coils", not rr.isError() and rr.count == 1, str(rr))

    def total_others():
        s = 0
        for h in a.others:
            o = ModbusTcpClient(h, port=a.port, timeout=2, retries=0)
            o.connect()
            s += signed(o.read_input_registers(0, count=1, device_id=1).registers[0])
            o.close()
        return s / 10

    before = total_others()
    rr = c.write_coil(0, False, device_id=1)
    check("FC05 write single coil (open the unit breaker)", not rr.isError() and rr.bits[0] is False, str(rr))
    check("breaker reads open once it has moved",
          wait(lambda: c.read_discrete_inputs(0, count=1, device_id=1).bits[0] is False))
    rr = c.read_input_registers(0, count=1, device_id=1)
    check("the unit produces nothing", rr.registers[0] == 0, str(rr))
    if a.others:
        after = total_others()
        check("the grid shows it: the other units pick up", after - before > 150, f"{before} MW -> {after} MW")
    rr = c.write_coil(0, True, device_id=1)
    check("FC05 close the unit breaker", not rr.isError() and rr.bits[0] is True, str(rr))

    # Exceptions.
    rr = c.read_holding_registers(5, count=1, device_id=1)
    check("illegal data address (02)", isinstance(rr, ExceptionResponse) and rr.exception_code == 2, str(rr))
    rr = c.execute(False, UncheckedReadInputRegisters(dev_id=1, address=0, count=126))
    check("illegal data value (03): 126 registers", isinstance(rr, ExceptionResponse) and rr.exception_code == 3, str(rr))
    rr = c.write_coil(7, True, device_id=1)
    check("illegal data address (02) on write", isinstance(rr, ExceptionResponse) and rr.exception_code == 2, str(rr))
    rr = c.report_device_id(device_id=1)
    check("illegal function (01): FC17", isinstance(rr, ExceptionResponse) and rr.exception_code == 1, str(rr))
    rr = c.read_coils(0, count=1, device_id=7)
    check("unknown unit id: gateway target failed (0B)", isinstance(rr, ExceptionResponse) and rr.exception_code == 0x0B, str(rr))

    # Diagnostics (FC 08).
    rr = c.diag_query_data(b"\xa5\x37", device_id=1)
    check("FC08/00 return query data", not rr.isError() and rr.message == b"\xa5\x37", str(rr))
    rr = c.diag_clear_counters(device_id=1)
    check("FC08/0A clear counters", not rr.isError(), str(rr))
    rr = c.diag_read_bus_message_count(device_id=1)
    count = rr.message if isinstance(rr.message, int) else rr.message[0]
    check("FC08/0B bus message count after clearing: this request only", not rr.isError() and count == 1, str(rr.message))
    rr = c.diag_restart_communication(False, device_id=1)
    check("FC08/01 restart communications", not rr.isError(), str(rr))
    c.diag_force_listen_only(device_id=1, no_response_expected=True)
    time.sleep(0.2)
    try:
        rr = c.read_coils(0, count=1, device_id=1)
        silent = rr.isError() and not isinstance(rr, ExceptionResponse)
    except Exception:  # noqa: BLE001 - pymodbus raises on timeout
        silent = True
    check("FC08/04 listen-only: no answer", silent)
    c.close()
    c = ModbusTcpClient(a.host, port=a.port, timeout=2, retries=0)
    c.connect()
    c.diag_restart_communication(False, device_id=1, no_response_expected=True)
    time.sleep(0.2)
    rr = c.read_coils(0, count=1, device_id=1)
    check("restart communications leaves listen-only", not rr.isError(), str(rr))

    # Device identification (FC 43/14).
    rr = c.read_device_information(read_code=1, object_id=0, device_id=1)
    check(
        "FC43/14 basic identification",
        not rr.isError() and rr.information.get(0) == b"icsrange" and rr.information.get(1) == b"GEN-PLC"
        and rr.information.get(2) == b"1.0",
        str(getattr(rr, "information", rr)),
    )
    rr = c.read_device_information(read_code=2, object_id=0, device_id=1)
    check("FC43/14 regular identification", not rr.isError() and rr.information.get(4) == b"Generating unit PLC",
          str(getattr(rr, "information", rr)))
    rr = c.read_device_information(read_code=4, object_id=5, device_id=1)
    check("FC43/14 one object", not rr.isError() and rr.information == {5: b"GP-1"}, str(getattr(rr, "information", rr)))
    c.close()
    print("all Modbus checks passed")


if __name__ == "__main__":
    main()
