//! The safety system's engineering side: the program image, the key switch, bypasses, a
//! faulting download, and the pipeline file's diagnostics.

#![allow(clippy::unwrap_used)]

use pipesim::sim::{Command, CommandError, EventKind, PumpMode, SimOptions};
use pipesim::sis::{self, KeySwitch, SoeKind, TransmitterFault};
use pipesim::{Sim, SimTime, file};

fn colonial_text() -> String {
    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../pipelines/colonial.toml")).unwrap()
}

fn colonial() -> Sim {
    Sim::new(file::parse(&colonial_text()).unwrap(), SimOptions::default())
}

#[test]
fn crc32_is_zlibs() {
    // The check value of CRC-32/ISO-HDLC (zlib's crc32) for "123456789".
    assert_eq!(sis::crc32(b"123456789"), 0xCBF4_3926);
}

#[test]
fn key_positions_read_as_written_in_files() {
    assert_eq!("run".parse(), Ok(KeySwitch::Run));
    assert_eq!("program".parse(), Ok(KeySwitch::Program));
    assert_eq!("remote".parse(), Ok(KeySwitch::Remote));
    let err = "RUN".parse::<KeySwitch>().unwrap_err();
    assert_eq!(err.found, "RUN");
    assert_eq!(err.to_string(), "`key` is run, program or remote, not `RUN`");
}

#[test]
fn the_program_image_round_trips_byte_for_byte() {
    let sim = colonial();
    let s = sim.sis().unwrap();
    let image = s.image().to_vec();
    assert_eq!(image.len(), 8 + 40 * 6);
    assert_eq!(&image[0..4], b"SISP");
    // Hand-read the first record: tag, station joint 0, discharge, high, enabled, 53 bar.
    assert_eq!(&image[8..16], b"PAHH-101");
    assert_eq!(&image[24..28], &[0, 0, 1, 1]);
    assert_eq!(image[28], 1);
    assert_eq!(f64::from_be_bytes(image[32..40].try_into().unwrap()), 53e5);
    let p = sim.pipeline();
    let stations: Vec<usize> = (0..p.joints.len()).filter(|&j| !p.joints[j].pumps.is_empty()).collect();
    let esd: Vec<bool> = p.valves.iter().map(|v| v.esd).collect();
    let decoded = sis::decode(&image, &stations, &esd, 100e5).unwrap();
    assert_eq!(decoded, s.functions());
    assert_eq!(sis::encode(&decoded), image);
    assert_eq!(s.checksum(), s.commissioned_checksum());
    // One image per program: bytes after a tag's NUL are refused (found by the fuzzer).
    let mut padded = image.clone();
    padded[8 + 10] = 0xFC;
    assert!(sis::decode(&padded, &stations, &esd, 100e5).is_err());
}

#[test]
fn downloads_need_the_key_at_program() {
    let mut sim = colonial();
    let image = sim.sis().unwrap().image().to_vec();
    for key in [KeySwitch::Run, KeySwitch::Remote] {
        sim.apply(&Command::SisKey(key)).unwrap();
        let err = sim.apply(&Command::SisDownload(image.clone())).unwrap_err();
        assert!(matches!(err, CommandError::Sis(sis::Refusal::Key(_))), "{err}");
    }
    // REMOTE allows a bypass over the network; RUN does not.
    sim.apply(&Command::SisKey(KeySwitch::Run)).unwrap();
    assert!(sim.apply(&Command::SisBypass { function: 0, on: true, local: false }).is_err());
    sim.apply(&Command::SisKey(KeySwitch::Remote)).unwrap();
    sim.apply(&Command::SisBypass { function: 0, on: true, local: false }).unwrap();
    sim.apply(&Command::SisKey(KeySwitch::Program)).unwrap();
    sim.apply(&Command::SisDownload(image)).unwrap();
    let soe = sim.take_soe();
    assert!(
        soe.iter()
            .any(|e| matches!(e.kind, SoeKind::Key { from: KeySwitch::Remote, to: KeySwitch::Program }))
    );
    assert!(soe.iter().any(
        |e| matches!(e.kind, SoeKind::Download { old_checksum, new_checksum } if old_checksum == new_checksum)
    ));
}

