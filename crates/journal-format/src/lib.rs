//! The serialised forms of the range's journal, one place for all of them: entries and the
//! journal's JSON lines (`entry`), actors, actions and outcomes (`action`), a journal read back
//! for a replay (`inputs`), the score (`score`) and the trainees' evidence view (`evidence`).
//! The pure crates derive no `Serialize`; their JSON twins live here (rust-analyzer's
//! `to_proto`), and nothing else builds journal or evidence JSON by hand (a test greps).
//!
//! Pure: no I/O, no clock. The shells (netio, web, report, cli) write what it returns.
//!
//! `journal.jsonl` holds one object per line, `kind` first, `t` in simulated seconds. The
//! start entry carries `format` (`range::journal::FORMAT_VERSION`). Kinds and their fields:
//!
//! - `start`: `format`, `exercise`, `seed`, `defender`, `base`, `start_ms_since_2000` (the
//!   devices' clock at simulated time 0), `demand_mw`, `customers`.
//! - `grid`: `event` (open, close, shed, island_split, ...), `element` (`branch 12`, `gen 3`,
//!   `load 5`, `island 117`), `cause`, and `mw`, `customers` where they apply.
//! - `supply`: `served_mw`, `demand_mw`, `customers_off`, `ens_mwh`, and the frequency: `f_hz`
//!   (the main island's now, 0 in a blackout), `f_min_hz` and `f_max_hz` (its extremes since the
//!   last sample, energised parts; 0 when nothing was energised) (every minute).
//! - `attack`, `attack_prevented`, `it` (`event`, `host`, `account`, `src`: where the activity
//!   came from, `artefact`): the campaign (instructors' view only).
//! - `command`: `protocol`, `src`, `dst`, `station`, `operation` (typed: `{"op": "breaker",
//!   "ioa", "close", "select"}` ...), `detail` (the same, for people), `by` (operator,
//!   attacker, hijack, external), `step`, `outcome` (confirmed, refused, accepted,
//!   `exception 04`, `crob status 7`, sent, `swept 3`, no answer, blocked, unreachable,
//!   `no session`, `no device`), `frames` (first and last capture frame of the exchange).
//! - `hmi`: an operator's command in the HMI: `actor`, `station`, `ioa`, `close`.
//! - `device`: `device`, `addr`, `change`.
//! - `alert`: `rule`, `techniques`, `src`, `dst`, `evidence` (capture frames), `message`.
//! - `act` (an input, unless its actor is the scripted defender): `actor` (`{"kind": "user",
//!   "team", "user", "role"}`, `{"kind": "instructor", "name"}`, `{"kind": "defender",
//!   "name"}`), `action` (`{"do": "operate", "station", "ioa", "close"}`, `{"do": "block",
//!   "host"}`, `{"do": "fire_inject", "inject"}` ...), `outcome` (`{"result": "accepted"}`,
//!   `{"result": "refused", "reason"}`, `{"result": "hint", "text", "cost"}`, `{"result":
//!   "verdict", "correct"}`, `{"result": "command", "outcome"}`, `{"result": "reclose",
//!   "commanded", "crews"}`).
//! - `live` (an input): `event` `open` (`client`, `server`, and `conn`, the id given, or
//!   null when refused), `data` (`conn`, `hex`: the bytes), `close` (`conn`).
//! - `crew`, `inject`, `answer`, `hint`, `report`, `end`.

pub mod action;
pub mod entry;
pub mod error;
pub mod evidence;
pub mod inputs;
pub mod score;

pub use action::{ActionJson, ActorJson, OutcomeJson, action, action_from, actor, actor_from, outcome};
pub use entry::{entry, to_jsonl};
pub use error::Error;
pub use inputs::{Recorded, StartInfo, read_inputs};
pub use score::score;
