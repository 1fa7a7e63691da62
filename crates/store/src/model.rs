//! What the store keeps, as types: the rows, and the closed sets of words some columns hold
//! (a run's status, a staff role, a team role, an organisation's kind). Each word is stored as
//! the same text it always was (`as_str`), and read back with `FromStr`: a word the code does
//! not know is an `UnknownValue`, never a panic.

use std::fmt;
use std::str::FromStr;

/// A stored or given word that is none of its type's values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownValue {
    /// What was expected (`run status`, `staff role`...).
    pub what: &'static str,
    /// The values that are known.
    pub expected: &'static [&'static str],
    /// What was found.
    pub value: String,
}

impl fmt::Display for UnknownValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "`{}` is not a {} ({})", self.value, self.what, self.expected.join(", "))
    }
}

impl std::error::Error for UnknownValue {}

/// An enum of words: `as_str`, `FromStr` (an `UnknownValue` error), `Display`, and `ALL`.
macro_rules! words {
    (
        $(#[$meta:meta])*
        pub enum $name:ident ($what:literal) {
            $($(#[$vmeta:meta])* $variant:ident = $text:literal,)+
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vmeta])* $variant,)+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
            const TEXTS: &'static [&'static str] = &[$($text),+];

            /// The word, as stored and as the API shows it.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)+
                }
            }
        }

        impl FromStr for $name {
            type Err = UnknownValue;

            fn from_str(s: &str) -> Result<$name, UnknownValue> {
                match s {
                    $($text => Ok($name::$variant),)+
                    _ => Err(UnknownValue { what: $what, expected: $name::TEXTS, value: s.to_string() }),
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

words! {
    /// Where a run is in its life.
    pub enum RunStatus ("run status") {
        /// Created, not started: teams and accounts may be added.
        Draft = "draft",
        Running = "running",
        Paused = "paused",
        /// Every team's range has ended (its address blocks are free again).
        Ended = "ended",
    }
}

words! {
    /// A staff member's part in a run.
    pub enum StaffRole ("staff role") {
        /// Controls the run and grades.
        Instructor = "instructor",
        /// Watches every team, changes nothing.
        Observer = "observer",
    }
}

words! {
    /// Anyone's part in a run: staff, or a trainee (a member of a team).
    pub enum RunRole ("role in a run") {
        Trainee = "trainee",
        Observer = "observer",
        Instructor = "instructor",
    }
}

impl RunRole {
    /// The staff role this part is, if it is one (a trainee is not staff).
    pub fn staff(self) -> Option<StaffRole> {
        match self {
            RunRole::Trainee => None,
            RunRole::Observer => Some(StaffRole::Observer),
            RunRole::Instructor => Some(StaffRole::Instructor),
        }
    }
}

impl From<StaffRole> for RunRole {
    fn from(r: StaffRole) -> RunRole {
        match r {
            StaffRole::Instructor => RunRole::Instructor,
            StaffRole::Observer => RunRole::Observer,
        }
    }
}

words! {
    /// A team member's role: the same words as `range::journal::Role` (the store depends on no
    /// simulation crate, so it keeps its own).
    pub enum TeamRole ("team role") {
        /// Operates the grid.
        Operator = "operator",
        /// Security.
        Analyst = "analyst",
        /// Everything a team may do.
        Lead = "lead",
    }
}

words! {
    /// What an organisation is to the course.
    pub enum OrgKind ("organisation kind") {
        /// A co-host of the course.
        Host = "host",
        Participant = "participant",
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Org {
    pub id: String,
    pub name: String,
    pub country: String,
    pub kind: OrgKind,
}

#[derive(Debug, Clone, PartialEq)]
pub struct User {
    pub id: String,
    pub name: String,
    pub org: Option<String>,
    pub hash: String,
    /// Platform administrator.
    pub admin: bool,
    /// Course staff: may create runs (and becomes their instructor).
    pub staff: bool,
    pub disabled: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Run {
    pub id: String,
    pub name: String,
    /// The exercise's name (built-in) or the uploaded file's name.
    pub exercise: String,
    pub exercise_text: String,
    /// Uploaded grid files: a JSON object of name → text (empty for built-in grids).
    pub files: String,
    pub seed: i64,
    pub speed: f64,
    pub status: RunStatus,
    /// The devices' clock at simulated time 0 (ms since 2000-01-01 UTC); fixed at creation so
    /// a replay gives the same time tags.
    pub start_ms: i64,
    pub created_by: String,
    /// The range's rules the run was made under (`Run::RULES` for a new run; 1: before hosts
    /// could be named by address), so a run replays under the rules it was recorded with.
    pub rules: i64,
}

impl Run {
    /// The rules of a run made now: 2, hosts named by address.
    pub const RULES: i64 = 2;
}

#[derive(Debug, Clone, PartialEq)]
pub struct Team {
    pub id: String,
    pub run: String,
    pub name: String,
    /// The team's address block, `127.N.0.0`.
    pub base: String,
}

/// An address block held by a team.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Block {
    pub base: String,
    pub team: String,
    pub team_name: String,
    pub run: String,
    pub run_name: String,
    pub status: RunStatus,
}

/// One journal line kept: the start entry (seq 0) or an input.
#[derive(Debug, Clone, PartialEq)]
pub struct InputLine {
    pub seq: i64,
    pub t_us: i64,
    pub line: String,
}

/// A one-time invitation to a run.
#[derive(Debug, Clone, PartialEq)]
pub struct Invite {
    pub run: String,
    pub role: RunRole,
    /// The team, for a trainee.
    pub team: Option<String>,
    /// The role in the team (kept for staff invitations too, unused there).
    pub team_role: TeamRole,
    pub expires: i64,
}

/// An instructor's broadcast to a run.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    pub seq: i64,
    pub author: String,
    pub body: String,
    pub created: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    pub id: String,
    pub team: String,
    pub user_id: String,
    pub body: String,
    pub grade: Option<f64>,
    pub created: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip<T: FromStr<Err = UnknownValue> + Copy + PartialEq + fmt::Debug>(
        all: &[T],
        text: fn(T) -> &'static str,
    ) {
        for &v in all {
            assert_eq!(text(v).parse::<T>(), Ok(v));
        }
    }

    #[test]
    fn words_round_trip_and_unknown_words_are_errors() {
        round_trip(RunStatus::ALL, RunStatus::as_str);
        round_trip(StaffRole::ALL, StaffRole::as_str);
        round_trip(RunRole::ALL, RunRole::as_str);
        round_trip(TeamRole::ALL, TeamRole::as_str);
        round_trip(OrgKind::ALL, OrgKind::as_str);
        let e = "Ended".parse::<RunStatus>().unwrap_err();
        assert_eq!(e.to_string(), "`Ended` is not a run status (draft, running, paused, ended)");
        assert_eq!(RunRole::from(StaffRole::Observer).staff(), Some(StaffRole::Observer));
        assert_eq!(RunRole::Trainee.staff(), None);
    }
}
