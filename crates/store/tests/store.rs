//! The store against a real SQLite file and a real PostgreSQL server (127.0.0.1:5432, or
//! `ICSRANGE_TEST_POSTGRES`): the same calls, the same answers. PostgreSQL missing is a
//! failure, not a skip.
#![allow(clippy::unwrap_used)] // Tests: a panic is the failure report.

use store::{InputLine, Org, Run, Store, Team, User};

/// A fresh PostgreSQL database for one test; dropped by the next run of the same name.
pub async fn fresh_postgres(name: &str) -> String {
    let admin = std::env::var("ICSRANGE_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_string());
    sqlx_admin(&admin, name).await
}

async fn sqlx_admin(admin: &str, name: &str) -> String {
    let store = Store::open(admin).await.unwrap_or_else(|e| panic!("PostgreSQL at {admin}: {e}"));
    let db = format!("icsrange_{name}_{}", std::process::id());
    store.exec_admin(&format!("DROP DATABASE IF EXISTS {db}")).await.expect("drop");
    store.exec_admin(&format!("CREATE DATABASE {db}")).await.expect("create");
    store.close().await;
    let base = admin.rsplit_once('/').map_or(admin, |(b, _)| b);
    format!("{base}/{db}")
}

async fn exercise_store(url: &str) {
    let s = Store::open(url).await.expect("open");
    // Opening twice applies nothing twice.
    let s2 = Store::open(url).await.expect("reopen");
    s2.close().await;
    s.create_org(&Org { id: "o1".into(), name: "JPCERT".into(), country: "JP".into(), kind: "host".into() })
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
        status: "draft".into(),
        start_ms: 123_456_789,
        created_by: "u1".into(),
    };
    s.create_run(&run, 101).await.unwrap();
    assert_eq!(s.run("r1").await.unwrap().as_ref(), Some(&run));
    assert_eq!(s.staff_role("r1", "u1").await.unwrap().as_deref(), Some("instructor"));
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
    s.add_member("r1", "t1", "u2", "lead").await.unwrap();
    assert!(
        matches!(s.add_member("r1", "t2", "u2", "lead").await, Err(store::Error::Conflict)),
        "one team per run"
    );
    assert_eq!(s.membership("r1", "u2").await.unwrap(), Some(("t1".into(), "lead".into())));
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
    s.set_run_status("r1", "running", 10.0).await.unwrap();
    let r = s.run("r1").await.unwrap().unwrap();
    assert_eq!((r.status.as_str(), r.speed), ("running", 10.0));
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
    let url = fresh_postgres("store").await;
    exercise_store(&url).await;
}
