//! The score's JSON form (`score.json`, the instructors' view) and what trainees see of it.

use std::collections::BTreeMap;

use range::score::{Score, TraineeScore};
use serde::Serialize;

/// The score's JSON form (the instructors' view).
#[derive(Debug, Serialize)]
pub struct ScoreJson<'a> {
    total: f64,
    components: &'a BTreeMap<String, f64>,
    penalties: f64,
    ens_mwh: f64,
    customers_off_peak: u64,
    time_to_detect_s: &'a BTreeMap<String, Option<f64>>,
    detected_by: &'a BTreeMap<String, Vec<String>>,
    restored_at_s: Option<f64>,
    withdrawn: &'a [String],
    /// A pipeline exercise's physical outcome (absent for a grid).
    #[serde(skip_serializing_if = "Option::is_none")]
    line: Option<LineJson>,
}

#[derive(Debug, Serialize)]
struct LineJson {
    nominated_m3: f64,
    delivered_m3: f64,
    not_delivered_m3: f64,
    released_m3: f64,
    relieved_m3: f64,
    overpressure_events: u32,
    ruptures: u32,
    relief_lifts: u32,
    leak_alarms: u32,
    sis_trips: u32,
}

/// The score as pretty JSON (`score.json`).
pub fn score(s: &Score) -> String {
    // Numbers, strings and lists only: serialising cannot fail.
    serde_json::to_string_pretty(&view(s)).unwrap_or_default() + "\n"
}

/// The score's JSON form, to serialise.
pub fn view(s: &Score) -> ScoreJson<'_> {
    ScoreJson {
        total: s.total,
        components: &s.components,
        penalties: s.penalties,
        ens_mwh: s.ens_mwh,
        customers_off_peak: s.customers_off_peak,
        time_to_detect_s: &s.time_to_detect_s,
        detected_by: &s.detected_by,
        restored_at_s: s.restored_at_s,
        withdrawn: &s.withdrawn,
        line: s.line.as_ref().map(|l| LineJson {
            nominated_m3: l.nominated_m3,
            delivered_m3: l.delivered_m3,
            not_delivered_m3: l.not_delivered_m3,
            released_m3: l.released_m3,
            relieved_m3: l.relieved_m3,
            overpressure_events: l.overpressure_events,
            ruptures: l.ruptures,
            relief_lifts: l.relief_lifts,
            leak_alarms: l.leak_alarms,
            sis_trips: l.sis_trips,
        }),
    }
}

/// What trainees see of the score (`range::score::TraineeScore`): `reports` says who grades
/// them.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TraineeScoreJson {
    pub total: f64,
    pub components: BTreeMap<String, f64>,
    pub penalties: f64,
    pub ens_mwh: f64,
    pub customers_off_peak: u64,
    pub reports: &'static str,
}

pub fn trainee(s: &TraineeScore) -> TraineeScoreJson {
    TraineeScoreJson {
        total: s.total,
        components: s.components.clone(),
        penalties: s.penalties,
        ens_mwh: s.ens_mwh,
        customers_off_peak: s.customers_off_peak,
        reports: "graded by the instructors",
    }
}