/// The two outcomes of a modified safety program: a program the controller cannot run trips
/// the whole line safe; a valid one that disables a trip leaves the station unprotected.
#[test]
fn a_bad_program_trips_the_line_and_a_disabled_trip_does_not() {
    let mut sim = colonial();
    sim.step(SimTime::from_secs(5.0));
    sim.apply(&Command::SisKey(KeySwitch::Program)).unwrap();
    let mut bad = sim.sis().unwrap().image().to_vec();
    bad[26] = 7; // an invalid measure in the first function
    sim.apply(&Command::SisDownload(bad.clone())).unwrap();
    assert_ne!(sim.sis().unwrap().checksum(), sim.sis().unwrap().commissioned_checksum());
    sim.step(SimTime::from_secs(60.0));
    assert!(sim.sis().unwrap().faulted().is_some());
    assert!((0..3).all(|k| sim.pump(k).mode != PumpMode::Running), "every station tripped");
    assert!(sim.take_soe().iter().any(|e| matches!(e.kind, SoeKind::Fault { .. })));

    let mut sim = colonial();
    sim.step(SimTime::from_secs(5.0));
    sim.apply(&Command::SisKey(KeySwitch::Program)).unwrap();
    let mut functions = sim.sis().unwrap().functions().to_vec();
    let f = functions.iter().position(|f| f.tag == "PAHH-201").unwrap();
    functions[f].enabled = false;
    sim.apply(&Command::SisDownload(sis::encode(&functions))).unwrap();
    assert!(sim.sis().unwrap().faulted().is_none());
    let tx: Vec<usize> = (0..3)
        .map(|i| {
            sim.sis()
                .unwrap()
                .transmitters()
                .iter()
                .position(|t| t.tag == format!("PT-PS2-D-{}", ["A", "B", "C"][i]))
                .unwrap()
        })
        .collect();
    for &t in &tx {
        sim.apply(&Command::TransmitterFault { transmitter: t, fault: Some(TransmitterFault::FailedHigh) })
            .unwrap();
    }
    sim.step(SimTime::from_secs(30.0));
    assert!(!sim.sis().unwrap().tripped(f), "a disabled function never trips");
    assert_eq!(sim.pump(1).mode, PumpMode::Running);
}

#[test]
fn a_bypassed_function_logs_its_demand_and_does_not_trip() {
    let mut sim = colonial();
    let s = sim.sis().unwrap();
    let f = s.functions().iter().position(|f| f.tag == "PAHH-101").unwrap();
    let tx: Vec<usize> = s
        .transmitters()
        .iter()
        .enumerate()
        .filter(|(_, t)| t.tag.starts_with("PT-PS1-D-"))
        .map(|(i, _)| i)
        .collect();
    sim.apply(&Command::SisBypass { function: f, on: true, local: true }).unwrap();
    for &t in &tx[..2] {
        sim.apply(&Command::TransmitterFault { transmitter: t, fault: Some(TransmitterFault::Stuck(60e5)) })
            .unwrap();
    }
    sim.step(SimTime::from_secs(10.0));
    assert!(!sim.sis().unwrap().tripped(f));
    let soe = sim.take_soe();
    assert_eq!(soe.iter().filter(|e| matches!(e.kind, SoeKind::DemandBypassed { .. })).count(), 1, "{soe:?}");
    sim.apply(&Command::SisBypass { function: f, on: false, local: true }).unwrap();
    sim.step(SimTime::from_secs(12.0));
    assert!(sim.sis().unwrap().tripped(f));
    assert!(
        sim.take_events().iter().any(|e| matches!(e.kind, EventKind::PumpTripped { pump: 0, by_sis: true }))
    );
}

#[test]
fn file_errors_name_line_and_column_and_all_of_them() {
    let text = colonial_text()
        .replacen("maop_bar = 55", "maop_bar = -1", 1)
        .replacen("at = \"L07\"", "at = \"L99\"", 1)
        .replacen("close = [\"XV-101\"]", "close = [\"PCV-401\"]", 1);
    let errs = file::parse(&text).unwrap_err();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(errs.0.len(), 3, "{errs}");
    for (e, needle) in errs.0.iter().zip(["maop_bar = -1", "at = \"L99\"", "close = [\"PCV-401\"]"]) {
        assert!(
            lines[e.line - 1].contains(needle),
            "line {} is {:?}, expected {needle}",
            e.line,
            lines[e.line - 1]
        );
    }
    let errs = file::parse("format = 1\nname = 3\n").unwrap_err();
    assert_eq!((errs.0[0].line, errs.0[0].col), (2, 8), "{errs}");
}
