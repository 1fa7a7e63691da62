//! Exercises as code: one YAML file holds an exercise's grid, hosts, SCADA master, attack
//! campaign, injects, questions, scoring weights, scripted defenders and expectations.
//!
//! `load` reads the text and reports every problem at once, each with its line and column
//! (`Diagnostic`): unknown keys (with the closest known one), wrong types, missing keys,
//! duplicate ids, dangling references (a host, zone, step, account, station, IOA, substation
//! or question that does not exist) and impossible times. It is pure: the caller supplies the
//! grid's files through a `GridSource`.
//!
//! # Format (version 1)
//!
//! ```yaml
//! exercise: 1                       # format version
//! id: ukraine-2015
//! title: ...
//! summary: ...
//! sources: ["ICS-CERT IR-ALERT-H-16-056-01, 25 Feb 2016", ...]   # at least one
//! techniques: [{id: T0855, v19: T1692.001, name: Unauthorized Command Message}, ...]
//! grid: ukraine2015                 # a built-in grid, or a .m path next to the file
//! pipeline: {line: colonial, engineering: [ews], key: program}
//!                                   # the oil sector: a built-in pipeline (`catalogue::
//!                                   # PIPELINES`) with its devices (then `grid:
//!                                   # station-supply`, whose own devices stay off the
//!                                   # network); `engineering`: the safety controller's
//!                                   # engineering stations; `key`: its key switch at the
//!                                   # start (run | program | remote)
//! team_mode: isolated               # isolated | regional
//! duration: 60m
//! time_compression: 3               # 1 to 60: a live run plays 3x faster by default (figures stay
//!                                   # in real-world units: the simulation is real time)
//! crew_delay: 25m                   # a field crew's travel and manual operation
//! crews: 4                          # field crews (0, the default: as many as needed); one job
//!                                   # at a time, 2 min for a further job on the same site
//! clock: {start: "2015-12-23T15:26", zone: EET, utc_offset: "+02:00"}
//!                                   # the incident's local date and time at t = 0: every
//!                                   # page's scenario clock
//! briefing: >                       # what teams read before the start and at any time:
//!   You are the dispatch centre...  # situation, role, assets, actions, scoring
//! zones: [{id: it, name: Corporate IT}, ...]
//! hosts: [{id: scada, zone: control, addr: 200.10, name: SCADA server}, ...]   # addr: in the team's /16;
//!                                   # name: on the asset register (hosts of zone `internet`
//!                                   # are not the utility's: on no register)
//! accounts: [{id: operator7, host: vpn}]
//! scada: {host: scada, stations: all, interrogation: 15m}  # or stations: [1004, 1010]
//! allowlist: [scada]                # hosts allowed to operate devices (for detection)
//! devices: {sbo_required: [1004], local: ["1.7"]}   # on top of the default device plan
//! attack:                           # steps; see `Action` for each kind's keys
//!   - id: hijack
//!     name: HMI hijack
//!     technique: [T0855, T1692.001]
//!     at: 10m                       # or: after: vpn (and delay: 2m)
//!     jitter: 1m                    # drawn from the run's seed
//!     unless: [{account_disabled: operator7}, {blocked: attacker}]   # or {cleaned: HOST}
//!     hmi_hijack: {account: operator7, targets: {supply_of: all}, value: open, spread: 30m}
//!   # other kinds: it: {kind, host, account, from: HOST, artefact: "... {addr:HOST} ..."},
//!   # iec104_command, ioa_sweep, iec104_sequence: {from, station, interrogate, command:
//!   # single|double, select, ioas: [...], value}, siprotec_dos: {from, devices: [x.y]},
//!   # dnp3_operate, modbus_write, modbus_restart, firmware, ups_off, wipe: {host},
//!   # service_stop: {host, process, artefact}
//!   # pipelines: modbus_register: {from, device: "6.2", register: 8, value: 9000},
//!   # dnp3_valve: {from, device: "7.2", index: 0, value: close | open},
//!   # sis_program: {from} (read: FC 4 status, FC 20 program) | {from, disable: [TAG, ...]}
//!   # | {from, fault: true} (then written back with FC 21)
//!   # the steps' techniques and the header's `techniques` (id or v19) must match
//! injects: [{id, at, channel: email|phone|press|regulator|radio|chat, from, subject, body}]
//!                                  # or instead of at: after: STEP | on_alert: RULE |
//!                                  # customers_off_over: N, each with an optional delay
//! questions:
//!   - {id, text, points, answer: {exact: x} | {regex: x} | {number: 5, tolerance: 0.5, unit: kPa}
//!       | {choice: [a, b], correct: b} | {from_run: customers_off_peak, tolerance: 0.05}
//!         (figures: customers_off_peak, ens_mwh, breakers_opened, first_command_station,
//!         attacker_address, vpn_source, stations_commanded)
//!       | {host: scada} (that host's address in the team's block, never a literal),
//!      hints: [{text, cost}],
//!      evidence: "where in the evidence the answer is" (the after-action report's),
//!      requires: [step]}            # withdrawn with its points when a step did not happen
//!                                   # (and a from_run one when the run ends without its
//!                                   # figure); answers are judged on the figures as they
//!                                   # stood when given, read as typed (`answers`: case,
//!                                   # spaces, thousands separators, units converted to the
//!                                   # declared one, times of day in any spelling)
//! scoring: {service: 35, detection: 20, restoration: 20, questions: 10, reports: 15}
//! defenders: {good: [{on_alert: ids.rule.id, do: disable_account, account: operator7}, ...]}
//!                                   # do: operate, close_opened, dispatch_crew, block,
//!                                   # disable_account, clean, restore_firmware, ups_on,
//!                                   # local, reboot, ack_alarms, hint, answer, report;
//!                                   # pipelines: pump {pump, value: 0|1}, valve {valve,
//!                                   # value: 0|1} (through the SCADA host), sis_key {key},
//!                                   # sis_restore (at the cabinet);
//!                                   # answers and reports may say {addr:HOST}
//! expect: [{defender: none, customers_off_min: 150000, wire_steps_detected: true}, ...]
//!                                   # also customers_off_max, ens_min_mwh, ens_max_mwh,
//!                                   # restored_within, score_above: DEFENDER; pipelines:
//!                                   # overpressure, rupture, relief_lifted (true|false),
//!                                   # not_delivered_max_m3, released_max_m3
//! ```

pub mod answers;
pub mod catalogue;
mod grid;
mod load;
mod model;
pub mod yaml;

pub use grid::{
    BuildGridError, Bundle, BundleError, FileNameError, GridError, GridSource, MAX_FILE_BYTES, Resolved,
    build_grid, double_command_exists, file_name, grid_from, sidecar_name, supply_points,
};
pub use load::{hms, load, load_defender};
pub use model::*;
pub use yaml::{Diagnostic, Spanned};
