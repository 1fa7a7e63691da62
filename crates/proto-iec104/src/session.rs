//! The controlled station's side of an IEC 60870-5-104 connection (IEC 60870-5-104 §5):
//! STARTDT/STOPDT/TESTFR, sequence numbers, the k and w windows and the t1/t2/t3 timers.
//! Time comes from the caller (`SimTime`, microseconds); nothing here reads a clock.
//!
//! A repeated STARTDT act is confirmed again, not treated as an error (c104 sends two), and
//! an I-frame received before STARTDT is an error only when it carries a wrong sequence.

use std::collections::VecDeque;

use simcore::SimTime;

use crate::apci::{Control, Frame, UFunction};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Params {
    /// Unacknowledged I-frames we may have outstanding.
    pub k: u16,
    /// Received I-frames after which we acknowledge.
    pub w: u16,
    pub t1: SimTime,
    pub t2: SimTime,
    pub t3: SimTime,
}

impl Default for Params {
    fn default() -> Self {
        Params { k: 12, w: 8, t1: SimTime(15_000_000), t2: SimTime(10_000_000), t3: SimTime(20_000_000) }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SessionError {
    #[error("I-frame N(S) = {got}, expected {expected}")]
    SendSequence { expected: u16, got: u16 },
    #[error("N(R) = {got} acknowledges frames never sent (sent up to {sent})")]
    RecvSequence { sent: u16, got: u16 },
    #[error("t1 expired: no acknowledgement of frame {0}")]
    AckTimeout(u16),
    #[error("t1 expired: no TESTFR con")]
    TestTimeout,
}

const MOD: u16 = 0x8000;

fn seq_diff(a: u16, b: u16) -> u16 {
    a.wrapping_sub(b) % MOD
}

#[derive(Debug, Clone)]
pub struct Session {
    params: Params,
    started: bool,
    /// Next N(S) to send, next N(R) expected.
    vs: u16,
    vr: u16,
    /// Sent I-frames not yet acknowledged: (N(S), when).
    unacked: VecDeque<(u16, SimTime)>,
    /// Received I-frames we have not acknowledged, and when the first arrived.
    recv_unacked: u16,
    recv_since: Option<SimTime>,
    last_rx: SimTime,
    test_sent: Option<SimTime>,
    /// STOPDT act received while our I-frames were unacknowledged: the con waits (§5.3).
    stop_pending: bool,
}

impl Session {
    pub fn new(now: SimTime, params: Params) -> Session {
        Session {
            params,
            started: false,
            vs: 0,
            vr: 0,
            unacked: VecDeque::new(),
            recv_unacked: 0,
            recv_since: None,
            last_rx: now,
            test_sent: None,
            stop_pending: false,
        }
    }

    pub fn started(&self) -> bool {
        self.started
    }

    /// Whether an I-frame may go out now (data transfer started, window not full).
    pub fn can_send(&self) -> bool {
        self.started && !self.stop_pending && (self.unacked.len() as u16) < self.params.k
    }

    /// Wraps an ASDU in the next I-frame. Call only when `can_send`.
    pub fn send(&mut self, now: SimTime, asdu: Vec<u8>, out: &mut Vec<Frame>) {
        out.push(Frame::i(self.vs, self.vr, asdu));
        self.unacked.push_back((self.vs, now));
        self.vs = (self.vs + 1) % MOD;
        // An I-frame acknowledges what we received.
        self.recv_unacked = 0;
        self.recv_since = None;
    }

    /// Handles a received frame; returns its ASDU when it is an I-frame in order.
    pub fn receive(
        &mut self,
        now: SimTime,
        frame: &Frame,
        out: &mut Vec<Frame>,
    ) -> Result<Option<Vec<u8>>, SessionError> {
        self.last_rx = now;
        self.test_sent = None;
        match frame.control {
            Control::U(UFunction::StartDtAct) => {
                self.started = true;
                self.stop_pending = false;
                out.push(Frame::u(UFunction::StartDtCon));
                Ok(None)
            }
            Control::U(UFunction::StopDtAct) => {
                // Acknowledge what we received before confirming (§5.3).
                if self.recv_unacked > 0 {
                    out.push(Frame::s(self.vr));
                    self.recv_unacked = 0;
                    self.recv_since = None;
                }
                if self.unacked.is_empty() {
                    self.started = false;
                    out.push(Frame::u(UFunction::StopDtCon));
                } else {
                    self.stop_pending = true;
                }
                Ok(None)
            }
            Control::U(UFunction::TestFrAct) => {
                out.push(Frame::u(UFunction::TestFrCon));
                Ok(None)
            }
            Control::U(_) => Ok(None),
            Control::S { recv } => {
                self.acknowledge(recv)?;
                self.finish_stop(out);
                Ok(None)
            }
            Control::I { send, recv } => {
                if send != self.vr {
                    return Err(SessionError::SendSequence { expected: self.vr, got: send });
                }
                self.acknowledge(recv)?;
                self.finish_stop(out);
                self.vr = (self.vr + 1) % MOD;
                self.recv_unacked += 1;
                self.recv_since.get_or_insert(now);
                if self.recv_unacked >= self.params.w {
                    out.push(Frame::s(self.vr));
                    self.recv_unacked = 0;
                    self.recv_since = None;
                }
                Ok(Some(frame.asdu.clone()))
            }
        }
    }

    /// Sends the deferred STOPDT con once everything sent is acknowledged.
    fn finish_stop(&mut self, out: &mut Vec<Frame>) {
        if self.stop_pending && self.unacked.is_empty() {
            self.stop_pending = false;
            self.started = false;
            out.push(Frame::u(UFunction::StopDtCon));
        }
    }

    fn acknowledge(&mut self, recv: u16) -> Result<(), SessionError> {
        // recv must lie between the oldest unacknowledged N(S) and V(S).
        let oldest = self.unacked.front().map_or(self.vs, |(s, _)| *s);
        if seq_diff(recv, oldest) > seq_diff(self.vs, oldest) {
            return Err(SessionError::RecvSequence { sent: self.vs, got: recv });
        }
        while let Some(&(s, _)) = self.unacked.front() {
            if seq_diff(recv, s) >= 1 && seq_diff(recv, s) <= seq_diff(self.vs, s) {
                self.unacked.pop_front();
            } else {
                break;
            }
        }
        Ok(())
    }

    /// Runs the timers: t2 sends a pending acknowledgement, t3 a TESTFR act, t1 fails.
    pub fn poll(&mut self, now: SimTime, out: &mut Vec<Frame>) -> Result<(), SessionError> {
        if let Some(&(s, at)) = self.unacked.front()
            && now.saturating_sub(at) >= self.params.t1
        {
            return Err(SessionError::AckTimeout(s));
        }
        if let Some(at) = self.test_sent
            && now.saturating_sub(at) >= self.params.t1
        {
            return Err(SessionError::TestTimeout);
        }
        if let Some(since) = self.recv_since
            && now.saturating_sub(since) >= self.params.t2
        {
            out.push(Frame::s(self.vr));
            self.recv_unacked = 0;
            self.recv_since = None;
        }
        if self.test_sent.is_none() && now.saturating_sub(self.last_rx) >= self.params.t3 {
            out.push(Frame::u(UFunction::TestFrAct));
            self.test_sent = Some(now);
        }
        Ok(())
    }

    /// When `poll` next has something to do.
    pub fn poll_at(&self) -> SimTime {
        let mut at = self.last_rx + self.params.t3;
        if let Some(&(_, t)) = self.unacked.front() {
            at = at.min(t + self.params.t1);
        }
        if let Some(t) = self.test_sent {
            at = at.min(t + self.params.t1);
        }
        if let Some(t) = self.recv_since {
            at = at.min(t + self.params.t2);
        }
        at
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn startdt_twice_and_windows() {
        let mut s = Session::new(SimTime(0), Params::default());
        let mut out = Vec::new();
        s.receive(SimTime(0), &Frame::u(UFunction::StartDtAct), &mut out).unwrap();
        s.receive(SimTime(1), &Frame::u(UFunction::StartDtAct), &mut out).unwrap();
        assert_eq!(out, [Frame::u(UFunction::StartDtCon), Frame::u(UFunction::StartDtCon)]);
        out.clear();
        // k = 12 frames, then the window is full until acknowledged.
        for _ in 0..12 {
            assert!(s.can_send());
            s.send(SimTime(2), vec![1], &mut out);
        }
        assert!(!s.can_send());
        s.receive(SimTime(3), &Frame::s(5), &mut out).unwrap();
        assert!(s.can_send());
        assert_eq!(
            s.receive(SimTime(3), &Frame::s(13), &mut out),
            Err(SessionError::RecvSequence { sent: 12, got: 13 })
        );
        // w = 8 I-frames in: an S-frame out.
        out.clear();
        for i in 0..8 {
            s.receive(SimTime(4), &Frame::i(i, 12, vec![1]), &mut out).unwrap();
        }
        assert_eq!(out, [Frame::s(8)]);
        assert_eq!(
            s.receive(SimTime(5), &Frame::i(9, 12, vec![1]), &mut out),
            Err(SessionError::SendSequence { expected: 8, got: 9 })
        );
    }

    #[test]
    fn stopdt_waits_for_acknowledgement() {
        let mut s = Session::new(SimTime(0), Params::default());
        let mut out = Vec::new();
        s.receive(SimTime(0), &Frame::u(UFunction::StartDtAct), &mut out).unwrap();
        s.send(SimTime(1), vec![1], &mut out);
        out.clear();
        s.receive(SimTime(2), &Frame::u(UFunction::StopDtAct), &mut out).unwrap();
        assert!(out.is_empty(), "no con while frame 0 is unacknowledged");
        assert!(!s.can_send());
        s.receive(SimTime(3), &Frame::s(1), &mut out).unwrap();
        assert_eq!(out, [Frame::u(UFunction::StopDtCon)]);
        assert!(!s.started());
    }

    #[test]
    fn timers() {
        let p = Params::default();
        let mut s = Session::new(SimTime(0), p);
        let mut out = Vec::new();
        s.receive(SimTime(0), &Frame::u(UFunction::StartDtAct), &mut out).unwrap();
        s.receive(SimTime(10), &Frame::i(0, 0, vec![1]), &mut out).unwrap();
        out.clear();
        s.poll(SimTime(10) + p.t2, &mut out).unwrap();
        assert_eq!(out, [Frame::s(1)], "t2 acknowledges");
        out.clear();
        s.poll(SimTime(10) + p.t3, &mut out).unwrap();
        assert_eq!(out, [Frame::u(UFunction::TestFrAct)], "t3 tests the link");
        assert_eq!(s.poll(SimTime(10) + p.t3 + p.t1, &mut out), Err(SessionError::TestTimeout));
    }
}
