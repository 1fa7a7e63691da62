//! Accounts made from the command line (`icsrange admin create`) and the demo's run.

use range::journal::{Action, Actor};

use crate::{App, auth, platform};

/// A new account with a generated password (printed once by the caller).
pub async fn create_user(app: &App, name: &str, admin: bool, staff: bool) -> Result<String, String> {
    let password = auth::new_password();
    let user = store::User {
        id: auth::token(8),
        name: name.to_string(),
        org: None,
        hash: auth::hash_password(&password),
        admin,
        staff,
        disabled: false,
    };
    app.store.create_user(&user, crate::now_s()).await.map_err(|e| match e {
        store::Error::Conflict => format!("an account named `{name}` exists already"),
        e => e.to_string(),
    })?;
    Ok(password)
}

/// Who the demo made, to print.
#[derive(Debug)]
pub struct Demo {
    pub run: String,
    /// (what, name, password, page)
    pub accounts: Vec<(String, String, String, String)>,
    /// The pace it runs at.
    pub speed: f64,
}

/// One run of Ukraine 2015 with two teams, an instructor and one trainee per team, started.
pub async fn demo(app: &App, speed: Option<f64>) -> Result<Demo, String> {
    let e = |e: store::Error| e.to_string();
    // Names free in this database (a second demo in the same folder gets its own).
    let suffix = if app.store.user_by_name("instructor").await.map_err(e)?.is_some() {
        format!("-{}", &auth::token(2))
    } else {
        String::new()
    };
    let instructor = format!("instructor{suffix}");
    let ipw = create_user(app, &instructor, false, true).await?;
    let iid = app.store.user_by_name(&instructor).await.map_err(e)?.ok_or("no instructor")?.id;
    let text = exercise::catalogue::exercise("ukraine2015").ok_or("no built-in ukraine2015")?;
    // The exercise's own compression unless a pace was asked for.
    let compression = exercise::load(text, &exercise::catalogue::Builtin)
        .map_err(|_| "the built-in ukraine2015 does not load")?
        .time_compression;
    let speed = speed.unwrap_or(compression);
    let run = store::Run {
        id: auth::token(8),
        name: format!("Ukraine 2015 demo{suffix}"),
        exercise: "ukraine2015".into(),
        exercise_text: text.to_string(),
        files: "{}".into(),
        seed: 1,
        speed,
        status: "draft".into(),
        start_ms: (crate::now_s() * 1000 - devices::recloser::DNP3_EPOCH_OFFSET_MS as i64).max(0),
        created_by: iid,
    };
    app.store.create_run(&run, crate::now_s()).await.map_err(e)?;
    let mut accounts = vec![("instructor".to_string(), instructor, ipw, format!("/runs/{}", run.id))];
    let mut teams = Vec::new();
    for name in ["Blue", "Red"] {
        let base = platform::free_base(app).await.map_err(|_| "no free address block".to_string())?;
        let team = store::Team {
            id: auth::token(8),
            run: run.id.clone(),
            name: name.into(),
            base: base.to_string(),
        };
        app.store.create_team(&team).await.map_err(e)?;
        let trainee = format!("{}1{suffix}", name.to_lowercase());
        let pw = create_user(app, &trainee, false, false).await?;
        let uid = app.store.user_by_name(&trainee).await.map_err(e)?.ok_or("no trainee")?.id;
        app.store.add_member(&run.id, &team.id, &uid, "lead").await.map_err(e)?;
        accounts.push((format!("trainee, team {name}"), trainee, pw, format!("/teams/{}", team.id)));
        teams.push(team);
    }
    for team in &teams {
        let tr = platform::start_team(app, &run, team, &[], false).await?;
        tr.act(Actor::Instructor { name: "demo".into() }, Action::Resume)
            .await
            .map_err(|_| "the run did not start")?;
    }
    app.store.set_run_status(&run.id, "running", speed).await.map_err(e)?;
    Ok(Demo { run: run.id, accounts, speed })
}
