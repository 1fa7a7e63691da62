#!/usr/bin/env python3
"""IEC 60870-5-104 conformance of an icsrange substation RTU, checked with c104 (an
independent implementation, lib60870-based). Usage: iec104_conformance.py HOST CA

Against the RTU of case9's bus 4 (CA 4: branches 1 (1-4), 2 (4-5) and 3 (4-9), no unit):
connect and STARTDT, a station interrogation (also broadcast) returns every point, a
select + execute double command opens branch 2's breaker, which the next interrogation shows
and the grid shows too (power on branch 2 goes to zero), a close restores it, and a clock
synchronisation is confirmed. Exits 1 on the first failed check.
"""
import sys
import time

import c104


def check(name, ok, detail=""):
    print(("ok   " if ok else "FAIL ") + name + (f": {detail}" if detail else ""), flush=True)
    if not ok:
        sys.exit(1)


def wait(pred, seconds=5.0):
    end = time.time() + seconds
    while time.time() < end:
        if pred():
            return True
        time.sleep(0.05)
    return False


def main():
    host, ca = sys.argv[1], int(sys.argv[2])
    client = c104.Client()
    conn = client.add_connection(ip=host, port=2404, init=c104.Init.NONE)
    received = []

    def on_raw(connection: c104.Connection, data: bytes) -> None:  # c104 checks the annotations
        received.append(bytes(data))

    conn.on_receive_raw(callable=on_raw)
    st = conn.add_station(common_address=ca)
    energised = st.add_point(io_address=500, type=c104.Type.M_SP_NA_1)
    breakers = [st.add_point(io_address=1001 + k, type=c104.Type.M_DP_NA_1) for k in range(3)]
    protections = [st.add_point(io_address=1101 + k, type=c104.Type.M_SP_NA_1) for k in range(3)]
    kv = st.add_point(io_address=3000, type=c104.Type.M_ME_NC_1)
    hz = st.add_point(io_address=3001, type=c104.Type.M_ME_NC_1)
    flows = [st.add_point(io_address=3101 + k, type=c104.Type.M_ME_NC_1) for k in range(3)]
    command = st.add_point(io_address=2002, type=c104.Type.C_DC_NA_1)
    client.start()
    check("connect", wait(lambda: conn.is_connected))
    # c104 sends STARTDT act at connect; ask again only if it is still muted, and go on only
    # once the connection is OPEN (an interrogation while c104 still awaits a STARTDT con is
    # refused by c104 itself, before anything is sent).
    if not wait(lambda: conn.state == c104.ConnectionState.OPEN, 1.0):
        conn.unmute()
    check("STARTDT", wait(lambda: conn.state == c104.ConnectionState.OPEN and not conn.is_muted))

    # c104's own verdict on a command depends on its internal timing under load (it has
    # missed confirmations that were on the wire); the checks read the station's answer
    # from the raw frames as well.
    def confirmed(mark, type_id, count=1, ioa=None):
        """Positive ActCon (COT 7, P/N clear) of `type_id` from station `ca` since `mark`."""
        n = 0
        for d in received[mark:]:
            asdu = d[6:]
            if len(asdu) >= 9 and asdu[0] == type_id and asdu[2] == 7 and asdu[4:6] == ca.to_bytes(2, "little"):
                if ioa is None or asdu[6:9] == ioa.to_bytes(3, "little"):
                    n += 1
        return n >= count

    mark = len(received)
    ok = conn.interrogation(common_address=ca, cause=c104.Cot.ACTIVATION, qualifier=c104.Qoi.STATION)
    check("C_IC_NA_1 station interrogation confirmed", ok or wait(lambda: confirmed(mark, 100)))
    time.sleep(0.5)
    check("M_SP_NA_1 bus energised", energised.value is True, str(energised.value))
    states = [b.value for b in breakers]
    check("M_DP_NA_1 every breaker ON", all(s == c104.Double.ON for s in states), str(states))
    protection = [p.value for p in protections]
    check("M_SP_NA_1 every branch's protection in service", all(p is True for p in protection), str(protection))
    check("M_ME_NC_1 bus voltage ~ 1 p.u. of 345 kV", 300 < kv.value < 380, str(kv.value))
    check("M_ME_NC_1 frequency 50 Hz", abs(hz.value - 50.0) < 0.05, str(hz.value))
    before = flows[1].value
    check("branch 2 carries power", abs(before) > 10, f"{before} MW")

    mark = len(received)
    ok = conn.interrogation(common_address=0xFFFF, cause=c104.Cot.ACTIVATION, qualifier=c104.Qoi.STATION)
    check("broadcast interrogation answered with the station's CA", wait(lambda: confirmed(mark, 100)), f"c104 says {ok}")

    # Spontaneous M_DP_TB_1 (type 31, COT 3) for IOA 1002 with DIQ `state` (1 OFF, 2 ON):
    # c104 keeps it apart from the M_DP_NA_1 point, so look at what arrived.
    def spontaneous(state):
        for d in received:
            asdu = d[6:]
            if len(asdu) >= 10 and asdu[0] == 31 and asdu[2] & 0x3F == 3 and asdu[6:9] == bytes([0xEA, 3, 0]):
                if asdu[9] & 3 == state:
                    return True
        return False

    # Select, then execute (select-before-operate): c104 sends both and waits for each ActCon.
    command.command_mode = c104.CommandMode.SELECT_AND_EXECUTE
    mark = len(received)
    ok = select_execute(st, command, c104.Double.OFF)
    if not ok and not wait(lambda: confirmed(mark, 46, 2, 2002)) and confirmed(mark, 46, 1, 2002):
        # c104 sometimes gives up between the select's ActCon (on the wire) and its own
        # execute when starved of CPU (seen on a fresh CI machine): the station confirmed the
        # select; ask c104 once more. The check below still needs both ActCons.
        mark = len(received)
        ok = select_execute(st, command, c104.Double.OFF)
    check("select + execute C_DC_NA_1 OFF", ok or wait(lambda: confirmed(mark, 46, 2, 2002)))
    # The breaker opens after its operating time; its spontaneous report says when.
    check("spontaneous M_DP_TB_1 (COT 3): breaker OFF", wait(lambda: spontaneous(1)))
    ok = conn.interrogation(common_address=ca, cause=c104.Cot.ACTIVATION, qualifier=c104.Qoi.STATION)
    time.sleep(0.5)
    check("the next interrogation shows the breaker OFF", breakers[1].value == c104.Double.OFF, str(breakers[1].value))
    check("the grid shows it: no power on branch 2", abs(flows[1].value) < 0.01, f"{flows[1].value} MW")
    mark = len(received)
    ok = select_execute(st, command, c104.Double.ON)
    check("select + execute C_DC_NA_1 ON", ok or wait(lambda: confirmed(mark, 46, 2, 2002)))
    check("spontaneous M_DP_TB_1 (COT 3): breaker ON again", wait(lambda: spontaneous(2)))
    conn.interrogation(common_address=ca, cause=c104.Cot.ACTIVATION, qualifier=c104.Qoi.STATION)
    check("power back on branch 2", wait(lambda: abs(flows[1].value) > 10), f"{flows[1].value} MW")

    mark = len(received)
    ok = conn.clock_sync(common_address=ca)
    check("C_CS_NA_1 clock synchronisation confirmed", ok or wait(lambda: confirmed(mark, 103)))
    client.stop()
    print("all IEC 104 checks passed")


def select_execute(st, point, value):
    point.value = value
    return point.transmit(cause=c104.Cot.ACTIVATION)


if __name__ == "__main__":
    main()
