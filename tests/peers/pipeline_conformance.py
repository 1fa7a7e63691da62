#!/usr/bin/env python3
"""Conformance of icsrange's pipeline devices, checked with independent implementations:
pymodbus against a pump station PLC and the safety controller (Modbus/TCP, FC 20/21 for the
program), opendnp3 (dnp3-python) against a line RTU (DNP3). Usage:
pipeline_conformance.py STATION_HOST SIS_HOST RTU_HOST RTU_ADDRESS

The run is the built-in Colonial-style line with the safety controller's key at RUN: the
station PLC reads pressures and flow in its engineering ranges, takes a speed set point; the
safety controller reads its key (RUN), its program through FC 20 (whose CRC-32 is the one it
reports), and refuses a program download and a bypass (exception 01) at RUN; the line RTU
answers an integrity poll with its valve and pressure points and closes its valve on a CROB.
Exits 1 on the first failed check.
"""
import faulthandler
import sys
import time
import zlib

from pymodbus.client import ModbusTcpClient
from pymodbus.pdu.file_message import FileRecord


def check(name, ok, detail=""):
    print(("ok   " if ok else "FAIL ") + name + (f": {detail}" if detail else ""), file=sys.stderr, flush=True)
    if not ok:
        sys.exit(1)


def wait(pred, seconds=5.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(0.05)
    return False


def station(host):
    c = ModbusTcpClient(host, port=502, timeout=2, retries=0)
    check("station PLC: connect", c.connect())
    rr = c.read_input_registers(0, count=5, device_id=1)
    check("FC04 pressures, flow and the pump's speed", not rr.isError() and len(rr.registers) == 5, str(rr))
    suction, discharge, outlet, flow, rpm = rr.registers
    check("suction below discharge, discharge below the 5500 kPa MAOP", 0 <= suction < discharge < 5500, str(rr.registers))
    check("flow near the 3000 m3/h nomination", 2500 <= flow <= 3500, f"{flow} m3/h")
    check("the pump turns at its set speed", 1800 <= rpm <= 3700, f"{rpm} rpm")
    rr = c.read_holding_registers(0, count=1, device_id=1)
    check("FC03 speed set point", not rr.isError() and 1800 <= rr.registers[0] <= 3700, str(rr))
    rr = c.read_holding_registers(8, count=1, device_id=1)
    check("FC03 discharge limit below the MAOP", not rr.isError() and rr.registers[0] <= 5500, str(rr))
    rr = c.write_register(0, 3400, device_id=1)
    check("FC06 a new speed set point", not rr.isError() and rr.registers == [3400], str(rr))
    check("the drive ramps towards it", wait(lambda: abs(c.read_input_registers(4, count=1, device_id=1).registers[0] - 3400) < 50, 15))
    rr = c.read_discrete_inputs(0, count=1, device_id=1)
    check("FC02 pump turning", not rr.isError() and rr.bits[0] is True, str(rr))
    rr = c.read_discrete_inputs(24, count=1, device_id=1)
    check("FC02 the safety system permits the station", not rr.isError() and rr.bits[0] is True, str(rr))
    rr = c.read_input_registers(40, count=1, device_id=1)
    check("an address the PLC lacks: exception 02", rr.isError() and rr.exception_code == 2, str(rr))
    c.close()


def sis(host):
    c = ModbusTcpClient(host, port=502, timeout=2, retries=0)
    check("safety controller: connect", c.connect())
    rr = c.read_input_registers(0, count=7, device_id=1)
    check("FC04 status", not rr.isError() and len(rr.registers) == 7, str(rr))
    key, faulted, crc_hi, crc_lo, com_hi, com_lo, functions = rr.registers
    check("key switch at RUN, not faulted", key == 1 and faulted == 0, str(rr.registers))
    check("the loaded program is the commissioned one", (crc_hi, crc_lo) == (com_hi, com_lo), str(rr.registers))
    length = 8 + 40 * functions
    words = (length + 1) // 2
    data = b""
    record = 0
    while record < words:
        n = min(100, words - record)
        # pymodbus takes the length in bytes and sends it in registers.
        rr = c.read_file_record([FileRecord(file_number=1, record_number=record, record_length=2 * n)], device_id=1)
        ok = not rr.isError() and len(rr.records) == 1 and len(rr.records[0].record_data) == 2 * n
        check(f"FC20 read file 1 records {record}..{record + n - 1}", ok, str(rr))
        data += rr.records[0].record_data
        record += n
    image = data[:length]
    check("the program image starts with its magic", image[:4] == b"SISP", image[:8].hex())
    crc = zlib.crc32(image)
    check("its CRC-32 is what the controller reports", crc == (crc_hi << 16 | crc_lo), f"{crc:08x}")
    rr = c.write_file_record([FileRecord(file_number=1, record_number=0, record_data=image[:200])], device_id=1)
    check("FC21 program download refused at RUN: exception 01", rr.isError() and rr.exception_code == 1, str(rr))
    rr = c.write_coil(0, True, device_id=1)
    check("FC05 bypass refused at RUN: exception 01", rr.isError() and rr.exception_code == 1, str(rr))
    rr = c.read_file_record([FileRecord(file_number=2, record_number=0, record_length=2)], device_id=1)
    check("FC20 a file the controller lacks: exception 02", rr.isError() and rr.exception_code == 2, str(rr))
    rr = c.read_discrete_inputs(0, count=6, device_id=1)
    check("FC02 no function tripped", not rr.isError() and rr.bits[:6] == [False] * 6, str(rr))
    c.close()


def rtu(host, address):
    from pydnp3 import opendnp3
    from dnp3_python.dnp3station.master import MyMaster

    def values(master, group, variation):
        db = master.get_db_by_group_variation(group, variation)
        return next(iter(db.values()), {}) if db else {}

    m = MyMaster(outstation_ip=host, port=20000, master_id=2, outstation_id=address, stale_if_longer_than=0.2)
    m.start()
    time.sleep(1.5)
    m.master.ScanClasses(opendnp3.ClassField().AllClasses(), opendnp3.TaskConfig().Default())
    time.sleep(1.0)
    bi = values(m, 1, 2)
    check("line RTU: connect, startup and integrity poll", bool(bi), str(bi))
    check("g1v2 block valve open, not closed", bi.get(0) is True and bi.get(1) is False, str(bi))
    ai = values(m, 30, 1)
    check("g30v1 pressures, flow and travel", len(ai) == 4 and ai.get(3) == 1000 and ai.get(0, 0) > 0, str(ai))
    # dnp3-python 0.3.0b1 aborts in pybind11 when it hands a command's result to Python
    # (after the exchange itself): a child process operates, as in dnp3_conformance.py.
    import subprocess
    child = subprocess.run([sys.executable, __file__, "--operate", host, str(address)], capture_output=True, timeout=30)
    print(f"     (operating child exited with {child.returncode})", file=sys.stderr, flush=True)
    time.sleep(2.0)
    m.master.ScanClasses(opendnp3.ClassField().AllClasses(), opendnp3.TaskConfig().Default())
    time.sleep(1.0)
    ai = values(m, 30, 1)
    check("the valve starts closing after the CROB", ai.get(3, 1000) < 1000, str(ai))
    m.shutdown()


def operate(host, address):
    from pydnp3 import opendnp3
    from dnp3_python.dnp3station.master import MyMaster
    from dnp3_python.dnp3station.station_utils import command_callback

    m = MyMaster(outstation_ip=host, port=20000, master_id=3, outstation_id=address)
    m.start()
    time.sleep(1.5)
    crob = opendnp3.ControlRelayOutputBlock(opendnp3.ControlCode.LATCH_OFF)
    m.send_select_and_operate_command(crob, 0, callback=command_callback)
    time.sleep(2.0)
    m.shutdown()


def main():
    faulthandler.dump_traceback_later(60, exit=True)
    if sys.argv[1] == "--operate":
        operate(sys.argv[2], int(sys.argv[3]))
        return
    station_host, sis_host, rtu_host, rtu_address = sys.argv[1:5]
    station(station_host)
    sis(sis_host)
    rtu(rtu_host, int(rtu_address))
    print("all pipeline checks passed", file=sys.stderr, flush=True)


if __name__ == "__main__":
    main()
