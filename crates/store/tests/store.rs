//! The store against a real SQLite file and a real PostgreSQL server (127.0.0.1:5432, or
//! `ICSRANGE_TEST_POSTGRES`): the same calls, the same answers. PostgreSQL missing is a
//! failure under `ICSRANGE_REQUIRE_PEERS` (`scripts/test`, CI); otherwise the test says it
//! skipped.
#![allow(clippy::unwrap_used)] // Tests: a panic is the failure report.

use store::{
    InputLine, Invite, Org, OrgKind, Run, RunRole, RunStatus, StaffRole, Store, Team, TeamRole, User,
};

/// A fresh PostgreSQL database for one test; dropped by the next run of the same name. None
/// when the server does not answer: the test says it skipped, or fails under
/// `ICSRANGE_REQUIRE_PEERS`.
pub async fn fresh_postgres(name: &str) -> Option<String> {
    let admin = std::env::var("ICSRANGE_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_string());
    sqlx_admin(&admin, name).await
}

/// Whether anything listens at a database URL's host and port: a refused connection is known
/// at once, where the pool would wait 30 s for it.
pub fn listening(url: &str) -> bool {
    use std::net::ToSocketAddrs;
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let rest = rest.rsplit_once('@').map_or(rest, |(_, r)| r);
    let host = rest.split(['/', '?']).next().unwrap_or(rest);
    let host = if host.contains(':') { host.to_string() } else { format!("{host}:5432") };
    host.to_socket_addrs()
        .into_iter()
        .flatten()
        .any(|a| std::net::TcpStream::connect_timeout(&a, std::time::Duration::from_secs(2)).is_ok())
}

/// Runs every future to its end, concurrently.
async fn futures_join_all<F: Future + Send + 'static>(fs: impl Iterator<Item = F>) -> Vec<F::Output>
where
    F::Output: Send + 'static,
{
    let handles: Vec<_> = fs.map(tokio::spawn).collect();
    let mut out = Vec::new();
    for h in handles {
        out.push(h.await.unwrap());
    }
    out
}

async fn sqlx_admin(admin: &str, name: &str) -> Option<String> {
    let opened = if listening(admin) {
        Store::open(admin).await.map_err(|e| e.to_string())
    } else {
        Err("nothing listens there".to_string())
    };
    let store = match opened {
        Ok(s) => s,
        Err(e) if std::env::var_os("ICSRANGE_REQUIRE_PEERS").is_some() => {
            panic!("ICSRANGE_REQUIRE_PEERS is set but PostgreSQL at {admin} does not answer: {e}")
        }
        Err(e) => {
            // On the real stderr: a bare `cargo test` shows it.
            use std::io::Write;
            let _ = writeln!(std::io::stderr(), "skipped: PostgreSQL at {admin} does not answer: {e}");
            return None;
        }
    };
    let db = format!("icsrange_{name}_{}", std::process::id());
    store.exec_admin(&format!("DROP DATABASE IF EXISTS {db}")).await.expect("drop");
    store.exec_admin(&format!("CREATE DATABASE {db}")).await.expect("create");
    store.close().await;
    let base = admin.rsplit_once('/').map_or(admin, |(b, _)| b);
    Some(format!("{base}/{db}"))
}

async fn exercise_store(url: &str) {
    let s = Store::open(url).await.expect("open");
    // Opening twice applies nothing twice.
    let s2 = Store::open(url).await.expect("reopen");
    s2.close().await;
    s.create_org(&Org { id: "o1".into(), name: "JPCERT".into(), country: "JP".into(), kind: OrgKind::Host })
        .await
        .unwrap();
    let u = User {
        id: "u1".into(),
        name: "alice".into(),
        org: Some("o1".into()),
        hash: "$argon2id$...".into(),
        admin: false,
        staff: true,
        disabled: false,
    };
    s.create_user(&u, 100).await.unwrap();
    assert!(matches!(s.create_user(&u, 100).await, Err(store::Error::Conflict)));
    assert_eq!(s.user_by_name("alice").await.unwrap().as_ref(), Some(&u));
    s.create_session("h1", "u1", "csrf1", 200).await.unwrap();
    assert_eq!(
        s.session("h1", 150).await.unwrap().map(|(u, c)| (u.name, c)),
        Some(("alice".into(), "csrf1".into()))
    );
    assert!(s.session("h1", 200).await.unwrap().is_none(), "expired at 200");
    s.set_disabled("u1", true).await.unwrap();
    assert!(s.session("h1", 150).await.unwrap().is_none(), "a disabled user has no session");
    s.set_disabled("u1", false).await.unwrap();
    let run = Run {
        id: "r1".into(),
        name: "Week 1".into(),
        exercise: "ukraine2015".into(),
        exercise_text: "id: x\n".into(),
        files: "{}".into(),
        seed: 7,
        speed: 1.0,
        status: RunStatus::Draft,
        start_ms: 123_456_789,
        created_by: "u1".into(),
        rules: Run::RULES,
    };
    s.create_run(&run, 101).await.unwrap();
    assert_eq!(s.run("r1").await.unwrap().as_ref(), Some(&run));
    assert_eq!(s.staff_role("r1", "u1").await.unwrap(), Some(StaffRole::Instructor));
    s.create_team(&Team {
        id: "t1".into(),
        run: "r1".into(),
        name: "Blue".into(),
        base: "127.10.0.0".into(),
    })
    .await
    .unwrap();
    s.create_team(&Team { id: "t2".into(), run: "r1".into(), name: "Red".into(), base: "127.11.0.0".into() })
        .await
        .unwrap();
    assert_eq!(s.bases_in_use().await.unwrap().len(), 2);
    let bob = User { id: "u2".into(), name: "bob".into(), staff: false, ..u.clone() };
    s.create_user(&bob, 100).await.unwrap();
    s.add_member("r1", "t1", "u2", TeamRole::Lead).await.unwrap();
    assert!(
        matches!(s.add_member("r1", "t2", "u2", TeamRole::Lead).await, Err(store::Error::Conflict)),
        "one team per run"
    );
    assert_eq!(s.membership("r1", "u2").await.unwrap(), Some(("t1".into(), TeamRole::Lead)));
    let lines: Vec<InputLine> =
        (0..3).map(|i| InputLine { seq: i * 5, t_us: i * 1000, line: format!("{{\"n\":{i}}}") }).collect();
    s.append_inputs("t1", &lines[..2]).await.unwrap();
    // A batch with one conflicting line leaves nothing of itself.
    assert!(s.append_inputs("t1", &[lines[2].clone(), lines[0].clone()]).await.is_err());
    assert_eq!(s.inputs("t1").await.unwrap(), lines[..2].to_vec());
    s.append_inputs("t1", &lines[2..]).await.unwrap();
    assert_eq!(s.inputs("t1").await.unwrap(), lines);
    // Broadcasts are numbered per run from 1.
    assert_eq!(s.add_message("r1", "ines", "Phones are down", 300).await.unwrap(), 1);
    assert_eq!(s.add_message("r1", "ines", "Crews are on their way", 301).await.unwrap(), 2);
    let m = s.messages("r1", 1).await.unwrap();
    assert_eq!((m.len(), m[0].seq, m[0].body.as_str()), (1, 2, "Crews are on their way"));
    // Invitations: a trainee joins a team, an observer the staff; parts name both.
    for (hash, role, team) in [("i1", RunRole::Trainee, Some("t2")), ("i2", RunRole::Observer, None)] {
        let inv = Invite {
            run: "r1".into(),
            role,
            team: team.map(Into::into),
            team_role: TeamRole::Analyst,
            expires: 500,
        };
        s.create_invite(hash, &inv).await.unwrap();
        assert_eq!(s.invite(hash, 400).await.unwrap().as_ref(), Some(&inv));
        let who = User { id: format!("u-{hash}"), name: format!("n-{hash}"), staff: false, ..u.clone() };
        assert_eq!(s.accept_invite(hash, 400, &who, None).await.unwrap(), Some(inv));
        assert_eq!(s.accept_invite(hash, 400, &who, None).await.unwrap(), None, "used once");
    }
    assert_eq!(s.membership("r1", "u-i1").await.unwrap(), Some(("t2".into(), TeamRole::Analyst)));
    assert_eq!(s.staff_role("r1", "u-i2").await.unwrap(), Some(StaffRole::Observer));
    assert_eq!(s.parts("u-i1").await.unwrap(), vec![("r1".into(), RunRole::Trainee, Some("t2".into()))]);
    assert_eq!(s.parts("u1").await.unwrap(), vec![("r1".into(), RunRole::Instructor, None)]);
    assert_eq!(
        s.members("t2").await.unwrap(),
        vec![("u-i1".to_string(), "n-i1".to_string(), TeamRole::Analyst)]
    );
    assert_eq!(s.orgs().await.unwrap()[0].kind, OrgKind::Host);
    s.set_run_status("r1", RunStatus::Running, 10.0).await.unwrap();
    let r = s.run("r1").await.unwrap().unwrap();
    assert_eq!((r.status, r.speed), (RunStatus::Running, 10.0));
    // The words are stored as text, as they always were.
    s.exec_admin("UPDATE runs SET status = 'ended' WHERE id = 'r1'").await.unwrap();
    assert_eq!(s.run("r1").await.unwrap().map(|r| r.status), Some(RunStatus::Ended));
    assert_eq!(s.bases_in_use().await.unwrap().len(), 2, "held until the listeners are closed");
    s.release_blocks("r1").await.unwrap();
    assert!(s.bases_in_use().await.unwrap().is_empty(), "an ended run holds no address block");
    // One block, one team: eight concurrent creations of teams on one block, one wins (M2).
    let s2 = s.clone();
    s2.create_run(&Run { id: "r2".into(), status: RunStatus::Draft, ..run.clone() }, 102).await.unwrap();
    let tries = (0..8).map(|k| {
        let s = s2.clone();
        async move {
            let t = Team {
                id: format!("race{k}"),
                run: "r2".into(),
                name: format!("T{k}"),
                base: "127.20.0.0".into(),
            };
            s.create_team(&t).await
        }
    });
    let won: Vec<_> = futures_join_all(tries).await;
    assert_eq!(won.iter().filter(|r| r.is_ok()).count(), 1, "{won:?}");
    assert!(won.iter().all(|r| r.is_ok() || matches!(r, Err(store::Error::Conflict))));
    let winner = won.iter().position(|r| r.is_ok()).unwrap();
    assert_eq!(s.blocks().await.unwrap().len(), 1);
    // Deleting the team gives its block back; deleting the draft run leaves nothing of it.
    s.delete_team(&format!("race{winner}")).await.unwrap();
    assert!(s.bases_in_use().await.unwrap().is_empty());
    s.create_team(&Team { id: "t9".into(), run: "r2".into(), name: "Z".into(), base: "127.20.0.0".into() })
        .await
        .unwrap();
    assert_eq!(s.open_runs_by("u1").await.unwrap(), 1, "r1 has ended");
    s.delete_run("r2").await.unwrap();
    assert!(s.run("r2").await.unwrap().is_none() && s.team("t9").await.unwrap().is_none());
    assert!(s.bases_in_use().await.unwrap().is_empty());
    // An invitation naming a new organisation whose name is taken changes nothing (L4).
    let inv = Invite {
        run: "r1".into(),
        role: RunRole::Observer,
        team: None,
        team_role: TeamRole::Lead,
        expires: 500,
    };
    s.create_invite("i3", &inv).await.unwrap();
    let who =
        User { id: "u-i3".into(), name: "n-i3".into(), staff: false, org: Some("o-new".into()), ..u.clone() };
    let taken = Org {
        id: "o-new".into(),
        name: s.orgs().await.unwrap()[0].name.clone(),
        country: "JP".into(),
        kind: OrgKind::Participant,
    };
    assert!(matches!(s.accept_invite("i3", 400, &who, Some(&taken)).await, Err(store::Error::Conflict)));
    assert!(s.user("u-i3").await.unwrap().is_none());
    assert_eq!(s.invite("i3", 400).await.unwrap(), Some(inv.clone()), "still valid");
    let fresh = Org { id: "o-new".into(), name: "Fresh Org".into(), ..taken };
    assert_eq!(s.accept_invite("i3", 400, &who, Some(&fresh)).await.unwrap(), Some(inv));
    assert_eq!(s.user("u-i3").await.unwrap().and_then(|u| u.org), Some("o-new".to_string()));
    // A word this build does not know is an error, not a panic.
    s.exec_admin("UPDATE runs SET status = 'archived' WHERE id = 'r1'").await.unwrap();
    assert!(matches!(s.run("r1").await, Err(store::Error::Value(_))));
    assert!(matches!(s.runs().await, Err(store::Error::Value(_))));
    s.close().await;
}

#[tokio::test]
async fn sqlite_file() {
    let dir = std::env::temp_dir().join(format!("icsrange-store-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.join("t.db").display());
    exercise_store(&url).await;
    // WAL mode, on the file itself.
    assert!(dir.join("t.db-wal").exists() || dir.join("t.db").exists());
    let s = Store::open(&url).await.unwrap();
    assert_eq!(s.pragma_journal_mode().await.unwrap(), "wal");
    s.close().await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn postgres_server() {
    let Some(url) = fresh_postgres("store").await else { return };
    exercise_store(&url).await;
}
